"""The login service's settings, from the same environment as the rest of the stack.

Read here rather than from ivr.config.settings: the service imports the store, never the IVR
(pyproject.toml's contracts), and a site may run it on a host without the telephony part.
The shared variables (IVR_STATE_DIR, IVR_REDIS_*, IVR_PEPPER_FILE, IVR_DATABASE_URL) mean
what README's settings table says.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def _number(env: Mapping[str, str], name: str, default: float, kind: type = float) -> float:
    raw = env.get(name) or ""
    if raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
    if not value >= 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def _file(env: Mapping[str, str], name: str, default: Path) -> Path:
    return Path(env.get(name) or default).absolute()


@dataclass(frozen=True)
class ApiSettings:
    host: str  # IVR_API_HOST
    port: int  # IVR_API_PORT
    tokens_file: Path  # IVR_API_TOKENS_FILE
    state_dir: Path
    redis_url: str
    redis_password_file: Path
    pepper_file: Path
    database_url: str
    page: bool = True  # IVR_API_PAGE: serve the reference page at /page/
    number_burst: int = 5  # IVR_API_NUMBER_BURST: attempts one number may make at once
    number_refill_s: float = 20.0  # IVR_API_NUMBER_REFILL_S: one more attempt every … s
    client_rate: float = 50.0  # IVR_API_CLIENT_RATE: requests a second per client (0: off)
    client_burst: int = 100  # IVR_API_CLIENT_BURST
    redis_replicas: int = 0  # IVR_REDIS_REPLICAS: replicas that must confirm a count or a change
    redis_replica_timeout_ms: int = 1000  # IVR_REDIS_REPLICA_TIMEOUT_MS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        state = Path(env.get("IVR_STATE_DIR") or "./var").absolute()
        port = int(_number(env, "IVR_API_PORT", 8470, int))
        if not 1 <= port < 65536:
            raise ValueError(f"IVR_API_PORT must be a port number (1-65535), got {port}")
        page = env.get("IVR_API_PAGE") or "1"
        if page not in ("0", "1"):
            raise ValueError(f"IVR_API_PAGE must be 0 or 1, got {page!r}")
        redis_port = int(_number(env, "IVR_REDIS_PORT", 6380, int))
        return cls(
            host=env.get("IVR_API_HOST") or "127.0.0.1",
            port=port,
            tokens_file=_file(env, "IVR_API_TOKENS_FILE", state / "api-tokens"),
            state_dir=state,
            redis_url=env.get("IVR_REDIS_URL") or f"redis://127.0.0.1:{redis_port}/0",
            redis_password_file=_file(env, "IVR_REDIS_PASSWORD_FILE", state / "redis-password"),
            pepper_file=_file(env, "IVR_PEPPER_FILE", state / "pepper"),
            database_url=env.get("IVR_DATABASE_URL") or f"sqlite:///{state / 'ivr.db'}",
            page=page == "1",
            number_burst=max(1, int(_number(env, "IVR_API_NUMBER_BURST", cls.number_burst, int))),
            number_refill_s=_number(env, "IVR_API_NUMBER_REFILL_S", cls.number_refill_s)
            or cls.number_refill_s,
            client_rate=_number(env, "IVR_API_CLIENT_RATE", cls.client_rate),
            client_burst=max(1, int(_number(env, "IVR_API_CLIENT_BURST", cls.client_burst, int))),
            redis_replicas=int(_number(env, "IVR_REDIS_REPLICAS", 0, int)),
            redis_replica_timeout_ms=max(
                1, int(_number(env, "IVR_REDIS_REPLICA_TIMEOUT_MS", 1000, int))
            ),
        )


def api_address(env: Mapping[str, str] | None = None) -> tuple[str, int]:
    """(IVR_API_HOST, IVR_API_PORT): where `ivrctl stack` probes the service it started."""
    settings = ApiSettings.from_env(env)
    return settings.host, settings.port
