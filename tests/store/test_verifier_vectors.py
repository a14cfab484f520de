"""Known-answer vectors for sites that re-implement the verifier (docs/verifier-vectors.json):
the store's own derivation and an independent one from the formula both give them."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from argon2.low_level import Type, hash_secret_raw

from store import kdf

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "verifier-vectors.json").read_text()
)["vectors"]


def _from_formula(vector: dict) -> bytes:
    """docs/store.md's formula with the libraries directly, not through store.kdf."""
    keyed = hmac.new(bytes.fromhex(vector["pepper_hex"]), vector["password"].encode(),
                     hashlib.sha256).digest()  # fmt: skip
    p, salt = vector["kdf"], bytes.fromhex(vector["salt_hex"])
    return hash_secret_raw(keyed, salt, time_cost=p["time_cost"], memory_cost=p["memory_kib"],
                           parallelism=p["parallelism"], hash_len=p["dklen"], type=Type.ID,
                           version=p["version"])  # fmt: skip


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[f"{v['kdf']['alg']}-{i}" for i, v in enumerate(VECTORS)]
)
def test_vector(vector):
    params = kdf.from_json(json.dumps(vector["kdf"]))
    expected = bytes.fromhex(vector["verifier_hex"])
    got = kdf.derive(vector["password"], bytes.fromhex(vector["salt_hex"]),
                     bytes.fromhex(vector["pepper_hex"]), params)  # fmt: skip
    assert got == expected
    assert _from_formula(vector) == expected


def test_vectors_cover_the_default_kdf():
    algs = [v["kdf"]["alg"] for v in VECTORS]
    assert algs.count("hmac-sha256+argon2id") >= 3 and set(algs) == {"hmac-sha256+argon2id"}
    assert kdf.to_json(kdf.Argon2idParams()) in {
        json.dumps(v["kdf"], sort_keys=True, separators=(",", ":")) for v in VECTORS
    }
