"""A real Prometheus server for tests (free port, generated config, own storage, stop by
pid), and a plain scrape of a /metrics endpoint parsed into its samples."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.stackutil import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

READY_TIMEOUT_S = 30.0


class Prometheus:
    """`with Prometheus(targets={"ivr": ["127.0.0.1:9464"]}) as prom: prom.query("up")`."""

    def __init__(
        self,
        targets: dict[str, list[str]],
        *,
        workdir: Path | None = None,
        scrape_interval_s: int = 1,
        rule_files: list[Path] | None = None,
    ) -> None:
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="prom-")
        self.dir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.port = free_port()
        self.targets = targets
        self.interval = scrape_interval_s
        self.rule_files = rule_files or []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        jobs = [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": tg}]}
            for job, tg in self.targets.items()
        ]
        doc = {
            "global": {
                "scrape_interval": f"{self.interval}s",
                "evaluation_interval": f"{self.interval}s",
            },
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": jobs,
        }
        return json.dumps(doc, indent=2)  # JSON is YAML

    def start(self) -> Prometheus:
        cfg = self.dir / "prometheus.yml"
        cfg.write_text(self.config())
        log = open(self.dir / "prometheus.log", "ab")  # noqa: SIM115  (closed in stop)
        self._log = log
        self.proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={cfg}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"prometheus did not get ready: {self.log_tail()}")
            time.sleep(0.1)
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as resp:
            doc = json.load(resp)
        if doc.get("status") != "success":
            raise RuntimeError(f"prometheus API {path}: {doc}")
        return doc["data"]

    def query(self, promql: str) -> dict[tuple[tuple[str, str], ...], float]:
        """An instant query's vector as {sorted labels (without __name__): value}."""
        data = self.api("query", query=promql)
        return {
            tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(
                r["value"][1]
            )
            for r in data["result"]
        }

    def wait_for(self, promql: str, predicate, timeout_s: float = 20.0) -> dict:
        """Query until predicate(result) holds; fails with the last result."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(promql)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{promql}: still {result} after {timeout_s}s")
            time.sleep(0.2)

    def log_tail(self) -> str:
        path = self.dir / "prometheus.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        with contextlib.suppress(AttributeError):
            self._log.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def scrape(port: int, host: str = "127.0.0.1") -> Samples:
    """One GET of /metrics: {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def changes(before: Samples, after: Samples, name: str, *labels: str) -> dict[str, float]:
    """How each series of `name` moved between two scrapes (moves only), keyed by the values
    of `labels` joined with "/" (e.g. "menu/invalid_key")."""
    out: dict[str, float] = {}
    for (sample, found), value in after.items():
        if sample == name and (moved := value - before.get((sample, found), 0.0)) != 0:
            key = "/".join(dict(found)[label] for label in labels)
            out[key] = out.get(key, 0.0) + moved
    return out
