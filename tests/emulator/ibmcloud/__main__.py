"""Run the fake IBM Cloud from the command line, in front of a running Kubernetes API server.

  python -m tests.emulator.ibmcloud start --state-dir DIR --kubeconfig KUBECONFIG [--cluster NAME]
  python -m tests.emulator.ibmcloud stop  --state-dir DIR
  python -m tests.emulator.ibmcloud serve --state-dir DIR --kubeconfig KUBECONFIG   (foreground)

KUBECONFIG is the admin kubeconfig of the cluster the fake's IKS cluster NAME (default "demo")
stands for, e.g. the one `python -m tests.emulator start` wrote. On the emulated cluster the API
key's IAM user gets its own token (group system:masters, as IKS maps the IAM Manager role to
cluster-admin); on another cluster the kubeconfig's own token stands in for it.

DIR receives (mode 0600 where secret) ibmcloud.json (url, ca_file, account_id, cluster, api_key,
env), ibmcloud.env (the same as shell variables: the endpoint variables the modules read and
IC_API_KEY), ibmcloud-ca.crt, ibmcloud.pid and ibmcloud.log. The API key is written nowhere else
and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
STATE_FILE = "ibmcloud.json"
ENV_FILE = "ibmcloud.env"
PID_FILE = "ibmcloud.pid"
CA_FILE = "ibmcloud-ca.crt"
LOG_FILE = "ibmcloud.log"
IAM_USER = "IAM#demo@example.invalid"


def _write_private(path: Path, text: str) -> None:
    """Create the file with mode 0600 before any secret goes into it."""
    path.unlink(missing_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w") as stream:
        stream.write(text)


def _iam_user_token(target) -> str:
    """A token of the API key's own IAM user on the emulated cluster; on any other cluster (no
    emulator controls there) the admin kubeconfig's token stands in for it."""
    token = secrets.token_urlsafe(24)
    context = ssl.create_default_context(cadata=target.ca_pem or None)
    request = urllib.request.Request(
        target.url + "/_emulator/tokens",
        data=json.dumps({"token": token, "user": IAM_USER, "groups": ["system:masters"]}).encode(),
        headers={"Authorization": f"Bearer {target.admin_token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            if answer.status == 201:
                return token
    except urllib.error.HTTPError as error:
        if error.code not in (403, 404):
            raise
    return target.token


def serve(state_dir: Path, kubeconfig: Path, cluster_name: str, cluster_type: str, region: str) -> int:
    import dataclasses

    from tests.emulator.ibmcloud.fixtures import ClusterTarget, FakeIBMCloud

    state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    target = ClusterTarget.from_kubeconfig(kubeconfig)
    target = dataclasses.replace(target, token=_iam_user_token(target))
    with FakeIBMCloud(target, registry_region=region) as cloud:
        cluster = cloud.add_cluster(cluster_name, type=cluster_type)
        (state_dir / CA_FILE).write_text(cloud.ca_pem)
        env = {**cloud.env(), "IBMCLOUD_CA_CERT": str(state_dir / CA_FILE)}
        if cluster_type == "openshift":
            env["IBMCLOUD_OPENSHIFT_OAUTH_ENDPOINT"] = cloud.openshift_oauth_endpoint(cluster)
        state = {
            "url": cloud.url,
            "ca_file": str(state_dir / CA_FILE),
            "account_id": cloud.account_id,
            "cluster": cluster_name,
            "cluster_type": cluster_type,
            "registry_region": region,
            "api_key": cloud.api_key,
            "env": env,
        }
        _write_private(
            state_dir / ENV_FILE,
            "".join(
                f"{name}={shlex.quote(value)}\n"
                for name, value in {**env, "IC_API_KEY": cloud.api_key}.items()
            ),
        )
        _write_private(state_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")
        (state_dir / PID_FILE).write_text(f"{os.getpid()}\n")
        print(f"fake IBM Cloud serving on {cloud.url}; cluster {cluster_name!r} -> {target.url}", flush=True)
        stop.wait()
    for name in (PID_FILE, STATE_FILE, ENV_FILE):
        (state_dir / name).unlink(missing_ok=True)
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    # A recycled pid running something else is not our server.
    return not cmdline.exists() or b"tests.emulator.ibmcloud" in cmdline.read_bytes()


def _running_pid(state_dir: Path) -> int | None:
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _answers(state_dir: Path) -> bool:
    """The server is up when its token endpoint answers (any HTTP status) over verified TLS."""
    try:
        state = json.loads((state_dir / STATE_FILE).read_text())
        context = ssl.create_default_context(cafile=state["ca_file"])
        request = urllib.request.Request(state["url"] + "/identity/token", data=b"", method="POST")
        urllib.request.urlopen(request, context=context, timeout=2).close()
        return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError, KeyError, ssl.SSLError):
        return False


def start(state_dir: Path, kubeconfig: Path, cluster_name: str, cluster_type: str, region: str) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    pid = _running_pid(state_dir)
    if pid is not None:
        print(f"fake IBM Cloud already running (pid {pid}); state in {state_dir}")
        return 0
    if not kubeconfig.is_file():
        print(
            f"kubeconfig {kubeconfig} does not exist; start the cluster first "
            "(python -m tests.emulator start --state-dir DIR) and pass DIR/kubeconfig",
            file=sys.stderr,
        )
        return 1
    for name in (PID_FILE, STATE_FILE, ENV_FILE):
        (state_dir / name).unlink(missing_ok=True)
    project_root = Path(__file__).resolve().parents[3]
    log = open(state_dir / LOG_FILE, "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.emulator.ibmcloud",
            "serve",
            "--state-dir",
            str(state_dir),
            "--kubeconfig",
            str(kubeconfig),
            "--cluster",
            cluster_name,
            "--cluster-type",
            cluster_type,
            "--registry-region",
            region,
        ],
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
                f"fake IBM Cloud exited (code {process.returncode}); see {state_dir / LOG_FILE}",
                file=sys.stderr,
            )
            return 1
        if (state_dir / PID_FILE).exists() and _answers(state_dir):
            url = json.loads((state_dir / STATE_FILE).read_text())["url"]
            print(
                f"fake IBM Cloud ready on {url} (pid {process.pid}); cluster {cluster_name!r}; "
                f"endpoints and demo API key in {state_dir / ENV_FILE}"
            )
            return 0
        time.sleep(0.05)
    process.terminate()
    print(
        f"fake IBM Cloud not ready after {START_TIMEOUT:.0f} s; see {state_dir / LOG_FILE}", file=sys.stderr
    )
    return 1


def stop(state_dir: Path) -> int:
    pid = _running_pid(state_dir)
    if pid is None:
        print(f"no fake IBM Cloud running from {state_dir}")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        print(f"fake IBM Cloud (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s", file=sys.stderr)
        return 1
    for name in (PID_FILE, STATE_FILE, ENV_FILE):
        (state_dir / name).unlink(missing_ok=True)
    print(f"fake IBM Cloud (pid {pid}) stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.emulator.ibmcloud", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "serve", "stop"):
        command = commands.add_parser(name)
        command.add_argument(
            "--state-dir",
            required=True,
            type=Path,
            help="directory for ibmcloud.json, ibmcloud.env, the CA, pid and log",
        )
        if name != "stop":
            command.add_argument(
                "--kubeconfig",
                required=True,
                type=Path,
                help="admin kubeconfig of the cluster the fake's cluster points at",
            )
            command.add_argument(
                "--cluster", default="demo", help="name of the fake's cluster (default: demo)"
            )
            command.add_argument(
                "--cluster-type",
                choices=("kubernetes", "openshift"),
                default="kubernetes",
                help="kubernetes (IKS, default) or openshift (ROKS)",
            )
            command.add_argument(
                "--registry-region",
                default="us-south",
                help="region of the fake Container Registry (default: us-south)",
            )
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    if args.command == "stop":
        return stop(state_dir)
    handler = serve if args.command == "serve" else start
    return handler(
        state_dir, args.kubeconfig.resolve(), args.cluster, args.cluster_type, args.registry_region
    )


if __name__ == "__main__":
    sys.exit(main())
