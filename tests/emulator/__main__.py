"""Run the emulated Kubernetes API server from the command line.

  python -m tests.emulator start --state-dir DIR [--port N]   start detached; returns when ready
  python -m tests.emulator stop  --state-dir DIR              stop the one started there
  python -m tests.emulator serve --state-dir DIR [--port N]   run in the foreground

DIR receives kubeconfig (admin token, mode 0600), url, pid, ca.crt and server.log.
"""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def _ready(url: str, ca_file: Path) -> bool:
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
        with urllib.request.urlopen(url + "/readyz", context=context, timeout=2) as answer:
            return answer.status == 200
    except (OSError, ssl.SSLError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    # A recycled pid running something else is not our server.
    return not cmdline.exists() or b"tests.emulator" in cmdline.read_bytes()


def _running_pid(state_dir: Path) -> int | None:
    try:
        pid = int((state_dir / "pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def serve(state_dir: Path, port: int, openshift: bool = False) -> int:
    from tests.emulator.cluster import EmulatedCluster

    state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with EmulatedCluster(port=port, state_dir=state_dir, openshift=openshift) as cluster:
        cluster.write_kubeconfig(state_dir / "kubeconfig")
        (state_dir / "url").write_text(cluster.url + "\n")
        (state_dir / "pid").write_text(f"{os.getpid()}\n")
        print(f"emulated cluster serving on {cluster.url}; kubeconfig {state_dir / 'kubeconfig'}", flush=True)
        stop.wait()
    for name in ("url", "pid"):
        (state_dir / name).unlink(missing_ok=True)
    return 0


def start(state_dir: Path, port: int, openshift: bool = False) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    pid = _running_pid(state_dir)
    if pid is not None:
        print(f"emulated cluster already running (pid {pid}) on {(state_dir / 'url').read_text().strip()}")
        return 0
    for name in ("url", "pid"):
        (state_dir / name).unlink(missing_ok=True)
    project_root = Path(__file__).resolve().parents[2]
    log = open(state_dir / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator", "serve", "--state-dir", str(state_dir), "--port", str(port)]
        + (["--openshift"] if openshift else []),
        cwd=project_root,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(
                f"emulated cluster exited (code {process.returncode}); see {state_dir / 'server.log'}",
                file=sys.stderr,
            )
            return 1
        url_file = state_dir / "url"
        if url_file.exists() and _ready(url_file.read_text().strip(), state_dir / "ca.crt"):
            print(
                f"emulated cluster ready on {url_file.read_text().strip()} (pid {process.pid}); "
                f"KUBECONFIG={state_dir / 'kubeconfig'}"
            )
            return 0
        time.sleep(0.05)
    process.terminate()
    print(
        f"emulated cluster not ready after {START_TIMEOUT:.0f} s; see {state_dir / 'server.log'}",
        file=sys.stderr,
    )
    return 1


def stop(state_dir: Path) -> int:
    pid = _running_pid(state_dir)
    if pid is None:
        print(f"no emulated cluster running from {state_dir}")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        print(f"emulated cluster (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s", file=sys.stderr)
        return 1
    for name in ("url", "pid"):
        (state_dir / name).unlink(missing_ok=True)
    print(f"emulated cluster (pid {pid}) stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "serve", "stop"):
        command = commands.add_parser(name)
        command.add_argument(
            "--state-dir",
            required=True,
            type=Path,
            help="directory for kubeconfig, url, pid, certificates and log",
        )
        if name != "stop":
            command.add_argument(
                "--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)"
            )
            command.add_argument(
                "--openshift", action="store_true", help="also serve OpenShift's project API"
            )
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    if args.command == "serve":
        return serve(state_dir, args.port, args.openshift)
    if args.command == "start":
        return start(state_dir, args.port, args.openshift)
    return stop(state_dir)


if __name__ == "__main__":
    sys.exit(main())
