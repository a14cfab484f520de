"""docker/prometheus: promtool accepts the config and the rules, and the alerts fire when
(and only when) they should, by `promtool test rules` on synthetic series."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.stackutil import REPO

PROM = REPO / "docker" / "prometheus"
AM = REPO / "docker" / "alertmanager"


def promtool(*args: str, cwd: Path = PROM) -> str:
    out = subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_promtool_checks_config_and_rules() -> None:
    assert "SUCCESS: 8 rules found" in promtool("check", "rules", "alerts.yml")
    out = promtool("check", "config", "prometheus.yml")
    assert "is valid prometheus config file syntax" in out


def test_amtool_checks_the_alertmanager_config() -> None:
    out = subprocess.run(["amtool", "check-config", "alertmanager.yml"], cwd=AM,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr


def test_config_scrapes_every_part_and_alerts_alertmanager() -> None:
    cfg = yaml.safe_load((PROM / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert set(jobs) == {"ivr-agi", "asterisk", "redis", "postgres"}
    for name, job in jobs.items():  # targets written by the image's entrypoint from the env
        assert job["file_sd_configs"] == [{"files": [f"/etc/ivr/prometheus/targets/{name}.json"]}]
    managers = cfg["alerting"]["alertmanagers"][0]["file_sd_configs"][0]["files"]
    assert managers == ["/etc/ivr/prometheus/targets/alertmanager.json"]
    assert cfg["rule_files"] == ["alerts.yml"]


def annotations(alert: str) -> dict[str, str]:
    for group in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                return rule["annotations"]
    raise AssertionError(f"no alert {alert}")


def fires(alert: str, labels: dict[str, str], **fmt: str) -> dict:
    ann = {
        k: v.replace("{{ $labels.outcome }}", fmt.get("outcome", ""))
        for k, v in annotations(alert).items()
    }
    return {"exp_labels": labels, "exp_annotations": ann}


def test_alert_rules_fire_when_they_should(tmp_path: Path) -> None:
    ivr = 'job="ivr-agi",instance="a:9464"'
    ivr_b = 'job="ivr-agi",instance="b:9464"'
    slow = "0+5x40"  # half the commands above 100 ms
    tests = [
        {  # an error_store call: IvrCallErrors for 5 minutes, then quiet again
            "interval": "1m",
            "input_series": [
                {
                    "series": f'ivr_calls_total{{outcome="error_store",{ivr}}}',
                    "values": "0 0 0 1 1 1 1 1 1 1 1 1",
                },
                {"series": f'ivr_calls_total{{outcome="set",{ivr}}}', "values": "0+1x11"},
            ],
            "alert_rule_test": [
                {"eval_time": "2m", "alertname": "IvrCallErrors", "exp_alerts": []},
                {
                    "eval_time": "5m",
                    "alertname": "IvrCallErrors",
                    "exp_alerts": [
                        fires(
                            "IvrCallErrors",
                            {"severity": "page", "outcome": "error_store"},
                            outcome="error_store",
                        )
                    ],
                },
                {"eval_time": "11m", "alertname": "IvrCallErrors", "exp_alerts": []},
            ],
        },
        {  # AGI commands: fast ones never alert, slow ones after the 5 minutes of `for`
            "interval": "1m",
            "input_series": [
                {
                    "series": f'ivr_agi_command_seconds_bucket{{le="0.05",{ivr}}}',
                    "values": "0+10x40",
                },
                {
                    "series": f'ivr_agi_command_seconds_bucket{{le="0.1",{ivr}}}',
                    "values": "0+10x40",
                },
                {
                    "series": f'ivr_agi_command_seconds_bucket{{le="+Inf",{ivr}}}',
                    "values": "0+10x40",
                },
                {
                    "series": f'ivr_agi_command_seconds_bucket{{le="0.1",{ivr_b}}}',
                    "values": slow,
                },
                {
                    "series": f'ivr_agi_command_seconds_bucket{{le="0.25",{ivr_b}}}',
                    "values": "0+10x40",
                },
                {
                    "series": f'ivr_agi_command_seconds_bucket{{le="+Inf",{ivr_b}}}',
                    "values": "0+10x40",
                },
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "IvrAgiCommandSlow", "exp_alerts": []},
                {
                    "eval_time": "15m",
                    "alertname": "IvrAgiCommandSlow",
                    "exp_alerts": [fires("IvrAgiCommandSlow", {"severity": "warn"})],
                },
            ],
        },
        {  # Asterisk up, calls stop after 30 minutes: IvrNoCalls an hour after 15 quiet minutes
            "interval": "1m",
            "input_series": [
                {"series": 'up{job="asterisk",instance="127.0.0.1:8088"}', "values": "1x200"},
                {"series": f'ivr_calls_total{{outcome="set",{ivr}}}', "values": "0+1x30 30x170"},
            ],
            "alert_rule_test": [
                {"eval_time": "30m", "alertname": "IvrNoCalls", "exp_alerts": []},
                {"eval_time": "100m", "alertname": "IvrNoCalls", "exp_alerts": []},
                {
                    "eval_time": "110m",
                    "alertname": "IvrNoCalls",
                    "exp_alerts": [fires("IvrNoCalls", {"severity": "warn"})],
                },
            ],
        },
        {  # Asterisk down too: that is not "no calls" (other alerts cover it)
            "interval": "1m",
            "input_series": [
                {"series": 'up{job="asterisk",instance="127.0.0.1:8088"}', "values": "0x200"},
                {"series": f'ivr_calls_total{{outcome="set",{ivr}}}', "values": "0x200"},
            ],
            "alert_rule_test": [{"eval_time": "150m", "alertname": "IvrNoCalls", "exp_alerts": []}],
        },
    ]
    down = {"interval": "10s", "input_series": [
        {"series": 'up{job="ivr-agi",instance="127.0.0.1:9464"}', "values": "1 1 0x20"},
        {"series": 'up{job="asterisk",instance="127.0.0.1:8088"}', "values": "1 1 0x20"},
        {"series": 'redis_up{job="redis",instance="127.0.0.1:9121"}', "values": "1 1 0x20"},
        {"series": 'pg_up{job="postgres",instance="127.0.0.1:9187"}', "values": "1 1 0x20"},
        {"series": 'redis_instance_info{job="redis",instance="127.0.0.1:9121",role="master"}',
         "values": "1 1 stale"},  # the exporter stops exporting it
    ], "alert_rule_test": []}  # fmt: skip
    for alert, labels in (
        ("IvrAgiDown", {"job": "ivr-agi", "instance": "127.0.0.1:9464"}),
        ("IvrAsteriskDown", {"job": "asterisk", "instance": "127.0.0.1:8088"}),
        ("IvrRedisDown", {"job": "redis", "instance": "127.0.0.1:9121"}),
        ("IvrPostgresDown", {"job": "postgres", "instance": "127.0.0.1:9187"}),
    ):
        ann = {k: v.replace("{{ $labels.instance }}", labels["instance"])
               for k, v in annotations(alert).items()}  # fmt: skip
        expected = [{"exp_labels": {"severity": "page", **labels}, "exp_annotations": ann}]
        down["alert_rule_test"] += [
            {"eval_time": "60s", "alertname": alert, "exp_alerts": []},  # down, not for long
            {"eval_time": "150s", "alertname": alert, "exp_alerts": expected},
        ]
    down["alert_rule_test"] += [
        {"eval_time": "10s", "alertname": "IvrRedisNoPrimary", "exp_alerts": []},
        {"eval_time": "150s", "alertname": "IvrRedisNoPrimary", "exp_alerts": [
            fires("IvrRedisNoPrimary", {"severity": "page", "role": "master"})]},
    ]  # fmt: skip
    tests.append(down)
    spec = tmp_path / "alerts_test.yml"
    spec.write_text(
        json.dumps(
            {"rule_files": [str(PROM / "alerts.yml")], "evaluation_interval": "1m", "tests": tests}
        )
    )
    out = promtool("test", "rules", str(spec), cwd=tmp_path)
    assert "SUCCESS" in out
