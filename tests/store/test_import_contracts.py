"""A contract number must be an active line of that same contract (issue 9, finding 4).

The three cross-contract imports that got passwords set for other people's numbers are
refused with their line numbers, in one file and against what the directory already
holds; nothing of a refused file is applied. Also: the error list is capped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from store.directory import Directory
from store.importer import ImportRejected, import_csv

GOOD = """contract_number,number,region,active
1000000000,1000000000,east,1
1000000000,1000000001,east,1
2000000000,2000000000,west,1
2000000000,2000000001,west,1
9000000000,9000000000,,0
9000000000,9000000001,,0
"""


def write(tmp_path: Path, content: str, name: str = "subs.csv") -> Path:
    path = tmp_path / name
    path.write_text("contract_number,number,region,active\n" + content, encoding="utf-8")
    return path


def rejected(engine: Engine, path: Path) -> list[tuple[int, str]]:
    before = Directory(engine).all()
    with pytest.raises(ImportRejected) as info:
        import_csv(engine, path)
    assert Directory(engine).all() == before, "a refused file must change nothing"
    return [(e.line, e.message) for e in info.value.errors]


@pytest.fixture
def directory(engine: Engine, tmp_path: Path) -> Directory:
    path = tmp_path / "good.csv"
    path.write_text(GOOD)
    import_csv(engine, path)  # a contract whose numbers are all inactive is allowed
    return Directory(engine)


def test_contract_number_that_is_another_contracts_number(engine: Engine, tmp_path: Path) -> None:
    content = "3000000000,3000000000,,1\n3000000000,3000000001,,1\n3000000001,3000000002,,1\n"
    errors = rejected(engine, write(tmp_path, content))
    assert (
        4,
        "contract number 3000000001 is a number of contract 3000000000, not a line of its own",
    ) in errors
    assert {line for line, _ in errors} <= {3, 4}


def test_contract_number_that_is_inactive(engine: Engine, tmp_path: Path) -> None:
    content = "3000000000,3000000000,,0\n3000000000,3000000001,,1\n"
    errors = rejected(engine, write(tmp_path, content))
    assert (3, "contract number 3000000000 is inactive") in errors
    assert (2, "number 3000000000 is inactive, yet contract 3000000000 has active numbers") in (
        errors
    )


def test_contract_number_that_is_no_number_at_all(engine: Engine, tmp_path: Path) -> None:
    errors = rejected(engine, write(tmp_path, "3000000000,3000000001,,1\n"))
    assert errors == [
        (2, "contract number 3000000000 is not a number in the directory or this file")
    ]


def test_a_later_import_cannot_break_the_rule(
    engine: Engine, tmp_path: Path, directory: Directory
) -> None:
    # the directory holds contract 1000000000; each file alone looks harmless
    cases = {
        "another contract's number": "2000000001,3000000001,,1\n",
        "the line made inactive": "1000000000,1000000000,east,0\n",
        "the line moved to another contract": "2000000000,1000000000,west,1\n",
        "no such number": "3000000000,3000000001,,1\n",
        "an inactive line reactivated by a member": "9000000000,9000000001,,1\n",
    }
    for name, content in cases.items():
        errors = rejected(engine, write(tmp_path, content, f"{len(name)}.csv"))
        assert [line for line, _ in errors] == [2], (name, errors)
    # what keeps the rule is accepted: a new member of a good contract, a whole contract
    # made inactive, and a line joining its contract together with the rest of it
    import_csv(engine, write(tmp_path, "1000000000,1000000002,east,1\n", "ok1.csv"))
    import_csv(
        engine,
        write(tmp_path, "2000000000,2000000000,west,0\n2000000000,2000000001,west,0\n", "ok2.csv"),
    )
    import_csv(
        engine,
        write(tmp_path, "9000000000,9000000000,,1\n9000000000,9000000001,,1\n", "ok3.csv"),
    )
    assert directory.find_in_contract("9000000000", "9000000000") is not None


def test_error_list_is_capped_with_a_count(engine: Engine, tmp_path: Path) -> None:
    bad = "".join(f"1,x{i}\n" for i in range(5000))
    with pytest.raises(ImportRejected) as info:
        import_csv(engine, write(tmp_path, bad))
    assert [e.line for e in info.value.errors] == list(range(2, 102))
    assert info.value.total == 5000
    assert str(info.value) == "5000 bad line(s), the first 100 listed; nothing imported"


def test_contract_errors_are_capped_too(engine: Engine, tmp_path: Path) -> None:
    orphans = "".join(f"4000000000,{4000000001 + i},,1\n" for i in range(300))
    with pytest.raises(ImportRejected) as info:
        import_csv(engine, write(tmp_path, orphans))
    assert len(info.value.errors) == 100 and info.value.total == 300
    assert info.value.errors[0].line == 2 and info.value.errors[-1].line == 101


def test_import_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """150,000 rows in a fresh process: the whole-file importer peaked near 140 MiB."""
    from benchmarks.bench_import_rss import run_child, write_csv
    from store.migrations import migrate

    csv = tmp_path / "big.csv"
    write_csv(csv, 150_000)
    url = f"sqlite:///{tmp_path / 'big.db'}"
    migrate(url)
    got = run_child(url, csv, None)
    assert got["numbers"] == 150_000
    assert got["peak_mib"] < 90, got
