import pytest

from ivr.flow.callerid import CallerId, Withheld, normalise


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("0664806430", "0664806430"),
        ("+81664806430", "0664806430"),
        ("+81-6-6480-6430", "0664806430"),
        ("+81 (0)6 6480 6430", "0664806430"),
        ("06-6480-6430", "0664806430"),
        ("(03) 6304 4747", "0363044747"),
        (" 09012345678 ", "09012345678"),
        ("+14155550100", "+14155550100"),  # a caller, just not one of ours
    ],
)
def test_numbers_are_normalised(raw: str, number: str) -> None:
    assert normalise(raw) == CallerId(number)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, Withheld.MISSING),
        ("", Withheld.MISSING),
        ("   ", Withheld.MISSING),
        ('""', Withheld.MISSING),
        ("anonymous", Withheld.ANONYMOUS),
        ("Anonymous", Withheld.ANONYMOUS),
        ("unavailable", Withheld.ANONYMOUS),
        ("unknown", Withheld.ANONYMOUS),
        ("<unknown>", Withheld.ANONYMOUS),
        ("abc123", Withheld.NON_NUMERIC),
        ("06*6480", Withheld.NON_NUMERIC),
        ("+", Withheld.NON_NUMERIC),
        ("+81", Withheld.NON_NUMERIC),
        ("1" * 25, Withheld.NON_NUMERIC),
    ],
)
def test_withheld(raw: str | None, reason: Withheld) -> None:
    assert normalise(raw) == CallerId(None, reason)
