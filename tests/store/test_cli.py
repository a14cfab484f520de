"""`subscribers …` and `tpw …` through ivrctl's own parser (ivr.cli), in this process."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
import redis as sync_redis

from ivr.cli import build_parser
from store.credentials import CredentialStore
from store.pepper import load_or_create
from store.redisconn import connect
from store.types import Unit
from tests.store.conftest import PW, PW_WRONG
from tests.store.servers import RedisServer, free_port

N = "0664806001"
C = "0664806000"


@pytest.fixture
def env(tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IVR_REDIS_URL", redis_server.url)
    for name in ("IVR_DATABASE_URL", "IVR_PEPPER_FILE", "USER"):
        monkeypatch.delenv(name, raising=False)
    client = sync_redis.Redis.from_url(redis_server.url, socket_timeout=5)
    client.flushdb()
    client.close()
    load_or_create(tmp_path / "state" / "pepper")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def seed(tmp_path: Path, url: str) -> None:
    async def main() -> None:
        client = connect(url)
        store = CredentialStore(client, load_or_create(tmp_path / "state" / "pepper"))
        await store.set_temporary(
            N, PW, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-7"
        )
        await client.aclose()

    asyncio.run(main())


def test_subscribers_import_list_show(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = env / "subs.csv"
    path.write_text(f"contract_number,number,region\n{C},{C},west\n{C},{N},west\n")
    code, out, _ = run(capsys, "subscribers", "import", str(path))
    assert code == 0 and "2 numbers" in out
    assert (env / "state" / "ivr.db").exists()  # the default SQLite URL, migrated
    code, out, _ = run(capsys, "subscribers", "list", "--contract", C, "--json")
    assert code == 0 and [s["number"] for s in json.loads(out)] == [C, N]
    code, out, _ = run(capsys, "subscribers", "list")
    assert code == 0 and len(out.splitlines()) == 2 and "contract" in out.splitlines()[0]
    code, out, _ = run(capsys, "subscribers", "show", N, "--json")
    assert code == 0 and json.loads(out) == {
        "number": N,
        "contract_number": C,
        "region": "west",
        "active": True,
        "contract_line": False,
    }
    code, out, _ = run(capsys, "subscribers", "show", "0999999999")
    assert (code, out.strip()) == (1, "none")


def test_subscribers_import_errors(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = env / "bad.csv"
    path.write_text(f"contract_number,number\n{C},{C}\n{C},x1\n{C},\n")
    code, out, err = run(capsys, "subscribers", "import", str(path))
    assert code == 1
    assert f"{path}:3:" in err and f"{path}:4:" in err and "nothing imported" in err
    code, out, _ = run(capsys, "subscribers", "list", "--json")
    assert json.loads(out) == []


def test_tpw_show_verify_consume(
    env: Path, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "tpw", "show", N)
    assert (code, out.strip()) == (1, "none")
    seed(env, redis_server.url)
    code, out, _ = run(capsys, "tpw", "show", N)
    shown = json.loads(out)
    assert code == 0
    assert {
        "number",
        "unit",
        "set_by",
        "created_at",
        "expires_at",
        "failures",
        "state",
    } <= shown.keys()
    assert (shown["unit"], shown["set_by"], shown["state"], shown["failures"]) == (
        "number",
        C,
        "valid",
        0,
    )
    assert datetime.fromisoformat(shown["expires_at"]).utcoffset() is not None
    assert PW not in out

    code, out, _ = run(capsys, "tpw", "verify", N, PW_WRONG)
    assert (code, out.split()[0]) == (1, "wrong")
    code, out, _ = run(capsys, "tpw", "verify", N, PW)
    assert (code, out.split()[0]) == (0, "ok")
    code, out, _ = run(capsys, "tpw", "consume", N)
    assert (code, out.strip()) == (0, "consumed")
    code, out, _ = run(capsys, "tpw", "verify", N, PW)
    assert (code, out.split()[0]) == (1, "none")


def test_tpw_verify_reads_stdin_and_locks(
    env: Path,
    redis_server: RedisServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(env, redis_server.url)
    firsts = []
    for _ in range(4):
        monkeypatch.setattr("sys.stdin", io.StringIO(PW_WRONG + "\n"))
        code, out, _ = run(capsys, "tpw", "verify", N, "-")
        firsts.append((code, out.split()[0]))
    assert firsts == [(1, "wrong"), (1, "wrong"), (1, "locked"), (1, "locked")]


def test_empty_password_is_refused_and_not_counted(
    env: Path,
    redis_server: RedisServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(env, redis_server.url)
    for stdin in ("", "\n"):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code, out, err = run(capsys, "tpw", "verify", N, "-")
        assert (code, out) == (2, "")
        assert err.strip() == "ivrctl: empty password: nothing checked, no attempt counted"
    code, out, _ = run(capsys, "tpw", "show", N)
    assert json.loads(out)["failures"] == 0


@pytest.mark.parametrize("name", ["missing.csv", "."])
def test_unreadable_csv_is_one_line(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, out, err = run(capsys, "subscribers", "import", str(tmp_path / name))
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and err.startswith("ivrctl: ")
    assert "Traceback" not in err


def test_tpw_clear_and_audit(
    env: Path,
    redis_server: RedisServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(env, redis_server.url)
    monkeypatch.setenv("USER", "carol")
    code, out, _ = run(capsys, "tpw", "clear", N)
    assert (code, out.strip()) == (0, "cleared")
    code, out, _ = run(capsys, "tpw", "clear", N, "--operator", "dave")
    assert (code, out.strip()) == (1, "none")
    code, out, _ = run(capsys, "tpw", "audit", N)
    entries = [json.loads(line) for line in out.splitlines()]
    assert [(e["event"], e["outcome"], e["actor"]) for e in entries] == [
        ("set", "set", C),
        ("clear", "cleared", "carol"),
        ("clear", "none", "dave"),
    ]
    assert entries[0]["call_id"] == "call-7"
    assert datetime.fromisoformat(entries[0]["at"]).utcoffset() is not None
    assert PW not in out


def test_tpw_needs_the_pepper(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_PEPPER_FILE", str(env / "nowhere" / "pepper"))
    code, out, err = run(capsys, "tpw", "verify", N, PW)
    assert code == 2 and out == ""
    assert "nowhere/pepper" in err and "does not exist" in err and PW not in err


def test_tpw_store_down(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    code, out, err = run(capsys, "tpw", "verify", N, PW)
    assert code == 3 and out == ""
    assert "unavailable" in err and PW not in err
