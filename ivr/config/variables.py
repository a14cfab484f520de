"""Channel-variable and account names shared by the adaptor, the wiring and the dialplan.

One place for each name, so the dialplan (rendered from dialplan/templates) and the Python
side cannot drift apart.
"""

from __future__ import annotations

KEYS = "IVRKEYS"  # where Read() leaves an entry's keys (read back at once, never logged)
READ_STATUS = "READSTATUS"  # Asterisk's own: OK, TIMEOUT, HANGUP, ...
OUTCOME = "IVR_OUTCOME"  # set to OUTCOME_ERROR when the handler fails: the dialplan apologises
OUTCOME_ERROR = "error_internal"
REFUSE_STATUS = "IVR_REFUSE"  # a refusal before the answer: the final SIP status to send
AGI_BUSY = "IVR_AGI_BUSY"  # set by a FastAGI server refusing the call at IVR_AGI_MAX_CALLS
CALL_END_SCRIPT = "call-end"  # the hangup handler's report of a call the flow never saw
AGI_LOST = "LOST"  # the hangup handler's "main AGI status" when its server vanished mid-call
DID = "IVR_DID"  # the number dialled, set by the dialplan (an entry's Exten is "s")
STEP = "IVR_STEP"  # the call's current step, for operators (AMI channelvars); never keys
AMI_USER = "ivr"  # the manager account ivrctl calls live logs in with (manager.conf)
