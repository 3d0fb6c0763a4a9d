"""Run the emulated Kubernetes API server from the command line.

  python -m emulator start --state-dir DIR [--port N] [--openshift] [--tekton[=v1beta1]]
                           [--real-steps]               start detached; returns when ready
  python -m emulator stop  --state-dir DIR              stop the one started there
  python -m emulator serve --state-dir DIR [--port N]   run in the foreground
  python -m emulator writes --state-dir DIR [--reset] [--json]
                                                        the writes since the controls' last reset

DIR receives kubeconfig (admin token, mode 0600), url, pid, ca.crt and server.log. With
--real-steps (needs --tekton) the Tekton controller really clones, builds and deploys where this
machine can (emulator/builds): a local registry and a git server of examples/health run inside the
server, and DIR receives real-steps.json (their addresses, and what stays simulated and why).
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
REAL_STEPS_START_TIMEOUT = 600.0


def _ready(state_dir: Path) -> bool:
    url_file = state_dir / "url"
    try:
        context = ssl.create_default_context(cafile=str(state_dir / "ca.crt"))
        with urllib.request.urlopen(url_file.read_text().strip() + "/readyz", context=context,
                                    timeout=2) as answer:
            return answer.status == 200
    except (OSError, ssl.SSLError):
        return False


def serve(state_dir: Path, port: int, openshift: bool = False, tekton: str | None = None,
          real_steps: bool = False) -> int:
    import contextlib

    from emulator.cluster import EmulatedCluster

    state_dir.mkdir(parents=True, exist_ok=True)
    stop = stop_requested()
    with EmulatedCluster(port=port, state_dir=state_dir, openshift=openshift,
                         tekton=tekton or False) as cluster, contextlib.ExitStack() as steps:
        if real_steps:
            from emulator.builds.service import serving_real_steps

            steps.enter_context(serving_real_steps(cluster, state_dir))
        cluster.write_kubeconfig(state_dir / "kubeconfig")
        (state_dir / "url").write_text(cluster.url + "\n")
        (state_dir / "pid").write_text(f"{os.getpid()}\n")
        print(f"emulated cluster serving on {cluster.url}; kubeconfig {state_dir / 'kubeconfig'}", flush=True)
        stop.wait()
    DAEMON.forget(state_dir)
    return 0


def start(state_dir: Path, port: int, openshift: bool = False, tekton: str | None = None,
          real_steps: bool = False) -> int:
    def url() -> str:
        return (state_dir / "url").read_text().strip()

    if real_steps and not tekton:
        print("--real-steps needs --tekton: real steps are run by the emulated Tekton controller.",
              file=sys.stderr)
        return 2
    return DAEMON.start(
        state_dir,
        ["--port", str(port)] + (["--openshift"] if openshift else [])
        + ([f"--tekton={tekton}"] if tekton else []) + (["--real-steps"] if real_steps else []),
        ready=lambda: _ready(state_dir),
        # Publishing postgres to a fresh registry compresses ~0.4 GB: real steps take longer to start.
        timeout=REAL_STEPS_START_TIMEOUT if real_steps else None,
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
    command.add_argument("--real-steps", action="store_true",
                         help="with --tekton: really clone, build (buildah, local registry) and deploy "
                              "(helm) where this machine can; writes real-steps.json into DIR")


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("python -m emulator", __doc__.split("\n\n")[0],
                            "directory for kubeconfig, url, pid, certificates and log", _server_options)
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    if args.command == "serve":
        return serve(state_dir, args.port, args.openshift, args.tekton, args.real_steps)
    if args.command == "start":
        return start(state_dir, args.port, args.openshift, args.tekton, args.real_steps)
    if args.command == "writes":
        return writes_command("emulated cluster", lambda: control_endpoint(state_dir), args.reset, args.json)
    return stop(state_dir)


if __name__ == "__main__":
    sys.exit(main())
