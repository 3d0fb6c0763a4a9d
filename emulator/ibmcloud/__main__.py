"""Run the fake IBM Cloud from the command line, in front of a running Kubernetes API server.

  python -m emulator.ibmcloud start --state-dir DIR --kubeconfig KUBECONFIG [--cluster NAME]
  python -m emulator.ibmcloud stop  --state-dir DIR
  python -m emulator.ibmcloud serve --state-dir DIR --kubeconfig KUBECONFIG   (foreground)
  python -m emulator.ibmcloud writes --state-dir DIR [--reset] [--json]   writes since the last reset

KUBECONFIG is the admin kubeconfig of the cluster the fake's IKS cluster NAME (default "demo")
stands for, e.g. the one `python -m emulator start` wrote. On the emulated cluster the API
key's IAM user gets its own token (group system:masters, as IKS maps the IAM Manager role to
cluster-admin); on another cluster the kubeconfig's own token stands in for it.

DIR receives (mode 0600 where secret) ibmcloud.json (url, ca_file, account_id, cluster, api_key,
control_token, env), ibmcloud.env (the same as shell variables: the endpoint variables the modules read and
IC_API_KEY), ibmcloud-ca.crt, ibmcloud.pid and ibmcloud.log. The API key is written nowhere else
and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from emulator.controls import WRITES_SINCE_RESET, ControlEndpoint, writes_command
from emulator.daemon import Daemon, command_parser, stop_requested

STATE_FILE = "ibmcloud.json"
ENV_FILE = "ibmcloud.env"
PID_FILE = "ibmcloud.pid"
CA_FILE = "ibmcloud-ca.crt"
LOG_FILE = "ibmcloud.log"
IAM_USER = "IAM#demo@example.invalid"
DAEMON = Daemon(label="fake IBM Cloud", module="emulator.ibmcloud", pid_file=PID_FILE,
                log_file=LOG_FILE, state_files=(PID_FILE, STATE_FILE, ENV_FILE))


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

    from emulator.ibmcloud.fake import ClusterTarget, FakeIBMCloud

    state_dir.mkdir(parents=True, exist_ok=True)
    stop = stop_requested()
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
            "control_token": cloud.control_token,
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
    DAEMON.forget(state_dir)
    return 0


def _answers(state_dir: Path) -> bool:
    """The server is up when its controls answer over verified TLS (a control request: it leaves no
    trace in the request log or the writes since reset)."""
    try:
        state = json.loads((state_dir / STATE_FILE).read_text())
        ControlEndpoint(state["url"], state["control_token"], ca_file=state["ca_file"]).call(
            "GET", WRITES_SINCE_RESET
        )
        return True
    except (OSError, ValueError, KeyError, ssl.SSLError):
        return False


def start(state_dir: Path, kubeconfig: Path, cluster_name: str, cluster_type: str, region: str) -> int:
    def refusal() -> str | None:
        if kubeconfig.is_file():
            return None
        return (f"kubeconfig {kubeconfig} does not exist; start the cluster first "
                "(python -m emulator start --state-dir DIR) and pass DIR/kubeconfig")

    def url() -> str:
        return json.loads((state_dir / STATE_FILE).read_text())["url"]

    return DAEMON.start(
        state_dir,
        ["--kubeconfig", str(kubeconfig), "--cluster", cluster_name, "--cluster-type", cluster_type,
         "--registry-region", region],
        ready=lambda: (state_dir / PID_FILE).exists() and _answers(state_dir),
        ready_message=lambda pid: f"fake IBM Cloud ready on {url()} (pid {pid}); cluster {cluster_name!r}; "
                                  f"endpoints and demo API key in {state_dir / ENV_FILE}",
        running_message=lambda pid: f"fake IBM Cloud already running (pid {pid}); state in {state_dir}",
        refusal=refusal,
    )


def stop(state_dir: Path) -> int:
    return DAEMON.stop(state_dir)


def control_endpoint(state_dir: Path) -> ControlEndpoint:
    """The running fake's controls, from the state file `serve` wrote into DIR."""
    if DAEMON.running_pid(state_dir) is None:
        raise ValueError(f"no fake IBM Cloud is running from {state_dir}")
    state = json.loads((state_dir / STATE_FILE).read_text())
    return ControlEndpoint(url=state["url"], token=state["control_token"], ca_file=state["ca_file"])


def _server_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--kubeconfig", required=True, type=Path,
                         help="admin kubeconfig of the cluster the fake's cluster points at")
    command.add_argument("--cluster", default="demo", help="name of the fake's cluster (default: demo)")
    command.add_argument("--cluster-type", choices=("kubernetes", "openshift"), default="kubernetes",
                         help="kubernetes (IKS, default) or openshift (ROKS)")
    command.add_argument("--registry-region", default="us-south",
                         help="region of the fake Container Registry (default: us-south)")


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("python -m emulator.ibmcloud", __doc__.split("\n\n")[0],
                            "directory for ibmcloud.json, ibmcloud.env, the CA, pid and log", _server_options)
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    if args.command == "stop":
        return stop(state_dir)
    if args.command == "writes":
        return writes_command("fake IBM Cloud", lambda: control_endpoint(state_dir), args.reset, args.json)
    handler = serve if args.command == "serve" else start
    return handler(
        state_dir, args.kubeconfig.resolve(), args.cluster, args.cluster_type, args.registry_region
    )


if __name__ == "__main__":
    sys.exit(main())
