"""(b) The platform's floor: Asterisk alone, the service's unit-1 dial-in as plain dialplan.

The same prompts, the same Read()s with the same timers (one Read per entry, every prompt of
the entry joined with '&', the caller's number read back as digits/N files), the same
completion message and the same call-log line, but no AGI, no caller check and no store: what
Asterisk and the callers cost by themselves. A call is "set" when the menu key is 1 and both
password entries are the same 8 digits (a lost key makes them differ or fall short); the
password itself is never written into the dialplan.
"""

from __future__ import annotations

from ivr.flow.timing import Timing

DID = "0699990001"
NUMBER_LENGTH = 10  # the reserved test range's numbers (ivr.tools.testrange): no loop needed


def dialplan(did: str = DID, *, calls_log: str = "/ivr/logs/calls.jsonl") -> str:
    """The `[bench-floor]` context and the inbound line that routes ``did`` to it."""
    t = Timing()
    digit_files = "".join(f"digits/${{N:{i}:1}}&" for i in range(NUMBER_LENGTH))
    return f"""
[tmp-password-in]
exten => {did},1,Goto(bench-floor,${{EXTEN}},1)

[bench-floor]
exten => _X.,1,Set(CHANNEL(language)=ja)
 same => n,Set(TIMEOUT(response)={t.first_key_s:g})
 same => n,Set(TIMEOUT(digit)={t.inter_key_s:g})
 same => n,Answer()
 same => n,Set(N=${{FILTER(0123456789,${{CALLERID(num)}})}})
 same => n,Set(D={digit_files})
 same => n,Read(MENU,tpw/unit_menu,1)
 same => n,Read(PW,${{D}}tpw/password_intro&tpw/ask_password,8)
 same => n,Read(PW2,tpw/ask_confirm,8)
 same => n,Set(OUT=${{IF($["${{MENU}}" = "1" & ${{LEN(${{PW}})}} = 8 & "${{PW}}" = "${{PW2}}"]?set:failed_strikes)}})
 same => n,GotoIf($["${{OUT}}" != "set"]?log)
 same => n,Playback(${{D}}tpw/done)
 same => n(log),Set(FILE({calls_log},,,al)={{"event": "call.end", "caller": "${{N}}", "outcome": "${{OUT}}", "source": "floor"}})
 same => n,Hangup()
"""  # noqa: E501
