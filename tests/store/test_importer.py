"""CSV import: upsert, idempotence, every bad line reported, all or nothing, 10,000 rows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from store.directory import Directory
from store.importer import ImportRejected, ImportResult, import_csv, import_rows
from store.models import SubscriberRow


def write(tmp_path: Path, content: str, name: str = "subs.csv") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(SubscriberRow)).scalar_one())


def test_import_and_idempotent_reimport(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "contract_number,number\n0664806000,0664806000\n"
        "0664806000,0664806001\n0664806000,0664806001\n",
    )
    result = import_csv(engine, path)
    assert (result.numbers, result.contracts) == (2, 1)
    before = Directory(engine).all()
    import_csv(engine, path)
    assert Directory(engine).all() == before
    assert before[0].active is True and before[0].region is None and before[0].is_contract


def test_reimport_updates_and_keeps_untouched_columns(engine: Engine, tmp_path: Path) -> None:
    import_csv(
        engine,
        write(
            tmp_path,
            "contract_number,number,region,active\n"
            "0664806000,0664806000,west,1\n0664806000,0664806001,west,1\n",
        ),
    )
    import_csv(
        engine, write(tmp_path, "number,contract_number,active\n0664806001,0664806000,0\n", "b.csv")
    )
    sub = Directory(engine).lookup("0664806001")
    assert sub is not None and sub.active is False and sub.region == "west"
    import_csv(
        engine,
        write(
            tmp_path,
            "contract_number,number,region\n0312345678,0664806001,\n0312345678,0312345678,\n",
            "c.csv",
        ),
    )
    sub = Directory(engine).lookup("0664806001")
    assert sub is not None and sub.contract_number == "0312345678" and sub.region is None


def test_every_bad_line_reported_and_nothing_applied(engine: Engine, tmp_path: Path) -> None:
    content = (
        "contract_number,number,region,active\n"  # 1
        "0664806000,0664806000,west,1\n"  # 2 good
        "0664806000,06648O6001,west,1\n"  # 3 letter O
        "0664806000,0664806002,north,1\n"  # 4 bad region
        "0664806000,0664806003,west,yes\n"  # 5 bad active
        "0664806000,,west,1\n"  # 6 missing number
        "0664806000,0664806004\n"  # 7 missing fields
        "0664806000,0664806005,west,1\n"  # 8 good
        "0664806000,0664806005,east,1\n"  # 9 same number, other data
    )
    with pytest.raises(ImportRejected) as info:
        import_csv(engine, write(tmp_path, content))
    lines = [e.line for e in info.value.errors]
    assert lines == [3, 4, 5, 6, 7, 9]
    assert "line 8" in info.value.errors[-1].message
    assert count(engine) == 0


def test_unknown_or_missing_header(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportRejected) as info:
        import_csv(engine, write(tmp_path, "contract_number,number,colour\n1,1,red\n"))
    assert [(e.line, "colour" in e.message) for e in info.value.errors] == [(1, True)]
    with pytest.raises(ImportRejected) as info:
        import_csv(engine, write(tmp_path, "number\n1\n"))
    assert info.value.errors[0].line == 1 and "contract_number" in info.value.errors[0].message
    with pytest.raises(ImportRejected, match="1 bad line"):
        import_csv(engine, write(tmp_path, ""))


def test_bom_blank_lines_and_quoted_fields(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, '\ufeffcontract_number,number\n\n"0664806000", 0664806000 \n')
    assert import_csv(engine, path) == ImportResult(1, 1)
    assert Directory(engine).lookup("0664806000") is not None


def test_unreadable_file_is_one_clear_error(engine: Engine, tmp_path: Path) -> None:
    for path, why in ((tmp_path / "absent.csv", "No such file"), (tmp_path, "Is a directory")):
        with pytest.raises(ImportRejected) as info:
            import_csv(engine, path)
        assert info.value.errors == [] and why in str(info.value)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_non_utf8_file_is_rejected_with_its_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"contract_number,number\n1,1\n1,2\xe9\n")
    with pytest.raises(ImportRejected) as info:
        import_csv(engine, path)
    assert info.value.errors[0].line == 3
    assert count(engine) == 0


def test_failure_during_apply_leaves_nothing(engine: Engine, tmp_path: Path) -> None:
    """All-or-nothing holds in the database too: a statement failing late rolls back."""
    rows = [(n + 2, {"contract_number": "1", "number": str(n + 1)}) for n in range(3000)]
    rows[2500][1]["region"] = "north"  # past the parser: the CHECK constraint refuses it
    with pytest.raises(IntegrityError):
        import_rows(engine, ["contract_number", "number", "region"], rows)
    assert count(engine) == 0
    import_rows(engine, ["contract_number", "number"], rows[:10])  # the connection is usable
    assert count(engine) == 10


def test_ten_thousand_numbers(engine: Engine, tmp_path: Path, record_property) -> None:  # type: ignore[no-untyped-def]
    contract = "0500000000"
    lines = ["contract_number,number,region,active"]
    lines += [f"{contract},{int(contract) + i:010d},east,1" for i in range(10_000)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    started = time.perf_counter()
    result = import_csv(engine, path)
    first = time.perf_counter() - started
    started = time.perf_counter()
    import_csv(engine, path)
    second = time.perf_counter() - started
    record_property("import_10000_s", f"{engine.dialect.name} {first:.2f}s re-import {second:.2f}s")
    print(f"10,000-number import on {engine.dialect.name}: {first:.2f}s, again {second:.2f}s")
    assert result.numbers == 10_000 and result.contracts == 1
    assert count(engine) == 10_000
    assert len(Directory(engine).numbers_of(contract)) == 10_000
