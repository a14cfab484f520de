"""One settings object: ports, URLs, timeouts and limits, read from the environment.

Every default is documented here and in README; `shared/spec/interfaces.md` is the contract.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ivr.flow.timing import Timing
from store.limits import Limits


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


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
    timing: Timing = field(default_factory=Timing)
    limits: Limits = field(default_factory=Limits)

    @property
    def redis_url(self) -> str:
        """The one URL rule every ivrctl command and the server share."""
        return self.redis_url_env or f"redis://127.0.0.1:{self.redis_port}/0"

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
            sip_port=_int(env, "IVR_SIP_PORT", 5060),
            agi_host=env.get("IVR_AGI_HOST") or "127.0.0.1",
            agi_port=_int(env, "IVR_AGI_PORT", 4573),
            ami_port=_int(env, "IVR_AMI_PORT", 5038),
            redis_url_env=env.get("IVR_REDIS_URL") or None,
            redis_port=_int(env, "IVR_REDIS_PORT", 6380),
            pepper_file=Path(env.get("IVR_PEPPER_FILE") or state_dir / "pepper").absolute(),
            cache_dir=Path(env.get("IVR_CACHE_DIR") or cache_default).absolute(),
            database_url=env.get("IVR_DATABASE_URL") or f"sqlite:///{state_dir / 'ivr.db'}",
            agi_command_s=_float(env, "IVR_AGI_COMMAND_S", cls.agi_command_s),
            timing=Timing(
                first_key_s=_float(env, "IVR_FIRST_KEY_S", Timing.first_key_s),
                inter_key_s=_float(env, "IVR_INTER_KEY_S", Timing.inter_key_s),
                tries=_int(env, "IVR_TRIES", Timing.tries) or Timing.tries,
                max_call_s=_float(env, "IVR_MAX_CALL_S", Timing.max_call_s),
            ),
            limits=Limits(
                calls_per_hour=_int(env, "IVR_LIMIT_CALLS_PER_HOUR", Limits.calls_per_hour),
                failed_per_hour=_int(env, "IVR_LIMIT_FAILED_PER_HOUR", Limits.failed_per_hour),
                window_s=_int(env, "IVR_LIMIT_WINDOW_S", Limits.window_s) or Limits.window_s,
            ),
        )
