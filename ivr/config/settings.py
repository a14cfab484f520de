"""One settings object: ports, URLs, timeouts and limits, read from the environment.

Every default is documented here and in README's settings table; docs/interfaces.md is the
contract. One rule for 0: a cap or a limit set to 0 is off (no cap, no limit); any other
setting refuses 0 with a one-line error, never silently taking its default.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ivr.flow.timing import Timing
from store.types import Limits


def _float(env: Mapping[str, str], name: str, default: float, *, allow_zero: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    """minimum 0: a cap or limit, where 0 means off; minimum 1: 0 is refused."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        what = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        raise ValueError(f"{name} {what}, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw not in ("0", "1"):
        raise ValueError(f"{name} must be 0 or 1, got {raw!r}")
    return raw == "1"


def _port(env: Mapping[str, str], name: str, default: int, *, allow_zero: bool = False) -> int:
    value = _int(env, name, default)
    if not (0 if allow_zero else 1) <= value < 65536:
        raise ValueError(f"{name} must be a port number (1-65535), got {env.get(name)!r}")
    return value


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw).absolute() if raw else None


def _networks(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if not raw:
        return default
    nets = tuple(part.strip() for part in raw.split(",") if part.strip())
    for net in nets:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ValueError(f"{name}: {net!r} is not an address or network") from None
    return nets


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    sip_host: str
    sip_port: int
    agi_host: str
    agi_port: int
    ami_port: int
    redis_url_env: str | None  # IVR_REDIS_URL; None: the stack's private Redis
    redis_port: int
    pepper_file: Path
    cache_dir: Path
    database_url: str
    agi_command_s: float = 120.0  # bound on one AGI command's reply (IVR_AGI_COMMAND_S)
    agi_allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")  # IVR_AGI_ALLOW (comma-separated)
    agi_max_calls: int = 1200  # IVR_AGI_MAX_CALLS: FastAGI connections at once (0: no cap)
    agi_secret_file: Path | None = None  # IVR_AGI_SECRET_FILE; None: $IVR_STATE_DIR/agi-secret
    redis_password_file: Path | None = None  # IVR_REDIS_PASSWORD_FILE; None: state dir's
    max_calls: int = 600  # IVR_MAX_CALLS: calls in the flow at once before refusing (0: no cap)
    max_calls_per_s: float = 25.0  # IVR_MAX_CALLS_PER_S: new calls admitted a second (0: no cap)
    max_calls_burst: int = 100  # IVR_MAX_CALLS_BURST: calls admitted at once above the rate
    early_media: bool = True  # IVR_EARLY_MEDIA: refusals play their text before the 4xx/5xx
    metrics_host: str = "127.0.0.1"  # IVR_METRICS_HOST
    metrics_port: int = 9464  # IVR_METRICS_PORT (0: any free port)
    asterisk_http_port: int = 8088  # IVR_ASTERISK_HTTP_PORT: res_prometheus, loopback only
    redis_replicas: int = 0  # IVR_REDIS_REPLICAS: replicas that must hold a set before 完了
    redis_replica_timeout_ms: int = 1000  # IVR_REDIS_REPLICA_TIMEOUT_MS: WAIT's bound
    timing: Timing = field(default_factory=Timing)
    limits: Limits = field(default_factory=Limits)

    @property
    def redis_url(self) -> str:
        """The one URL rule every ivrctl command and the server share."""
        return self.redis_url_env or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def agi_secret_path(self) -> Path:
        return self.agi_secret_file or self.state_dir / "agi-secret"

    @property
    def redis_password_path(self) -> Path:
        return self.redis_password_file or self.state_dir / "redis-password"

    def redis_password(self) -> str | None:
        """The Redis password every client sends: the file's, or None when there is none
        (an external Redis whose URL carries its own credentials)."""
        from ivr.config.secret_files import read_secret  # noqa: PLC0415

        path = self.redis_password_path
        return read_secret(path) if path.exists() else None

    @property
    def private_redis(self) -> bool:
        return self.redis_url_env is None

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def calls_log(self) -> Path:
        return self.log_dir / "calls.jsonl"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        state_dir = Path(env.get("IVR_STATE_DIR") or "./var").absolute()
        cache_default = Path(env.get("HOME") or Path.home()) / ".cache" / "ivr"
        return cls(
            state_dir=state_dir,
            sip_host=env.get("IVR_SIP_HOST") or "127.0.0.1",
            sip_port=_port(env, "IVR_SIP_PORT", 5060),
            agi_host=env.get("IVR_AGI_HOST") or "127.0.0.1",
            agi_port=_port(env, "IVR_AGI_PORT", 4573),
            ami_port=_port(env, "IVR_AMI_PORT", 5038),
            redis_url_env=env.get("IVR_REDIS_URL") or None,
            redis_port=_port(env, "IVR_REDIS_PORT", 6380),
            pepper_file=Path(env.get("IVR_PEPPER_FILE") or state_dir / "pepper").absolute(),
            cache_dir=Path(env.get("IVR_CACHE_DIR") or cache_default).absolute(),
            database_url=env.get("IVR_DATABASE_URL") or f"sqlite:///{state_dir / 'ivr.db'}",
            agi_command_s=_float(env, "IVR_AGI_COMMAND_S", cls.agi_command_s),
            agi_allow=_networks(env, "IVR_AGI_ALLOW", cls.agi_allow),
            agi_max_calls=_int(env, "IVR_AGI_MAX_CALLS", cls.agi_max_calls),
            agi_secret_file=_path(env, "IVR_AGI_SECRET_FILE"),
            redis_password_file=_path(env, "IVR_REDIS_PASSWORD_FILE"),
            max_calls=_int(env, "IVR_MAX_CALLS", cls.max_calls),
            max_calls_per_s=_float(
                env, "IVR_MAX_CALLS_PER_S", cls.max_calls_per_s, allow_zero=True
            ),
            max_calls_burst=_int(env, "IVR_MAX_CALLS_BURST", cls.max_calls_burst, minimum=1),
            early_media=_flag(env, "IVR_EARLY_MEDIA", cls.early_media),
            metrics_host=env.get("IVR_METRICS_HOST") or cls.metrics_host,
            metrics_port=_port(env, "IVR_METRICS_PORT", cls.metrics_port, allow_zero=True),
            asterisk_http_port=_port(env, "IVR_ASTERISK_HTTP_PORT", cls.asterisk_http_port),
            redis_replicas=_int(env, "IVR_REDIS_REPLICAS", cls.redis_replicas),
            redis_replica_timeout_ms=_int(
                env, "IVR_REDIS_REPLICA_TIMEOUT_MS", cls.redis_replica_timeout_ms, minimum=1
            ),
            timing=Timing(
                first_key_s=_float(env, "IVR_FIRST_KEY_S", Timing.first_key_s),
                inter_key_s=_float(env, "IVR_INTER_KEY_S", Timing.inter_key_s),
                tries=_int(env, "IVR_TRIES", Timing.tries, minimum=1),
                max_call_s=_float(env, "IVR_MAX_CALL_S", Timing.max_call_s),
            ),
            limits=Limits(
                calls_per_hour=_int(env, "IVR_LIMIT_CALLS_PER_HOUR", Limits.calls_per_hour),
                failed_per_hour=_int(env, "IVR_LIMIT_FAILED_PER_HOUR", Limits.failed_per_hour),
                window_s=_int(env, "IVR_LIMIT_WINDOW_S", Limits.window_s, minimum=1),
            ),
        )
