"""The deployment, validated without a Docker engine: the compose file's services, secrets and
ports, and the Asterisk image's configuration equal to what the end-to-end Asterisk loads."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from dialplan import render as dialplan
from ivr.config.settings import Settings
from ivr.deploy.stack import dialplan_values
from tests.stackutil import REPO

DOCKER = REPO / "docker"
COMPOSE = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def test_services_and_their_secrets_are_declared() -> None:
    assert set(SERVICES) == {"redis", "agi", "asterisk", "postgres", "prometheus"}
    declared = set(COMPOSE["secrets"])
    for name, service in SERVICES.items():
        used = set(service.get("secrets", []))
        assert used <= declared, name
        for key, value in env(name).items():  # every *_FILE / PGPASSFILE: a secret it has
            if key.endswith("_FILE") or key == "PGPASSFILE":
                match = re.fullmatch(r"/run/secrets/([a-z_]+)", value)
                assert match and match.group(1) in used, (name, key, value)
            assert not (re.search("PASSWORD|SECRET|PEPPER", key) and not key.endswith("_FILE"))
    for name, spec in COMPOSE["secrets"].items():
        assert spec["file"].startswith("./secrets/"), name  # files the operator makes, 0600


def test_no_service_without_a_password() -> None:
    redis_conf = (DOCKER / "redis.conf").read_text()
    assert "include /run/secrets/redis_auth_conf" in redis_conf
    assert "requirepass" not in re.sub(r"#.*", "", redis_conf)  # only in the secret
    assert "redis_auth_conf" in SERVICES["redis"]["secrets"]
    assert "appendfsync always" in redis_conf
    pg = env("postgres")
    assert pg["POSTGRES_PASSWORD_FILE"] == "/run/secrets/pg_password"
    assert "--auth-host=scram-sha-256" in pg["POSTGRES_INITDB_ARGS"]
    assert "--auth-local=scram-sha-256" in pg["POSTGRES_INITDB_ARGS"]
    assert "POSTGRES_HOST_AUTH_METHOD" not in pg and "POSTGRES_PASSWORD" not in pg
    agi = env("agi")
    assert agi["IVR_AGI_SECRET_FILE"] == "/run/secrets/agi_secret"
    assert agi["IVR_REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password"
    assert agi["IVR_PEPPER_FILE"] == "/run/secrets/ivr_pepper"
    allow = agi["IVR_AGI_ALLOW"].split(",")
    assert allow and not {"0.0.0.0/0", "::/0"} & set(allow)
    assert "@" not in agi["IVR_REDIS_URL"] and "@postgres" in agi["IVR_DATABASE_URL"]
    assert ":" not in agi["IVR_DATABASE_URL"].split("//")[1].split("@")[0]  # no password in it
    assert {"ami_secret", "agi_secret"} <= set(SERVICES["asterisk"]["secrets"])


def test_published_ports_are_loopback_only() -> None:
    published = [(n, p) for n, s in SERVICES.items() for p in s.get("ports", [])]
    assert published, "the FastAGI and metrics ports are published"
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), (name, port)
    for name in ("redis", "postgres"):
        assert "ports" not in SERVICES[name]  # reachable on the compose network only
    host_net = {n for n, s in SERVICES.items() if s.get("network_mode") == "host"}
    assert host_net == {"asterisk", "prometheus"}
    prom = SERVICES["prometheus"]["command"]
    assert "--web.listen-address=127.0.0.1:9090" in prom


def test_asterisk_image_uses_the_templates_and_entrypoint() -> None:
    docker = (DOCKER / "Dockerfile.asterisk").read_text()
    assert "COPY dialplan/templates/ /usr/share/ivr/templates/" in docker
    assert "COPY docker/asterisk-entrypoint.sh /usr/local/bin/ivr-asterisk" in docker
    assert 'ENTRYPOINT ["/usr/local/bin/ivr-asterisk"]' in docker
    assert SERVICES["asterisk"]["build"]["dockerfile"] == "docker/Dockerfile.asterisk"
    prom_volumes = SERVICES["prometheus"]["volumes"]
    assert "./prometheus:/etc/prometheus:ro" in prom_volumes


@pytest.mark.parametrize("early", ["1", "0"])
def test_entrypoint_renders_what_the_stack_renders(tmp_path: Path, early: str) -> None:
    """Same values in → the same bytes out as dialplan/render.py (what e2e Asterisk loads)."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ami_secret").write_text("a&m|i\\s3cret\n")  # sed's special characters too
    (secrets / "agi_secret").write_text("0123abcd\n")
    values = {
        "IVR_SIP_HOST": "192.0.2.10",
        "IVR_SIP_PORT": "5070",
        "IVR_AGI_PORT": "4600",
        "IVR_AMI_PORT": "5100",
        "IVR_ASTERISK_HTTP_PORT": "8099",
        "IVR_MAX_CALL_S": "240",
        "IVR_EARLY_MEDIA": early,
    }
    out = tmp_path / "etc"
    done = subprocess.run(
        ["sh", str(DOCKER / "asterisk-entrypoint.sh"), "--render-only"],
        env={
            **values,
            "PATH": "/usr/bin:/bin",
            "IVR_TEMPLATES": str(REPO / "dialplan" / "templates"),
            "IVR_ASTERISK_ETC": str(out),
            "IVR_SECRETS_DIR": str(secrets),
            "IVR_ASTERISK_MODDIR": "/usr/lib/x86_64-linux-gnu/asterisk/modules",
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    settings = Settings.from_env({**values, "IVR_STATE_DIR": "/ivr"})
    expected = dialplan.render(
        dialplan_values(
            settings,
            moddir="/usr/lib/x86_64-linux-gnu/asterisk/modules",
            ami_secret="a&m|i\\s3cret",
            agi_secret="0123abcd",
        )
    )
    got = {p.name: p.read_text() for p in out.glob("*.conf")}
    assert set(got) == set(expected)
    for name, text in expected.items():
        assert got[name] == text, name
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in out.glob("*.conf"))


def test_entrypoint_refuses_a_missing_secret(tmp_path: Path) -> None:
    done = subprocess.run(
        ["sh", str(DOCKER / "asterisk-entrypoint.sh"), "--render-only"],
        env={"PATH": "/usr/bin:/bin", "IVR_SECRETS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"ivr-asterisk: no secret {tmp_path}/ami_secret"
