"""The benchmark's own virtualenv, .cache/bench-venv: kubernetes.core (from the `ansible` package)
for the comparison only, never a project dependency. Re-installed when benchmarks/requirements.txt
changes, as scripts/setup.sh does for the project's .venv."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from benchmarks.contenders import BENCH_VENV, ROOT

REQUIREMENTS = ROOT / "benchmarks" / "requirements.txt"
STAMP = BENCH_VENV / ".requirements.sha256"


def ensure_bench_venv(log=print) -> None:
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if (
        STAMP.exists()
        and STAMP.read_text().strip() == want
        and (BENCH_VENV / "bin" / "ansible-playbook").exists()
    ):
        return
    log(
        f"installing the benchmark virtualenv {BENCH_VENV.relative_to(ROOT)} from "
        f"{REQUIREMENTS.relative_to(ROOT)} (kubernetes.core via the ansible package; a few minutes)"
    )
    if not (BENCH_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run(
        [
            str(BENCH_VENV / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    STAMP.write_text(want + "\n")
