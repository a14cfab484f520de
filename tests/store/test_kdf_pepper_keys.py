"""The verifier, the pepper file and the key schema, without Redis."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from argon2.low_level import Type, hash_secret_raw
from redis.crc import key_slot

from store import kdf, keys
from store.kdf import Argon2idParams, derive, matches, new_salt
from store.pepper import PepperMissing, load, load_or_create
from tests.store.conftest import FAST_KDF, PEPPER, PW, PW2


def test_verifier_depends_on_password_salt_pepper_and_params() -> None:
    salt = new_salt()
    base = derive(PW, salt, PEPPER, FAST_KDF)
    assert len(base) == 32 and PW.encode() not in base
    assert matches(derive(PW, salt, PEPPER, FAST_KDF), base)
    assert not matches(derive(PW2, salt, PEPPER, FAST_KDF), base)
    assert not matches(derive(PW, new_salt(), PEPPER, FAST_KDF), base)
    assert not matches(derive(PW, salt, bytes(32), FAST_KDF), base)
    assert not matches(derive(PW, salt, PEPPER, Argon2idParams(memory_kib=128, time_cost=1)), base)


def test_default_is_argon2id_at_owasp_cost_or_more() -> None:
    params = Argon2idParams()
    assert params.memory_kib >= 19 * 1024 and params.time_cost >= 2 and params.parallelism == 1
    assert json.loads(kdf.to_json(params))["alg"] == "hmac-sha256+argon2id"


def test_argon2id_is_the_pepper_keyed_password_through_argon2id() -> None:
    """Independent check with argon2-cffi's own API: HMAC-SHA256(pepper) then Argon2id."""
    salt = new_salt()
    keyed = hmac.new(PEPPER, PW.encode(), hashlib.sha256).digest()
    expected = hash_secret_raw(keyed, salt, 1, 64, 1, 32, Type.ID)
    assert derive(PW, salt, PEPPER, FAST_KDF) == expected


def test_kdf_params_round_trip_and_validation() -> None:
    params = Argon2idParams(memory_kib=47104, time_cost=1)
    assert kdf.from_json(kdf.to_json(params)) == params
    for bad in ({"memory_kib": 4}, {"time_cost": 0}, {"parallelism": 0}, {"dklen": 8}):
        with pytest.raises(ValueError):
            Argon2idParams(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    [
        '{"alg":"md5"}',
        "not json",
        '{"alg":"hmac-sha256+argon2id","memory_kib":1048576,"time_cost":2}',  # 1 GiB planted
        '{"alg":"hmac-sha256+argon2id","time_cost":1000}',
        '{"alg":"hmac-sha256+scrypt","dklen":32,"n":16384,"p":1,"r":8}',  # never deployed
        '{"alg":"hmac-sha256+argon2id","extra":1}',
        "[]",
    ],
)
def test_record_parameters_out_of_bounds_are_refused(raw: str) -> None:
    """A record planted in Redis cannot make one verify cost a gigabyte or seconds."""
    with pytest.raises(ValueError, match="KDF parameters"):
        kdf.from_json(raw)


def test_load_or_create_makes_a_0600_random_pepper(tmp_path: Path) -> None:
    path = tmp_path / "state" / "pepper"
    first = load_or_create(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(path) == first  # kept, not regenerated
    assert load(path) == first
    assert load_or_create(tmp_path / "other") != first
    assert [p.name for p in path.parent.iterdir()] == ["pepper"]  # no temporary left


def test_load_or_create_concurrently_agrees_on_one_pepper(tmp_path: Path) -> None:
    path = tmp_path / "pepper"
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(load_or_create(path))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(results) == 8 and len(set(results)) == 1


def test_load_without_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PepperMissing, match="does not exist.*IVR_PEPPER_FILE"):
        load(tmp_path / "pepper")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o620, 0o602, 0o604, 0o660, 0o610])
def test_load_refuses_a_pepper_others_may_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "pepper"
    path.write_bytes(os.urandom(32))
    path.chmod(mode)
    with pytest.raises(PepperMissing) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and f"mode {mode:04o}" in message


def test_load_accepts_owner_only_modes_and_refuses_short_or_odd(tmp_path: Path) -> None:
    path = tmp_path / "pepper"
    path.write_bytes(os.urandom(32))
    for mode in (0o600, 0o400):
        path.chmod(mode)
        assert len(load(path)) == 32
    path.chmod(0o600)
    path.write_bytes(b"tiny")
    with pytest.raises(PepperMissing, match="shorter"):
        load(path)
    with pytest.raises(PepperMissing, match="not a regular file|cannot be read"):
        load(tmp_path)


def test_created_pepper_is_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create(tmp_path / "new" / "pepper")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new" / "pepper").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700


def test_keys_use_the_number_as_hash_tag() -> None:
    number = "0664806001"
    per_number = [
        keys.tpw(number),
        keys.tpw_verifier(number),
        keys.audit(number),
        keys.limit_calls(number),
        keys.limit_failures(number),
    ]
    assert all("{0664806001}" in key for key in per_number)
    assert len({key_slot(k.encode()) for k in per_number}) == 1
    assert key_slot(keys.tpw("0664806002").encode()) != key_slot(per_number[0].encode())
    for bad in ("", "06{6}", "0664 806", "abc", "1" * 33, "０６６"):
        with pytest.raises(ValueError):
            keys.tpw(bad)
