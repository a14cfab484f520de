"""What a test caller does: the reserved test range, the numbers dialled, the keys and when.

Plain values and pure functions only, so `ivrctl`'s parser can show these defaults without
loading the SIPp tools, the store or SQL (docs/benchmarks.md, "ivrctl start-up").

Numbers 0690000000-0690099999 are reserved for tests of a deployment (`ivrctl load`,
`ivrctl call`, `make run`'s demo subscribers). Never assign them to a real line: `ivrctl load`
deletes what it imported in this range, with the store's records of those numbers.
"""

from __future__ import annotations

from loadgen.rtp_pcap import KeyPress, keys_at

FIRST = 690_000_000  # 0690000000
SIZE = 100_000  # up to 0690099999
DEFAULT_DID = "0664806430"
KEY_GAP_S = 0.25
ENTRY_GAP_S = 2.5  # from one entry's last key (or the answer) to the next entry's first key
DEFAULT_KEYS = "1,24681357,24681357"  # the README's first call: unit 1, a password twice


def test_numbers(count: int, *, offset: int = 0) -> list[str]:
    """``count`` numbers of the reserved range from ``offset``."""
    if count < 1 or offset < 0 or offset + count > SIZE:
        raise ValueError(f"the test range holds {SIZE} numbers: 0690000000-0690099999")
    return [f"0{FIRST + offset + i}" for i in range(count)]


def in_range(number: str) -> bool:
    return number.isdigit() and len(number) == 10 and FIRST <= int(number) < FIRST + SIZE


DEMO_NUMBERS = test_numbers(3, offset=SIZE - 10)  # 0690099990-0690099992: make run's demo


def load_schedule(password: str, menu: str = "1", gap_s: float = ENTRY_GAP_S) -> list[KeyPress]:
    """Menu key ``gap_s`` after the answer, the password ``gap_s`` after it, then its repeat."""
    return group_schedule([menu, password, password], gap_s)


def parse_keys(text: str) -> list[str]:
    """`--keys 1,24681357,24681357`: comma-separated entries of 0-9, * and #."""
    groups = [g.strip() for g in text.split(",")]
    if not groups or any(not g or set(g) - set("0123456789*#") for g in groups):
        raise ValueError(f"--keys must be comma-separated groups of 0-9, * and #, not {text!r}")
    return groups


def group_schedule(groups: list[str], gap_s: float = ENTRY_GAP_S) -> list[KeyPress]:
    """Each entry ``gap_s`` after the previous entry's last key (or the answer)."""
    presses: list[KeyPress] = []
    at = 0.0
    for group in groups:
        start = at + gap_s
        presses += keys_at(start, group, KEY_GAP_S)
        at = start + KEY_GAP_S * (len(group) - 1)
    return presses
