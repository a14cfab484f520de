"""The committed OpenAPI document is what the service generates, and a non-Python client
(curl) logs in and changes a password with nothing but the documented calls."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from login.serve import openapi_document
from tests.login.conftest import Api, set_temporary

REPO = Path(__file__).resolve().parents[2]


def test_committed_openapi_is_what_the_app_generates():
    committed = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert committed == openapi_document(), (
        "regenerate: python -m login openapi > docs/openapi.json"
    )
    paths = committed["paths"]
    assert set(paths) == {"/v1/login", "/v1/password", "/v1/operator/numbers/{number}",
                          "/v1/operator/numbers/{number}/audit"}  # fmt: skip
    assert committed["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert {"401", "429"} <= set(paths["/v1/login"]["post"]["responses"])


def _curl(api: Api, path: str, body: dict) -> dict:
    """curl as the docs' walk-through has it; the token from a file, never on the command line."""
    header = Path(api.log.parent / "curl-auth")
    header.write_text(f"Authorization: Bearer {api.tokens['site']}\n")
    header.chmod(0o600)
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "--max-time", "20", "-H", f"@{header}",
         "-H", "Content-Type: application/json", "--data-binary", "@-", f"{api.url}{path}"],
        input=json.dumps(body), capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_curl_logs_in_and_changes_the_password(api: Api):
    number = "0664808601"
    set_temporary(api, number, "35792468")
    first = _curl(api, "/v1/login", {"number": number, "password": "35792468"})
    assert (first["outcome"], first["credential"]) == ("must_change", "temporary")
    body = {"number": number, "current_password": "35792468",
            "new_password": "Hn4tW9qKz", "new_password_again": "Hn4tW9qKz"}  # fmt: skip
    assert _curl(api, "/v1/password", body)["outcome"] == "changed"
    assert _curl(api, "/v1/login", {"number": number, "password": "35792468"})["outcome"] == "wrong"
    assert _curl(api, "/v1/login", {"number": number, "password": "Hn4tW9qKz"})["outcome"] == "ok"
