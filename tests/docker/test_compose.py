"""The deployment files, checked without a Docker engine (tests/deploy runs them for real):
the compose files' services, secrets, networks and policies, the Dockerfiles, and the Asterisk
image's configuration equal to what the end-to-end Asterisk loads."""

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


def env(service: str, services: dict = SERVICES) -> dict[str, str]:
    return {k: str(v) for k, v in (services[service].get("environment") or {}).items()}


CLUSTER = yaml.safe_load((DOCKER / "docker-compose.cluster.yml").read_text())
BOTH = [("single", COMPOSE), ("cluster", CLUSTER)]


@pytest.mark.parametrize(("_name", "compose"), BOTH)
def test_services_and_their_secrets_are_declared(_name: str, compose: dict) -> None:
    services = compose["services"]
    declared = set(compose["secrets"])
    for name, service in services.items():
        used = set(service.get("secrets", []))
        assert used <= declared, name
        for key, value in env(name, services).items():  # every *_FILE / PGPASSFILE: a secret it has
            if key.endswith("_FILE") or key == "PGPASSFILE":
                match = re.fullmatch(r"/run/secrets/([a-z_]+)", value)
                assert match and match.group(1) in used, (name, key, value)
            assert not (re.search("PASSWORD|SECRET|PEPPER", key) and not key.endswith("_FILE"))
    made = subprocess.run(["grep", "-o", "keep_or [a-z.-]*\\|derive [a-z.-]*",
                           str(REPO / "scripts" / "make-secrets.sh")],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    files = {line.split()[1] for line in made.splitlines()}
    for name, spec in compose["secrets"].items():
        assert spec["file"].startswith("${IVR_SECRETS_DIR:-./secrets}/"), name
        assert spec["file"].rsplit("/", 1)[1] in files, name  # make-secrets.sh makes it


@pytest.mark.parametrize(("_name", "compose"), BOTH)
def test_every_service_on_the_host_network_with_a_policy_and_rotated_logs(
    _name: str, compose: dict
) -> None:
    for name, service in compose["services"].items():
        assert service["network_mode"] == "host", name
        assert "ports" not in service, name  # nothing published: loopback unless configured
        assert service["restart"] == ("no" if name == "tools" else "unless-stopped"), name
        assert service["logging"]["options"] == {"max-size": "10m", "max-file": "5"}, name
        assert service["image"].startswith("ivr-") and service["image"].endswith(
            ":${IVR_IMAGE_TAG:-latest}"
        ), name  # images of `make images`, no registry


def test_no_service_without_a_password() -> None:
    redis_conf = (DOCKER / "redis.conf").read_text()
    assert "include /run/secrets/redis_auth_conf" in redis_conf
    assert "requirepass" not in re.sub(r"#.*", "", redis_conf)  # only in the secret
    assert "redis_auth_conf" in SERVICES["redis"]["secrets"]
    assert "appendfsync always" in redis_conf and "bind 127.0.0.1" in redis_conf
    assert SERVICES["postgres"]["secrets"] == ["pg_password"]
    entry = (DOCKER / "entrypoints" / "ivr-postgres").read_text()
    assert "--auth-host=scram-sha-256" in entry and "--auth-local=peer" in entry
    agi = env("agi")
    assert agi["IVR_AGI_SECRET_FILE"] == "/run/secrets/agi_secret"
    assert agi["IVR_REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password"
    assert agi["IVR_PEPPER_FILE"] == "/run/secrets/ivr_pepper"
    assert "IVR_AGI_ALLOW" not in agi  # the default: loopback only
    assert "@" not in agi["IVR_REDIS_URL"] and "ivr@127.0.0.1" in agi["IVR_DATABASE_URL"]
    assert {"ami_secret", "agi_secret"} <= set(SERVICES["asterisk"]["secrets"])


def test_cluster_nodes_have_their_secrets_ports_and_agi_lists() -> None:
    services = CLUSTER["services"]
    ports = set()
    for node, first, second in (("asterisk-1", "1", "2"), ("asterisk-2", "2", "1")):
        assert {"ami_secret", "agi_secret"} <= set(services[node]["secrets"])
        e = env(node, services)
        assert e["IVR_AGI_SERVERS"] == (
            f"127.0.0.1:${{IVR_AGI_PORT_{first}:-{4573 + int(first)}}}"
            f"&127.0.0.1:${{IVR_AGI_PORT_{second}:-{4573 + int(second)}}}"
        )
        ports |= {e["IVR_SIP_PORT"], e["IVR_AMI_PORT"], e["IVR_ASTERISK_HTTP_PORT"]}
    assert len(ports) == 6  # each node its own SIP, AMI and res_prometheus port
    nodes = env("kamailio", services)["IVR_KAMAILIO_NODES"]
    assert nodes.count("IVR_SIP_PORT_1") == 1 and nodes.count("IVR_SIP_PORT_2") == 1
    for i in (1, 2, 3):
        assert services[f"sentinel-{i}"]["entrypoint"] == ["ivr-sentinel"]


def test_images_are_built_from_local_roots_and_hold_no_secret() -> None:
    for dockerfile in DOCKER.glob("Dockerfile.*"):
        text = dockerfile.read_text()
        assert "ARG ROOT\nFROM ${ROOT}\n" in text, dockerfile.name  # the imported root
        assert re.search(r"^USER 100\d\d:100\d\d$", text, re.M), dockerfile.name
        assert "secret" not in re.sub(r"#.*", "", text).lower(), dockerfile.name
    docker = (DOCKER / "Dockerfile.asterisk").read_text()
    assert "COPY templates/ /usr/share/ivr/templates/" in docker
    assert 'ENTRYPOINT ["/usr/local/bin/ivr-asterisk"]' in docker


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
        ["sh", str(DOCKER / "entrypoints" / "ivr-asterisk"), "--render-only"],
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
        ["sh", str(DOCKER / "entrypoints" / "ivr-asterisk"), "--render-only"],
        env={"PATH": "/usr/bin:/bin", "IVR_SECRETS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"ivr-asterisk: no secret {tmp_path}/ami_secret"
