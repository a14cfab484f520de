"""The callers of a realistic mix: who each class is, what it keys, and what must follow.

Every class draws its subscribers from the reserved test range (ivr.tools.plan), each in a
block of its own, so its `call.end` lines and store records are its own:
  unit1     a contract's own line keys 1, the password, the password (sets its own number)
  unit2     a contract's line keys 2, the contract's additional number and `#`, the password
            twice: the additional number's password is set, the line's is not
  unit3     an additional number keys 3 and the password twice (its own, as the user)
  mistype   unit 1 with a wrong confirmation (one `mismatch` strike), then the right pair
  refused   a number in the range that the directory does not hold: 403 before answer
  inband    unit 1 as in-band tones, no telephone-event offered (Asterisk's tone detector)
  info      unit 1 as SIP INFO (application/dtmf-relay)
Why unit 2 is one SIPp per call: its keys name the target, which differs per caller, and a
SIPp load plays one capture for every call (loadgen.scenario); every other class keys the
same for every call and runs as one SIPp load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ivr.flow.calllog import CallEnd
from ivr.tools import plan
from ivr.tools.plan import ENTRY_GAP_S
from loadgen.rtp_pcap import KeyPress

CLASSES = ("unit1", "unit2", "unit3", "mistype", "refused", "inband", "info")
DEFAULT_SHARES = "unit1=50,unit2=10,unit3=10,mistype=10,refused=5,inband=5,info=10"
UNITS = {"unit1": "line", "unit2": "number", "unit3": "admin_user"}
TONE_MS = 70  # in-band: 70 ms tones at the plan's 250 ms key gap (ITU-T Q.24 allows 40)


def parse_shares(text: str) -> dict[str, float]:
    """`unit1=50,refused=5,...`: weights (normalised to 1); classes left out get none."""
    shares: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name not in CLASSES:
            raise ValueError(f"--shares takes NAME=WEIGHT of {', '.join(CLASSES)}, not {part!r}")
        shares[name] = float(value)
    if any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0:
        raise ValueError("--shares must have a positive weight")
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items() if v > 0}


def split_calls(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Calls per class, summing to ``total`` (largest remainders), each share at least one."""
    raw = {k: total * s for k, s in shares.items()}
    counts = {k: max(1, int(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - int(raw[k]), reverse=True):
        if sum(counts.values()) >= total:
            break
        counts[k] += 1
    return counts


@dataclass
class ClassPlan:
    """One class's calls: callers, directory rows, what each keys and what it must leave."""

    name: str
    callers: list[str]
    lines: list[tuple[str, str]] = field(default_factory=list)  # (contract, number) to import
    targets: dict[str, str] = field(default_factory=dict)  # caller -> number set
    untouched: dict[str, str] = field(default_factory=dict)  # caller -> number left unset
    keys: dict[str, list[KeyPress]] = field(default_factory=dict)  # caller -> schedule
    keys_as: str = "rfc4733"
    strikes: tuple[tuple[str, str], ...] = ()

    @property
    def per_call(self) -> bool:
        """Keys differ per caller: one SIPp per call (else one load for the class)."""
        return len({tuple(k) for k in self.keys.values()}) > 1

    @property
    def refused(self) -> bool:
        return self.name == "refused"

    @property
    def unit(self) -> str | None:
        return UNITS.get(self.name, None if self.refused else "line")

    @property
    def last_key_s(self) -> float:
        """When the last key is complete (an in-band key when its tone ends)."""
        last = max(k[-1].at_s for k in self.keys.values())
        return last + (TONE_MS / 1000 if self.keys_as == "inband" else 0.0)


def wrong(password: str) -> str:
    """A confirmation that differs from ``password`` in its last digit."""
    return password[:-1] + str((int(password[-1]) + 1) % 10)


def build(
    counts: dict[str, int], password: str, *, offset: int = 0, gap_s: float = ENTRY_GAP_S
) -> dict[str, ClassPlan]:
    """Each class's plan, its numbers in consecutive blocks of the range from ``offset``."""
    plans: dict[str, ClassPlan] = {}
    at = offset
    for name in (c for c in CLASSES if counts.get(c)):
        n = counts[name]
        pairs = name in ("unit2", "unit3")
        numbers = plan.test_numbers(n * (2 if pairs else 1), offset=at)
        at += len(numbers)
        p = ClassPlan(name, [])
        for i in range(n):
            if pairs:  # contract line, additional number
                line, extra = numbers[2 * i], numbers[2 * i + 1]
                p.lines += [(line, line), (line, extra)]
                caller = line if name == "unit2" else extra
                p.targets[caller], p.untouched[caller] = extra, line
            else:
                caller = numbers[i]
                if name != "refused":
                    p.lines.append((caller, caller))
                    p.targets[caller] = caller
                else:
                    p.untouched[caller] = caller
            p.callers.append(caller)
            p.keys[caller] = plan.group_schedule(_groups(name, password, p.targets), gap_s)
        p.keys_as = {"inband": "inband", "info": "info-dtmf-relay"}.get(name, "rfc4733")
        p.strikes = (("password", "mismatch"),) if name == "mistype" else ()
        plans[name] = p
    return plans


def _groups(name: str, password: str, targets: dict[str, str]) -> list[str]:
    """The entries of the class's last-added caller (``targets`` in insertion order)."""
    if name == "unit2":
        return ["2", list(targets.values())[-1] + "#", password, password]
    if name == "unit3":
        return ["3", password, password]
    if name == "mistype":
        return ["1", password, wrong(password), password, password]
    return ["1", password, password]


def numbers_used(plans: dict[str, ClassPlan]) -> list[str]:
    """Every number a mix touches (imported or refused), for the clean-up before and after."""
    out = [n for p in plans.values() for _, n in p.lines]
    return out + [c for p in plans.values() if p.refused for c in p.callers]


@dataclass(frozen=True)
class Observed:
    """What one caller's call did: its `call.end`, its strikes as (step, reason) from the
    `call.strike` lines, and the SIP refusal SIPp saw (None: answered)."""

    end: CallEnd
    strikes: tuple[tuple[str, str], ...] = ()
    refused: int | None = None


def check(p: ClassPlan, calls: Sequence[Observed], verified: dict[str, str]) -> list[str]:
    """What went against the class's expectations, one line per call at most (empty: all
    behaved)."""
    by_caller = {c.end.caller: c for c in calls}
    problems = []
    for caller in p.callers:
        c = by_caller.get(caller)
        if c is None:
            problems.append(f"{p.name}: a call has no call.end")
            continue
        if p.refused:
            if (c.refused, c.end.outcome) != (403, "rejected_not_subscribed"):
                problems.append(f"{p.name}: {c.refused} {c.end.outcome}, not 403")
        else:
            got = (c.end.outcome, c.end.unit, c.end.target == p.targets[caller])
            if got != ("set", p.unit, True):
                problems.append(f"{p.name}: ended {got[:2]}, right target {got[2]}")
            elif c.strikes != p.strikes:
                problems.append(f"{p.name}: strikes {list(c.strikes)}, not {list(p.strikes)}")
            elif verified.get(p.targets[caller]) != "ok":
                problems.append(f"{p.name}: the target's password does not verify")
        if caller in p.untouched and verified.get(p.untouched[caller]) == "ok":
            problems.append(f"{p.name}: a number that must stay unset has the password")
    return problems
