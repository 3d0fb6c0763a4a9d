"""Running a test server as a detached process from a command line: start it, wait until it
answers, keep its pid in the state directory, stop it. `python -m emulator` and
`python -m emulator.ibmcloud` both declare a `Daemon` and differ only in what they serve and
how readiness is asked, so scripts/demo.sh and Molecule see one behaviour.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.05
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def stop_requested() -> threading.Event:
    """An event set by SIGTERM (what `stop` sends) or SIGINT (Ctrl-C in the foreground)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def command_parser(prog: str, description: str, state_dir_help: str,
                   add_server_options: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """The command line both servers share: start / serve / stop / writes, each with --state-dir;
    start and serve also take what `add_server_options` adds."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "serve", "stop", "writes"):
        command = commands.add_parser(name)
        command.add_argument("--state-dir", required=True, type=Path, help=state_dir_help)
        if name in ("start", "serve"):
            add_server_options(command)
    writes = commands.choices["writes"]
    writes.description = (
        "Print the write requests (POST, PUT, PATCH, DELETE) the running server answered since its "
        "controls were last reset: the count of those that may have changed state, then each one "
        "(method, path, user, status; dry-run requests and queries marked and not counted)."
    )
    writes.add_argument("--reset", action="store_true", help="reset the controls after reading, so "
                        "the next query counts from now")
    writes.add_argument("--json", action="store_true", help='print {"count": N, "writes": [...]} as JSON')
    return parser


@dataclass(frozen=True)
class Daemon:
    label: str  # how messages name the server, e.g. "emulated cluster"
    module: str  # started as `python -m <module> serve ...`
    pid_file: str
    log_file: str
    state_files: tuple[str, ...]  # files that exist only while it serves (the pid file among them)

    def running_pid(self, state_dir: Path) -> int | None:
        try:
            pid = int((state_dir / self.pid_file).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def forget(self, state_dir: Path) -> None:
        for name in self.state_files:
            (state_dir / name).unlink(missing_ok=True)

    def start(self, state_dir: Path, serve_args: list[str], *, ready: Callable[[], bool],
              ready_message: Callable[[int], str], running_message: Callable[[int], str],
              refusal: Callable[[], str | None] = lambda: None, timeout: float | None = None) -> int:
        """Start `serve` detached (its output in the log file) and return once `ready()` holds; 0 at
        once if one already serves from `state_dir`; 1 with the reason on stderr if `refusal()` names
        one, or the server exits or is not ready within `timeout` seconds (default START_TIMEOUT)."""
        timeout = timeout or START_TIMEOUT
        state_dir.mkdir(parents=True, exist_ok=True)
        pid = self.running_pid(state_dir)
        if pid is not None:
            print(running_message(pid))
            return 0
        reason = refusal()
        if reason:
            print(reason, file=sys.stderr)
            return 1
        self.forget(state_dir)
        with open(state_dir / self.log_file, "ab") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                [sys.executable, "-m", self.module, "serve", "--state-dir", str(state_dir), *serve_args],
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                print(f"{self.label} exited (code {process.returncode}); see {state_dir / self.log_file}",
                      file=sys.stderr)
                return 1
            if ready():
                print(ready_message(process.pid))
                return 0
            time.sleep(POLL_INTERVAL)
        process.terminate()
        print(f"{self.label} not ready after {timeout:.0f} s; see {state_dir / self.log_file}",
              file=sys.stderr)
        return 1

    def stop(self, state_dir: Path) -> int:
        pid = self.running_pid(state_dir)
        if pid is None:
            print(f"no {self.label} running from {state_dir}")
            return 0
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(POLL_INTERVAL)
        if self._alive(pid):
            print(f"{self.label} (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s", file=sys.stderr)
            return 1
        self.forget(state_dir)
        print(f"{self.label} (pid {pid}) stopped")
        return 0

    def _alive(self, pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        cmdline = Path(f"/proc/{pid}/cmdline")
        # A recycled pid running something else is not our server: the module must be one of its
        # arguments exactly (emulator is a prefix of emulator.ibmcloud).
        return not cmdline.exists() or self.module.encode() in cmdline.read_bytes().split(b"\0")
