"""The seed's password rules, one reason each, in both regions (pure: no I/O)."""

from __future__ import annotations

import pytest

from login.rules import MESSAGES, Reason, check

NUMBER, CONTRACT = "0664806001", "0664806000"


def reasons(new: str, *, again: str | None = None, current: str = "48213957",
            region: str | None = "west") -> list[str]:  # fmt: skip
    found = check(new, new if again is None else again, current=current,
                  numbers=[NUMBER, CONTRACT], region=region)  # fmt: skip
    return [r.value for r in found]


@pytest.mark.parametrize("region", ["west", "east", None])
@pytest.mark.parametrize("good", ["Pw7kQ2xZ", "a1b2c3d4", "9z8y7x6w5v4u", "Ab3Ab3Ab"])
def test_good_passwords_pass_in_every_region(region, good):
    assert reasons(good, region=region) == []


@pytest.mark.parametrize(
    "new,reason",
    [
        ("Pw7kQ2x", "length"),  # 7
        ("Pw7kQ2xZa1b2c", "length"),  # 13
        ("Pw7kQ2x-", "charset"),
        ("Pw7kQ2ｘZ", "charset"),  # a full-width letter
        ("Pw7kQ 2x", "charset"),
        ("Pw7k0000", "repeated"),
        ("PwaaaaQ2", "repeated"),
        ("PwAaAaQ2", "repeated"),  # without case
        ("Pw1234Qz", "sequence"),
        ("Pw9876Qz", "sequence"),
        ("abcdQ2x9", "sequence"),
        ("Q2xZYXW9", "sequence"),  # descending letters, upper case
        ("aBcD5x9z", "sequence"),  # without case
        ("p" + NUMBER + "z", "contains_number"),
        ("x" + CONTRACT + "y", "contains_number"),  # the contract's number too
    ],
)
def test_each_rule_alone_with_its_reason(new, reason):
    assert reasons(new) == [reason]
    assert reasons(new, region="east") == [reason]


def test_runs_stop_at_class_boundaries_and_do_not_wrap():
    assert reasons("Pw789aQz") == []  # 7-8-9 then a letter
    assert reasons("Pw9012Qz") == []  # no wrap from 9 to 0
    assert reasons("Pmxyz1Qa") == []  # three only
    assert reasons("Pw000Q00") == []  # three, then two


def test_digits_only_is_refused_everywhere_letters_only_in_the_west():
    assert reasons("48213958", region="east") == ["digits_only"]
    assert reasons("48213958", region="west") == ["digits_only"]
    assert reasons("pqxmzrtw", region="west") == ["letters_only"]
    assert reasons("pqxmzrtw", region="east") == []
    assert reasons("pqxmzrtw", region=None) == ["letters_only"]  # unknown: the stricter rules


def test_not_the_current_password_and_keyed_twice_alike():
    assert reasons("Pw7kQ2xZ", current="Pw7kQ2xZ") == ["same_as_current"]
    assert reasons("Pw7kQ2xZ", again="Pw7kQ2xz") == ["mismatch"]


def test_every_broken_rule_is_listed_in_order():
    assert reasons("1234", again="1235", current="1234") == [
        "mismatch", "length", "digits_only", "same_as_current", "sequence"
    ]  # fmt: skip


def test_every_reason_has_a_japanese_message():
    assert set(MESSAGES) == set(Reason)
    assert all(any("\u3040" <= ch <= "\u30ff" for ch in text) for text in MESSAGES.values())
