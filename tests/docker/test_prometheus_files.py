"""docker/prometheus: promtool accepts the config and the rules, and the alerts fire when
(and only when) they should, by `promtool test rules` on synthetic series."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.stackutil import REPO

PROM = REPO / "docker" / "prometheus"


def promtool(*args: str, cwd: Path = PROM) -> str:
    out = subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_promtool_checks_config_and_rules() -> None:
    assert "SUCCESS: 4 rules found" in promtool("check", "rules", "alerts.yml")
    out = promtool("check", "config", "prometheus.yml")
    assert "is valid prometheus config file syntax" in out


def test_config_scrapes_the_agi_server_and_asterisk() -> None:
    cfg = yaml.safe_load((PROM / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["ivr-agi"]["static_configs"][0]["targets"] == ["127.0.0.1:9464"]
    assert jobs["asterisk"]["metrics_path"] == "/metrics"
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
    spec = tmp_path / "alerts_test.yml"
    spec.write_text(
        json.dumps(
            {"rule_files": [str(PROM / "alerts.yml")], "evaluation_interval": "1m", "tests": tests}
        )
    )
    out = promtool("test", "rules", str(spec), cwd=tmp_path)
    assert "SUCCESS" in out
