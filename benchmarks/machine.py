"""Where and with what a benchmark ran: date, CPU, load, and the versions of every tool."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.contenders import BENCH_VENV, PROJECT_BIN


@dataclass
class Machine:
    date: str
    cpus: int
    cpu_model: str
    load_at_start: tuple[float, float, float]
    python: str
    load_at_end: tuple[float, float, float] | None = None

    @classmethod
    def now(cls) -> Machine:
        return cls(
            datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            os.cpu_count() or 0,
            cpu_model(),
            os.getloadavg(),
            platform.python_version(),
        )

    def finish(self) -> None:
        self.load_at_end = os.getloadavg()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def ansible_core_version(python: Path) -> str | None:
    if not python.exists():
        return None
    found = _output([str(python), "-c", "import ansible.release; print(ansible.release.__version__)"])
    return found or None


def kubernetes_core_version() -> str | None:
    for manifest in BENCH_VENV.glob(
        "lib/python*/site-packages/ansible_collections/kubernetes/core/MANIFEST.json"
    ):
        return json.loads(manifest.read_text())["collection_info"]["version"]
    return None


def kubectl_version() -> str | None:
    kubectl = PROJECT_BIN / "kubectl"
    if not kubectl.exists():
        return None
    found = _output([str(kubectl), "version", "--client", "-o", "json"])
    try:
        return json.loads(found)["clientVersion"]["gitVersion"]
    except (ValueError, KeyError):
        return None


def tool_versions() -> dict[str, str]:
    """Versions by tool; a tool that is not installed says so."""
    missing = "not installed"
    return {
        "ansible-core (project .venv)": ansible_core_version(PROJECT_BIN / "python") or missing,
        "ansible-core (benchmark venv)": ansible_core_version(BENCH_VENV / "bin" / "python") or missing,
        "kubernetes.core": kubernetes_core_version() or missing,
        "kubectl": kubectl_version() or missing,
    }
