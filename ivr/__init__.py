"""The dial-in service: its call flow, the AGI adaptor, and the composition root.

- ``ivr.flow``: the call flow (states, entries, caller ID, ports, outcomes); no AGI, no Redis.
- ``ivr.agi_channel``: the flow's Channel port spoken as AGI commands (``agi/``).
- ``ivr.app``: settings, ``ivrctl``, serve, stack: what wires flow, adaptor and libraries.
"""
