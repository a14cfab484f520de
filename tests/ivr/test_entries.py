import pytest

from ivr.flow.entries import (
    CONFIRM,
    MENU,
    PASSWORD,
    TARGET,
    Strike,
    judge_confirm,
    judge_menu,
    judge_password,
    judge_target,
)
from ivr.flow.ports import Digits, Keyed, Sound
from ivr.flow.timing import Timing
from sounds.catalog import Prompt
from store.types import Unit
from tests.ivr.fakes import key, pound, timer


@pytest.mark.parametrize(
    ("k", "unit"), [("1", Unit.LINE), ("2", Unit.NUMBER), ("3", Unit.ADMIN_USER)]
)
def test_menu_keys_choose(k: str, unit: Unit) -> None:
    assert judge_menu(key(k)) is unit


@pytest.mark.parametrize("keyed", [key("0"), key("4"), key("9"), key("*"), pound("")])
def test_menu_other_keys_strike(keyed: Keyed) -> None:
    assert judge_menu(keyed) is Strike.INVALID_KEY


def test_menu_no_key_is_no_input() -> None:
    assert judge_menu(timer()) is Strike.NO_INPUT
    assert judge_menu(Keyed("")) is Strike.NO_INPUT


@pytest.mark.parametrize("keyed", [pound("0664806001"), timer("0664806001")])
def test_target_ends_with_pound_or_timer(keyed: Keyed) -> None:
    assert judge_target(keyed) is None


@pytest.mark.parametrize(
    ("keyed", "strike"),
    [
        (timer(), Strike.NO_INPUT),
        (pound(""), Strike.BAD_LENGTH),
        (pound("066*4806001"), Strike.INVALID_KEY),
        (timer("*"), Strike.INVALID_KEY),
        (key("1" * 16), Strike.BAD_LENGTH),  # ran into the cap
    ],
)
def test_target_strikes(keyed: Keyed, strike: Strike) -> None:
    assert judge_target(keyed) is strike


def test_password_exactly_eight_digits() -> None:
    assert judge_password(key("12345678")) is None


@pytest.mark.parametrize(
    ("keyed", "strike"),
    [
        (timer(), Strike.NO_INPUT),
        (pound("1234"), Strike.BAD_LENGTH),
        (pound(""), Strike.BAD_LENGTH),
        (timer("1234567"), Strike.BAD_LENGTH),
        (key("1234*678"), Strike.INVALID_KEY),
        (timer("12*"), Strike.INVALID_KEY),
    ],
)
def test_password_strikes(keyed: Keyed, strike: Strike) -> None:
    assert judge_password(keyed) is strike


def test_confirmation() -> None:
    assert judge_confirm("12345678", key("12345678")) is None
    assert judge_confirm("12345678", key("12345679")) is Strike.MISMATCH
    assert judge_confirm("12345678", pound("1234")) is Strike.BAD_LENGTH


def test_declarations() -> None:
    assert (MENU.max_digits, TARGET.max_digits) == (1, 16)
    assert PASSWORD.max_digits == CONFIRM.max_digits == 8


def test_timed_takes_the_running_timing() -> None:
    timed = PASSWORD.timed(Timing(first_key_s=7, inter_key_s=2, tries=4))
    assert (timed.first_key_s, timed.inter_key_s, timed.tries) == (7, 2, 4)
    assert timed.prompt == PASSWORD.prompt


def test_prompts_read_target_and_prefix_invalid_after_strike() -> None:
    intro, ask = Sound(Prompt.PASSWORD_INTRO), Sound(Prompt.ASK_PASSWORD)
    assert PASSWORD.prompts("0664806001", after_strike=False) == [Digits("0664806001"), intro, ask]
    assert PASSWORD.prompts("0664806001", after_strike=True) == [
        Sound(Prompt.INVALID),
        Digits("0664806001"),
        intro,
        ask,
    ]
    assert MENU.prompts(None, after_strike=False) == [Sound(Prompt.UNIT_MENU)]
