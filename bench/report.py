"""What a scenario hands back, the printed table, and the JSON written to bench/results/."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from bench import RESULTS_DIR
from bench.load import Result

# Versions that move the figures; recorded so two result files can be compared honestly.
PACKAGES = (
    "strawberry-graphql",
    "graphql-core",
    "starlette",
    "tortoise-orm",
    "asyncpg",
    "uvicorn",
    "uvloop",
    "httptools",
)


class Report(Protocol):
    """What every scenario hands back: a name, its printed table, its JSON."""

    name: str

    def render(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


@dataclass
class Row:
    label: str
    runs: list[Result]
    sql_per_request: int | None

    @property
    def best(self) -> Result:
        # The best run is the one least disturbed by the other tenants of a shared machine.
        return max(self.runs, key=lambda r: r.rps)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "sql_per_request": self.sql_per_request,
            "best": self.best.as_dict(),
            "runs": [r.as_dict() for r in self.runs],
            "errors_all_runs": self.errors,
        }


@dataclass
class ScenarioReport:
    name: str
    rows: list[Row]
    ratio: float  # the measured server's requests/s over its floor's
    ratio_label: str  # e.g. "a/b"
    target: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def target_met(self) -> bool:
        return self.ratio >= self.target

    def render(self) -> str:
        return table(self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "rows": [row.as_dict() for row in self.rows],
            "ratio": {
                "name": self.ratio_label,
                "value": round(self.ratio, 4),
                "target": self.target,
                "met": self.target_met,
            },
            **self.details,
        }


def table(report: ScenarioReport) -> str:
    header = f"{'scenario':<28} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'SQL/req':>8} {'errors':>7}"
    lines = [f"== {report.name} ==", header, "-" * len(header)]
    for row in report.rows:
        best = row.best
        sql = "-" if row.sql_per_request is None else str(row.sql_per_request)
        lines.append(
            f"{row.label:<28} {best.rps:>11.1f} {best.p50_ms:>8.2f} {best.p99_ms:>8.2f} {sql:>8} {row.errors:>7}"
        )
    verdict = "target met" if report.target_met else "TARGET MISSED"
    lines.append(f"{report.ratio_label} = {report.ratio:.3f} (target >= {report.target:.2f}): {verdict}")
    return "\n".join(lines)


def machine_info(generator: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_generator": generator,
        "load_generator_version": _wrk_version() if generator == "wrk" else None,
        "packages": {name: _version(name) for name in PACKAGES},
    }
    if hasattr(os, "getloadavg"):
        info["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _wrk_version() -> str | None:
    # `wrk -v` prints its version line and exits non-zero; only the first line matters.
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0] if first else None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def utc_stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def write_json(report: Report, common: dict[str, Any], stamp: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{report.name}-{stamp}.json"
    document = {"timestamp_utc": stamp, **common, **report.as_dict()}
    path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    return path
