"""Benchmark (c) without Asterisk: the installer's files and dialplan, and the AGI script's
commands through pyst2 itself (scripted replies on a fake stdin), against the service's."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import io
import json
import signal
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

from benchmarks.classic import install as inst
from ivr.config import variables as var
from ivr.config.settings import Settings
from ivr.flow import callerid
from sounds.catalog import Prompt
from store.types import Subscriber, Unit

PW = "24681357"
CALLER = "0690000000"


@pytest.fixture
def script(monkeypatch) -> ModuleType:
    """The script as a module; its `callerid` is the service's module it is a copy of."""
    monkeypatch.setitem(sys.modules, "callerid", callerid)
    spec = importlib.util.spec_from_file_location("tmp_password_agi", inst.SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclass looks itself up
    spec.loader.exec_module(module)
    saved = signal.getsignal(signal.SIGHUP)  # pyst2's AGI() installs its own
    yield module
    signal.signal(signal.SIGHUP, saved)


def test_prompts_and_variables_are_the_services(script):
    tree = ast.parse(inst.SCRIPT.read_text())
    used = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    prompt_ids = {s for s in used if isinstance(s, str) and s.startswith("tpw/")}
    assert prompt_ids <= {p.value for p in Prompt}
    assert (script.KEYS, script.READ_STATUS, script.STEP) == (var.KEYS, var.READ_STATUS, var.STEP)


class Directory:
    def __init__(self, *, line: bool = True) -> None:
        self.sub = Subscriber(CALLER, CALLER, None, True)
        self.line = line

    def lookup(self, number: str) -> Subscriber | None:
        return self.sub if number == CALLER else None

    def find_in_contract(self, contract: str, number: str) -> Subscriber | None:
        return self.sub if self.line and contract == number == CALLER else None


class Store:
    def __init__(self) -> None:
        self.sets: list[tuple] = []

    async def set_temporary(self, number, password, **kw) -> None:  # noqa: ANN001
        self.sets.append((number, password, kw))


class Limiter:
    def __init__(self) -> None:
        self.failures: list[str] = []

    async def admit(self, caller: str) -> bool:
        return True

    async def record_failure(self, caller: str) -> None:
        self.failures.append(caller)


def run_script(script, replies: list[str], *, directory=None, caller=CALLER):  # noqa: ANN001, ANN201
    """The call with pyst2 reading `replies` one per command: (outcome, commands, call)."""
    env = f"agi_callerid: {caller}\nagi_uniqueid: 17.1\nagi_extension: 0000000002\n\n"
    out = io.StringIO()
    agi = script.AGI(stdin=io.StringIO(env + "".join(r + "\n" for r in replies)), stdout=out,
                     stderr=io.StringIO())  # fmt: skip
    cfg = {"first_key_s": 10.0, "inter_key_s": 5.0, "tries": 3}
    call = script.Call(agi, cfg, directory or Directory(), asyncio.run, Store(), Limiter())
    outcome, error = script.handle(call)
    assert error is None
    return outcome, out.getvalue().splitlines(), call


OK, ZERO = "200 result=1", "200 result=0"


def read(value: str, status: str = "OK") -> list[str]:
    return [ZERO, f"200 result=1 ({value}|{status})"]


def test_a_unit_1_call_sends_the_services_commands(script):
    replies = [OK, ZERO, OK, OK, OK, *read("1"), OK, ZERO, *read(PW), ZERO, *read(PW), OK,
               ZERO, "200 result=0 endpos=1", OK]  # fmt: skip
    outcome, commands, call = run_script(script, replies)
    digits = "&".join(f"digits/{d}" for d in CALLER)
    assert outcome == "set"
    assert commands == [
        'SET VARIABLE "IVR_STEP" "caller_check"',
        "ANSWER",
        'SET VARIABLE "IVR_STEP" "menu"',
        'SET VARIABLE "TIMEOUT(response)" "10"',
        'SET VARIABLE "TIMEOUT(digit)" "5"',
        'EXEC Read "IVRKEYS,tpw/unit_menu,1"',
        'GET FULL VARIABLE "${IVRKEYS}|${READSTATUS}"',
        'SET VARIABLE "IVR_STEP" "password"',
        "WAIT FOR DIGIT 400",  # the menu ended at its one digit: keys after it are flushed
        f'EXEC Read "IVRKEYS,{digits}&tpw/password_intro&tpw/ask_password,8"',
        'GET FULL VARIABLE "${IVRKEYS}|${READSTATUS}"',
        "WAIT FOR DIGIT 400",
        'EXEC Read "IVRKEYS,tpw/ask_confirm,8"',
        'GET FULL VARIABLE "${IVRKEYS}|${READSTATUS}"',
        'SET VARIABLE "IVR_STEP" "commit"',
        f'SAY DIGITS "{CALLER}" ""',
        'STREAM FILE tpw/done "" 0',
        "HANGUP",
    ]
    assert call.store.sets == [
        (CALLER, PW, {"unit": Unit.LINE, "contract_number": CALLER, "set_by": CALLER,
                      "call_id": "17.1"}),
    ]  # fmt: skip
    assert (call.step, call.strikes, call.unit, call.target) == ("done", 0, "line", CALLER)


def test_a_wrong_confirmation_starts_the_password_again_after_invalid(script):
    replies = [OK, ZERO, OK, OK, OK, *read("1"), OK, ZERO, *read(PW), ZERO,
               *read("11112222"), ZERO, *read(PW), ZERO, *read(PW), OK, ZERO, ZERO, OK]  # fmt: skip
    outcome, commands, call = run_script(script, replies)
    assert outcome == "set" and call.store.sets[0][1] == PW
    reads = [c for c in commands if c.startswith("EXEC Read")]
    assert reads[3].startswith('EXEC Read "IVRKEYS,tpw/invalid&digits/0&')
    assert commands.count("WAIT FOR DIGIT 400") == 4


def test_three_menu_timeouts_end_failed_strikes(script):
    replies = [OK, ZERO, OK, OK, OK, *read("", "TIMEOUT"), ZERO, *read("", "TIMEOUT"), ZERO,
               *read("", "TIMEOUT"), "200 result=0 endpos=1", OK]  # fmt: skip
    outcome, commands, call = run_script(script, replies)
    assert outcome == "failed_strikes" and call.strikes == 3 and call.step == "menu"
    assert [c for c in commands if c.startswith("EXEC Read")][1:] == [
        'EXEC Read "IVRKEYS,tpw/invalid&tpw/unit_menu,1"'
    ] * 2
    assert commands.count("WAIT FOR DIGIT 400") == 2  # after each strike, as the service
    assert commands[-2:] == ['STREAM FILE tpw/start_again "" 0', "HANGUP"]
    assert call.limiter.failures == [CALLER]


def test_a_caller_gone_during_read_is_abandoned(script):
    outcome, commands, call = run_script(script, [OK, ZERO, OK, OK, OK, "200 result=-1"])
    assert outcome == "abandoned" and call.answered and commands[-1].startswith("EXEC Read")


def test_an_unknown_caller_is_hung_up_unanswered(script):
    outcome, commands, call = run_script(script, [OK, OK], caller="0690000099")
    assert outcome == "rejected_not_subscribed" and not call.answered
    assert commands == ['SET VARIABLE "IVR_STEP" "caller_check"', "HANGUP"]


def test_a_withheld_caller_is_refused(script):
    outcome, _, call = run_script(script, [OK, OK], caller="anonymous")
    assert outcome == "rejected_anonymous" and call.caller == "anonymous"


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"IVR_STATE_DIR": str(tmp_path / "st"), "HOME": str(tmp_path), **env})


def test_install_copies_privately_and_writes_its_dialplan_block(tmp_path, monkeypatch):
    monkeypatch.setattr(inst, "byte_compile", lambda settings: None)  # needs the root fs
    settings = _settings(tmp_path, IVR_FIRST_KEY_S="4", IVR_REDIS_PORT="6390")
    local = settings.state_dir / "asterisk" / "etc" / inst.LOCAL_CONF
    local.parent.mkdir(parents=True)
    local.write_text("; --- begin bench-floor ---\n[bench-floor]\n; --- end bench-floor ---\n")
    inst.install(settings)
    inst.install(settings)  # again: the same files, one block of ours
    classic = settings.state_dir / "classic"
    for path in [classic, *classic.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        want = 0o700 if path.is_dir() or path.name == inst.SCRIPT.name else 0o600
        assert mode == want, path
    assert (classic / "asterisk" / "agi.py").exists() and (classic / "six.py").exists()
    assert (classic / "callerid.py").read_text() == Path(callerid.__file__).read_text()
    assert "Alembic" in (classic / "store" / "migrations" / "__init__.py").read_text()
    assert not (classic / "store" / "migrations" / "env.py").exists()
    cfg = json.loads((classic / "config.json").read_text())
    assert cfg["database_url"] == "sqlite:////ivr/ivr.db"
    assert cfg["redis_url"] == "redis://127.0.0.1:6390/0"
    assert (cfg["pepper_file"], cfg["redis_password_file"]) == (
        "/ivr/pepper",
        "/ivr/redis-password",
    )
    assert (cfg["calls_log"], cfg["first_key_s"], cfg["tries"]) == ("/ivr/logs/calls.jsonl", 4, 3)
    text = local.read_text()
    assert text.count("[bench-floor]") == 1 and text.count("[bench-classic]") == 1
    assert "exten => 0000000002,1,Goto(bench-classic,${EXTEN},1)" in text
    assert "AGI(/ivr/classic/tmp_password_agi.py)" in text


def test_config_refuses_what_the_chroot_cannot_reach(tmp_path):
    with pytest.raises(ValueError, match="outside the state dir"):
        inst.config(_settings(tmp_path, IVR_PEPPER_FILE=str(tmp_path / "pepper")))
    with pytest.raises(ValueError, match="SQLite only"):
        inst.config(_settings(tmp_path, IVR_DATABASE_URL="postgresql://db/ivr"))


def test_dialplan_takes_digits_only():
    assert inst.dialplan("0612345678").startswith("[tmp-password-in]\nexten => 0612345678,1,")
    with pytest.raises(ValueError):
        inst.dialplan("06,1,Hangup")
