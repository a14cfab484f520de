"""The login service: the settings site's login and password change over HTTP/JSON.

Any web site calls it (docs/api.md); it keeps the real password beside the temporary one
in the credential store (`store/`), and imports nothing of the IVR.
"""
