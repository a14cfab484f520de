"""The realistic mix: its classes as planned, the verdicts on made-up calls, and one short
mix through a real stack (every class at once) in which every class behaves as it must."""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks import mix
from benchmarks import mix_classes as mc
from ivr.flow.calllog import CallEnd

PW = "24681357"


def test_shares_are_normalised_and_calls_split_to_the_total() -> None:
    shares = mc.parse_shares("unit1=2,refused=1,info=1,inband=0")
    assert shares == {"unit1": 0.5, "refused": 0.25, "info": 0.25}
    assert mc.split_calls(10, shares) == {"unit1": 5, "refused": 3, "info": 2}
    assert sum(mc.split_calls(35, mc.parse_shares(mc.DEFAULT_SHARES)).values()) == 35
    assert min(mc.split_calls(7, mc.parse_shares(mc.DEFAULT_SHARES)).values()) == 1
    with pytest.raises(ValueError):
        mc.parse_shares("unit4=1")


def test_each_class_keys_and_imports_what_its_callers_do() -> None:
    plans = mc.build(dict.fromkeys(mc.CLASSES, 2), PW)
    u2, u3, refused = plans["unit2"], plans["unit3"], plans["refused"]
    line, extra = u2.lines[0][1], u2.lines[1][1]
    assert u2.callers[0] == line and u2.targets[line] == extra and u2.untouched[line] == line
    keyed = "".join(k.key for k in u2.keys[line])
    assert keyed == "2" + extra + "#" + PW + PW and u2.per_call
    caller3 = u3.callers[0]
    assert u3.targets[caller3] == caller3 and u3.untouched[caller3] == u3.lines[0][1]
    assert "".join(k.key for k in u3.keys[caller3]) == "3" + PW + PW and not u3.per_call
    mistyped = "".join(k.key for k in plans["mistype"].keys[plans["mistype"].callers[0]])
    assert mistyped == "1" + PW + mc.wrong(PW) + PW + PW and mc.wrong(PW) != PW
    assert refused.lines == [] and set(refused.callers) <= set(mc.numbers_used(plans))
    assert (plans["inband"].keys_as, plans["info"].keys_as) == ("inband", "info-dtmf-relay")
    numbers = mc.numbers_used(plans)
    assert len(numbers) == len(set(numbers)) == 2 * 2 * 2 + 5 * 2


def _end(caller, target, unit, strikes=(), outcome="set", refused=None) -> mc.Observed:
    end = CallEnd(call_id="c", caller=caller, did="0664806430", unit=unit, target=target,
                  outcome=outcome, step="done", strikes=len(strikes), duration_ms=1,
                  answered=refused is None)  # fmt: skip
    return mc.Observed(end, tuple(strikes), refused)


def test_the_verdicts_catch_a_class_that_misbehaves() -> None:
    plans = mc.build({"unit2": 1, "mistype": 1, "refused": 1}, PW)
    u2, mis, ref = plans["unit2"], plans["mistype"], plans["refused"]
    a, b = u2.lines[0][1], u2.lines[1][1]
    assert mc.check(u2, [_end(a, b, "number")], {b: "ok", a: "none"}) == []
    assert mc.check(u2, [_end(a, a, "number")], {a: "ok"})  # the wrong target set
    assert mc.check(u2, [_end(a, b, "number")], {b: "ok", a: "ok"})  # the line set too
    assert mc.check(u2, [], {})  # no call.end at all
    m = mis.callers[0]
    one_strike = [("password", "mismatch")]
    assert mc.check(mis, [_end(m, m, "line", one_strike)], {m: "ok"}) == []
    assert mc.check(mis, [_end(m, m, "line")], {m: "ok"})  # the mismatch went unseen
    assert mc.check(mis, [_end(m, m, "line", one_strike)], {m: "wrong"})
    r = ref.callers[0]
    refusal = _end(r, r, "", outcome="rejected_not_subscribed", refused=403)
    assert mc.check(ref, [refusal], {r: "none"}) == []
    assert mc.check(ref, [replace(refusal, refused=503)], {r: "none"})


@pytest.mark.e2e
def test_a_short_mix_every_class_behaves_as_its_class_should() -> None:
    """35 calls at 5/s through one stack: ~1 minute with the stack's start and stop."""
    counts = mc.split_calls(35, mc.parse_shares(mc.DEFAULT_SHARES))
    with mix.running_stack("a") as settings:
        result = mix.measure(settings, counts, 5.0)
    problems = {n: c.problems for n, c in result.classes.items() if c.problems}
    assert problems == {}
    for name, c in result.classes.items():
        n = len(c.plan.callers)
        assert c.load.calls == n == counts[name]
        outcomes = c.load.outcomes
        if name == "refused":
            assert [t.refused for t in c.load.run.calls.values()] == [403] * n
            assert outcomes == {"rejected_not_subscribed": n} and not c.load.verified
        else:
            assert outcomes == {"set": n}
            assert list(c.load.verified.values()) == ["ok"] * n
            assert len(c.load.completion_delays()) == n
    # each mistype's one password/mismatch strike is checked by mix_classes.check (problems
    # above is empty); its call.end is at `done`, with no strike left at that step
    mistypes = result.classes["mistype"].load.ends.values()
    assert {(e.outcome, e.step, e.strikes) for e in mistypes} == {("set", "done", 0)}
    per_call = result.cpu_ms_per_call()
    assert per_call["asterisk"] > 0 and per_call["agi"] > 0 and per_call["sipp"] > 0
    table = mix.table(result, {})
    assert "| **whole mix** | 100% | 5/s | 35 | 33 | 33 | 33 | 403: 2 |" in table
