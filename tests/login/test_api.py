"""The login service over real HTTP (uvicorn): tokens and scopes, outcomes, the change, the
rules by region, the +81 form, errors that echo nothing, and a flood that costs almost no CPU."""

from __future__ import annotations

import asyncio
import json

import httpx
import redis

from tests.login.conftest import (
    EAST_LINE,
    WEST_EXTRA,
    WEST_LINE,
    Api,
    set_temporary,
    start_api,
    stop_api,
)

TPW = "48213957"
GOOD, GOOD2 = "Pw7kQ2xZ", "Rt5mN8vB3"


def _login(c: httpx.Client, number: str, password: str, **extra) -> dict:
    r = c.post("/v1/login", json={"number": number, "password": password, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def _change(c: httpx.Client, number: str, current: str, new: str, again: str | None = None):
    body = {"number": number, "current_password": current, "new_password": new,
            "new_password_again": new if again is None else again}  # fmt: skip
    r = c.post("/v1/password", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_without_a_valid_token_401_and_nothing_counted(api: Api):
    number = "0664808101"
    set_temporary(api, number, TPW)
    before = api.metric("ivr_api_kdf_derivations_total")
    db = redis.Redis.from_url(api.redis_url)
    audit_before = db.xlen(f"ivr:auth:{{{number}}}:audit")
    body = {"number": number, "password": "11112222"}
    for headers in ({}, {"Authorization": "Bearer " + "x" * 43}, {"Authorization": "Basic eA=="}):
        r = httpx.post(f"{api.url}/v1/login", json=body, headers=headers, timeout=10)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "unauthenticated"
    r = httpx.post(f"{api.url}/v1/login", content=b"{not json", timeout=10)
    assert r.status_code == 401  # the token is checked before the body is read
    assert api.metric("ivr_api_kdf_derivations_total") == before
    assert db.xlen(f"ivr:auth:{{{number}}}:audit") == audit_before
    assert not db.keys("ivr:apilimit:*{0664808101}*")
    with api.client() as c:  # the password is still intact: 3 tries left
        assert _login(c, number, "11112222", show_tries_left=True)["tries_left"] == 2


def test_scopes_keep_site_and_operator_apart(api: Api):
    with api.client("site") as c:
        r = c.get(f"/v1/operator/numbers/{WEST_LINE}")
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    with api.client("operator") as c:
        r = c.post("/v1/login", json={"number": WEST_LINE, "password": "x"})
        assert r.status_code == 403


def test_temporary_login_forced_change_and_the_plus81_form(api: Api):
    number = "0664808201"
    set_temporary(api, number, TPW)
    with api.client() as c:
        first = _login(c, "+81664808201", TPW)
        assert first == {"outcome": "must_change", "number": number,
                         "credential": "temporary", "tries_left": None}  # fmt: skip
        refused = _change(c, number, TPW, "abc12345", "abc12346")
        assert refused["outcome"] == "rejected"
        assert [r["code"] for r in refused["reasons"]] == ["mismatch", "sequence"]
        assert all(r["message"] for r in refused["reasons"])
        done = _change(c, "+81664808201", TPW, GOOD)
        assert done["outcome"] == "changed" and done["expires_at"]
        assert _login(c, number, TPW)["outcome"] == "wrong"
        ok = _login(c, number, GOOD)
        assert (ok["outcome"], ok["credential"], ok["number"]) == ("ok", "password", number)
        assert _change(c, number, GOOD, GOOD2)["outcome"] == "changed"  # a voluntary change
        assert _login(c, number, GOOD2)["outcome"] == "ok"


def test_the_region_decides_letters_only_and_numbers_are_the_subscribers(api: Api):
    with api.client() as c:
        for number in (WEST_EXTRA, EAST_LINE):
            set_temporary(api, number, TPW, contract=WEST_LINE if number == WEST_EXTRA else None)
        west = _change(c, WEST_EXTRA, TPW, "pqxmzrtw")
        assert [r["code"] for r in west["reasons"]] == ["letters_only"]
        contract = _change(c, WEST_EXTRA, TPW, "a" + WEST_LINE + "b")  # the contract's number
        assert [r["code"] for r in contract["reasons"]] == ["contains_number"]
        assert _change(c, EAST_LINE, TPW, "pqxmzrtw")["outcome"] == "changed"
        east = _change(c, EAST_LINE, "pqxmzrtw", "12345678")  # digits only: refused everywhere
        assert [r["code"] for r in east["reasons"]] == ["digits_only", "sequence"]


def test_outcomes_and_tries_left_only_when_asked(api: Api):
    number = "0664808301"
    with api.client() as c:
        assert _login(c, number, TPW)["outcome"] == "none"
        set_temporary(api, number, TPW)
        assert _login(c, number, "00000001")["tries_left"] is None
        assert _login(c, number, "00000001", show_tries_left=True)["tries_left"] == 1
        third = _login(c, number, "00000001")
        assert (third["outcome"], third["credential"]) == ("locked", "temporary")
        assert _login(c, number, TPW)["outcome"] == "locked"


def test_errors_are_json_with_a_code_and_echo_nothing(api: Api):
    secret = "Zq8" * 22  # 66 characters: over the schema's 64
    with api.client() as c:
        r = c.post("/v1/login", json={"number": WEST_LINE, "password": secret})
        assert r.status_code == 422 and r.json()["error"]["code"] == "bad_request"
        assert secret not in r.text and "password" in r.json()["error"]["message"]
        r = c.post("/v1/login", json={"number": "06-6480-8001", "password": secret[:20]})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_number")
        assert "06-6480-8001" not in r.text
        r = c.post("/v1/login", json={"number": WEST_LINE, "password": "a", "pin": secret[:9]})
        assert r.status_code == 422 and secret[:9] not in r.text
        assert c.get("/v1/nothing").json()["error"]["code"] == "not_found"


def test_operator_view_clear_and_audit_without_secrets(api: Api):
    number = "0664808401"
    set_temporary(api, number, TPW)
    with api.client() as site:
        _change(site, number, TPW, GOOD)
    with api.client("operator") as op:
        view = op.get("/v1/operator/numbers/+81664808401").json()
        assert view["temporary"]["state"] == "consumed" and view["password"]["state"] == "valid"
        assert view["password"]["set_by"] == "site"
        events = op.get(f"/v1/operator/numbers/{number}/audit").json()["entries"]
        assert [(e["event"], e["outcome"]) for e in events][-3:] == [
            ("verify", "ok"), ("change", "changed"), ("consume", "consumed")
        ]  # fmt: skip
        cleared = op.delete(f"/v1/operator/numbers/{number}", params={"credential": "password"})
        assert cleared.json() == {"number": number, "temporary": False, "password": True}
        assert op.get(f"/v1/operator/numbers/{number}").json()["password"] is None
        text = json.dumps(view) + json.dumps(events)
    assert TPW not in text and GOOD not in text and "verifier" not in text


def test_a_flood_of_wrong_logins_costs_a_handful_of_derivations(api: Api, tmp_path):
    """The default limits (5 attempts per number at once), on a service of its own."""
    number = "0664808501"
    set_temporary(api, number, TPW)
    api = start_api(tmp_path, api.redis_url)
    try:
        _flood(api, number)
    finally:
        stop_api(api)


def _flood(api: Api, number: str) -> None:
    before = api.metric("ivr_api_kdf_derivations_total")

    async def flood() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=api.url, headers=api.headers("flood"),
                                     limits=limits, timeout=30) as c:  # fmt: skip
            body = {"number": number, "password": "99990000"}
            return await asyncio.gather(*(c.post("/v1/login", json=body) for _ in range(1000)))

    responses = asyncio.run(flood())
    derivations = api.metric("ivr_api_kdf_derivations_total") - before
    statuses = [r.status_code for r in responses]
    print(f"flood: {statuses.count(200)} answered, {statuses.count(429)} refused (429),"
          f" {derivations:.0f} derivations")  # fmt: skip
    assert statuses.count(200) + statuses.count(429) == 1000
    assert 5 <= derivations == statuses.count(200) <= 6  # the default burst (+1 refill)
    limited = [r for r in responses if r.status_code == 429]
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert {r.json()["error"]["code"] for r in limited} == {"rate_limited"}
    outcomes = [r.json()["outcome"] for r in responses if r.status_code == 200]
    assert outcomes.count("locked") == len(outcomes) - 2  # 3rd wrong entry locked it


def test_logs_and_metrics_carry_no_secret(api: Api):
    metrics = httpx.get(f"{api.url}/metrics", timeout=10).text
    assert "ivr_api_logins_total" in metrics and "ivr_api_request_seconds" in metrics
    log = api.log.read_text()
    assert '"route": "/v1/login"' in log and '"client": "site"' in log
    for secret in (TPW, GOOD, GOOD2, "99990000", *api.tokens.values()):
        assert secret not in log and secret not in metrics
