"""The tokens file (0600, one client a line, constant-time match) and the GCRA limits on a
fake clock over real Redis."""

from __future__ import annotations

import os

import pytest

from login.auth import Tokens, TokensFileError, add_client, ensure_file
from login.ratelimit import Limit, RateLimited, RateLimiter
from tests.store.conftest import FakeClock, redis, redis_server  # noqa: F401 (fixtures)


def test_tokens_file_is_created_private_and_matches_only_a_whole_token(tmp_path):
    path = tmp_path / "state" / "api-tokens"
    assert ensure_file(path) and not ensure_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    token = add_client(path, "web-east", frozenset({"site"}))
    tokens = Tokens.load(path)
    assert [(c.id, sorted(c.scopes)) for c in tokens.clients] == [
        ("site", ["site"]), ("operator", ["operator"]), ("web-east", ["site"])
    ]  # fmt: skip
    found = tokens.authenticate(f"Bearer {token}")
    assert found is not None and found.id == "web-east"
    for header in (f"Bearer {token[:-1]}", f"Bearer {token}x", token, f"Basic {token}", None):
        assert tokens.authenticate(header) is None
    with pytest.raises(TokensFileError, match="already"):
        add_client(path, "web-east", frozenset({"site"}))


def test_tokens_file_refused_when_others_may_read_it_or_a_line_is_bad(tmp_path):
    path = tmp_path / "api-tokens"
    add_client(path, "site", frozenset({"site"}))
    os.chmod(path, 0o640)
    with pytest.raises(TokensFileError, match="mode 0640"):
        Tokens.load(path)
    os.chmod(path, 0o600)
    with open(path, "a") as f:
        f.write("# a comment\n\nweb admin shorttoken\n")
    with pytest.raises(TokensFileError) as err:
        Tokens.load(path)
    assert f"{path}:4:" in str(err.value) and "shorttoken" not in str(err.value)


async def test_gcra_burst_then_one_per_interval_with_retry_after(redis):  # noqa: F811
    clock = FakeClock()
    limiter = RateLimiter(redis, per_number=Limit(3, 20.0), per_client=Limit(2, 0.5), clock=clock)
    for _ in range(3):
        await limiter.number("0664809001")
    with pytest.raises(RateLimited) as err:
        await limiter.number("0664809001")
    assert (err.value.which, err.value.retry_after_s) == ("number", 20)
    await limiter.number("0664809002")  # each number its own bucket
    clock.advance(19.5)
    with pytest.raises(RateLimited) as err:
        await limiter.number("0664809001")
    assert err.value.retry_after_s == 1  # rounded up, never 0
    clock.advance(0.5)
    await limiter.number("0664809001")
    await limiter.client("site")
    await limiter.client("site")
    with pytest.raises(RateLimited):
        await limiter.client("site")
    off = RateLimiter(redis, per_number=Limit(1, 0), per_client=Limit(1, 0), clock=clock)
    for _ in range(5):
        await off.number("0664809001")  # an interval of 0 turns a limit off
