"""Run the emulated Kubernetes API server from the command line.

  python -m emulator start --state-dir DIR [--port N] [--openshift] [--tekton[=v1beta1]]
                                                        start detached; returns when ready
  python -m emulator stop  --state-dir DIR              stop the one started there
  python -m emulator serve --state-dir DIR [--port N]   run in the foreground
  python -m emulator writes --state-dir DIR [--reset] [--json]
                                                        the writes since the controls' last reset

DIR receives kubeconfig (admin token, mode 0600), url, pid, ca.crt and server.log.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import urllib.request
from pathlib import Path

from emulator.controls import ControlEndpoint, writes_command
from emulator.daemon import Daemon, command_parser, stop_requested

DAEMON = Daemon(label="emulated cluster", module="emulator", pid_file="pid", log_file="server.log",
                state_files=("url", "pid"))


def _ready(state_dir: Path) -> bool:
    url_file = state_dir / "url"
    try:
        context = ssl.create_default_context(cafile=str(state_dir / "ca.crt"))
        with urllib.request.urlopen(url_file.read_text().strip() + "/readyz", context=context,
                                    timeout=2) as answer:
            return answer.status == 200
    except (OSError, ssl.SSLError):
        return False


def serve(state_dir: Path, port: int, openshift: bool = False, tekton: str | None = None) -> int:
    from emulator.cluster import EmulatedCluster

    state_dir.mkdir(parents=True, exist_ok=True)
    stop = stop_requested()
    with EmulatedCluster(port=port, state_dir=state_dir, openshift=openshift,
                         tekton=tekton or False) as cluster:
        cluster.write_kubeconfig(state_dir / "kubeconfig")
        (state_dir / "url").write_text(cluster.url + "\n")
        (state_dir / "pid").write_text(f"{os.getpid()}\n")
        print(f"emulated cluster serving on {cluster.url}; kubeconfig {state_dir / 'kubeconfig'}", flush=True)
        stop.wait()
    DAEMON.forget(state_dir)
    return 0


def start(state_dir: Path, port: int, openshift: bool = False, tekton: str | None = None) -> int:
    def url() -> str:
        return (state_dir / "url").read_text().strip()

    return DAEMON.start(
        state_dir,
        ["--port", str(port)] + (["--openshift"] if openshift else [])
        + ([f"--tekton={tekton}"] if tekton else []),
        ready=lambda: _ready(state_dir),
        ready_message=lambda pid: f"emulated cluster ready on {url()} (pid {pid}); "
                                  f"KUBECONFIG={state_dir / 'kubeconfig'}",
        running_message=lambda pid: f"emulated cluster already running (pid {pid}) on {url()}",
    )


def stop(state_dir: Path) -> int:
    return DAEMON.stop(state_dir)


def control_endpoint(state_dir: Path) -> ControlEndpoint:
    """The running cluster's controls, from the admin kubeconfig `serve` wrote into DIR."""
    import yaml

    if DAEMON.running_pid(state_dir) is None:
        raise ValueError(f"no emulated cluster is running from {state_dir}")
    config = yaml.safe_load((state_dir / "kubeconfig").read_text())
    return ControlEndpoint(
        url=config["clusters"][0]["cluster"]["server"],
        token=config["users"][0]["user"]["token"],
        ca_file=str(state_dir / "ca.crt"),
    )


def _server_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    command.add_argument("--openshift", action="store_true", help="also serve OpenShift's project API")
    command.add_argument("--tekton", nargs="?", const="v1", default=None, choices=("v1", "v1beta1"),
                         help="install Tekton Pipelines' CRDs: v1.15.0 (v1, the default) or an older "
                              "release serving only v1beta1")


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("python -m emulator", __doc__.split("\n\n")[0],
                            "directory for kubeconfig, url, pid, certificates and log", _server_options)
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    if args.command == "serve":
        return serve(state_dir, args.port, args.openshift, args.tekton)
    if args.command == "start":
        return start(state_dir, args.port, args.openshift, args.tekton)
    if args.command == "writes":
        return writes_command("emulated cluster", lambda: control_endpoint(state_dir), args.reset, args.json)
    return stop(state_dir)


if __name__ == "__main__":
    sys.exit(main())
