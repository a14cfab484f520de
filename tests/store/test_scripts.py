"""The Lua scripts' KEYS and ARGV have one source: the names each Script declares."""

from __future__ import annotations

import re

import pytest

from store import scripts

ALL = {name: value for name, value in vars(scripts).items() if isinstance(value, scripts.Script)}


def test_every_script_is_declared_by_name() -> None:
    assert set(ALL) == {"SET", "BEGIN", "FINISH", "CONSUME", "CLEAR", "UNIT", "ADMIT", "FAILURE"}


@pytest.mark.parametrize("name", sorted(ALL))
def test_header_binds_each_name_once_and_the_body_uses_it(name: str) -> None:
    script = ALL[name]
    lines = script.splitlines()
    count = len(script.keys) + len(script.args)
    expected = [f"local {n} = KEYS[{i}]" for i, n in enumerate(script.keys, 1)]
    expected += [f"local {n} = ARGV[{i}]" for i, n in enumerate(script.args, 1)]
    assert lines[:count] == expected
    body = "\n".join(lines[count:])
    assert not re.search(r"\b(KEYS|ARGV)\[", body)
    for n in script.keys + script.args:
        assert re.search(rf"\b{n}\b", body), f"{name}: {n} declared but unused"


def test_arguments_are_ordered_from_names_and_checked() -> None:
    args = scripts.UNIT.arg_list(call_id="c", number="5", at_ms=7, unit="line")
    assert args == ["line", "7", "5", "c"]
    assert scripts.UNIT.key_list(contract_key="k") == ["k"]
    with pytest.raises(TypeError, match="missing \\['call_id'\\]"):
        scripts.UNIT.arg_list(number="5", at_ms=7, unit="line")
    with pytest.raises(TypeError, match="unexpected \\['colour'\\]"):
        scripts.UNIT.arg_list(call_id="c", number="5", at_ms=7, unit="line", colour="red")


def test_a_body_indexing_argv_or_a_repeated_name_is_refused() -> None:
    with pytest.raises(ValueError, match="named locals"):
        scripts.Script("return ARGV[1]", keys=(), args=("a",))
    with pytest.raises(ValueError, match="distinct"):
        scripts.Script("return a", keys=("a",), args=("a",))


def test_credential_scripts_share_keys_and_tail() -> None:
    for name in ("SET", "BEGIN", "FINISH", "CONSUME", "CLEAR"):
        script = ALL[name]
        assert script.keys == scripts.RECORD_KEYS
        assert script.args[0] == "now_ms" and script.args[-3:] == scripts.TAIL
