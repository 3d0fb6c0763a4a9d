"""playbooks/provision.yml end to end: from an IBM Cloud API key through the fake IBM Cloud to the
cluster fixture (emulated, or the real cluster TEST_KUBECONFIG names), and from a plain kubeconfig;
a second run changes nothing; a -vvv run leaks no secret; cluster_login's own failures."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.ibmcloud_fixtures import ClusterTarget, fake_ibmcloud  # noqa: F401
from tests.playbook import ROOT, VENV_BIN, run_tasks

# Variables of the caller's environment that would change what the run does.
SCRUBBED = ("IC_API_KEY", "IBMCLOUD_API_KEY", "IBMCLOUD_IAM_API_ENDPOINT", "IBMCLOUD_CS_API_ENDPOINT",
            "IBMCLOUD_CR_API_ENDPOINT", "IBMCLOUD_CA_CERT", "IBMCLOUD_OPENSHIFT_OAUTH_ENDPOINT",
            "IBMCLOUD_REGION", "IC_REGION", "KUBECONFIG", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT")
REVIEWS = re.compile(r"/(self)?subjectaccessreviews$")
LOGIN_SENTENCE = (
    "No cluster to log in to is configured: set an IBM Cloud API key (IC_API_KEY, or "
    "cluster_login_ibmcloud_api_key) and cluster_login_ibmcloud_cluster, or a kubeconfig "
    "(cluster_login_kubeconfig, K8S_AUTH_KUBECONFIG, KUBECONFIG or ~/.kube/config)."
)


@pytest.fixture(scope="module")
def ibmcloud_target_cluster(cluster):
    """The fake's clusters point at the cluster fixture, so its objects and controls are at hand."""
    if cluster.is_emulated:
        return ClusterTarget.from_emulated(cluster.emulator)
    return ClusterTarget.from_kubeconfig(cluster.kubeconfig_path)


class Run:
    def __init__(self, completed: subprocess.CompletedProcess, workdir: Path):
        self.rc, self.stdout, self.stderr, self.workdir = (completed.returncode, completed.stdout,
                                                           completed.stderr, workdir)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def recap(self, key: str) -> int:
        found = re.findall(rf"\b{key}=(\d+)", self.stdout)
        assert found, self.output
        return sum(int(value) for value in found)


def run_playbook(workdir: Path, inventory: str, env: dict[str, str], extra_vars: dict[str, str],
                 playbook: str = "provision.yml", verbosity: int = 0, extra_args=()) -> Run:
    """ansible-playbook as a user runs it, with HOME, caches and Ansible's temp directories inside
    `workdir` so that every file the run leaves behind can be inspected."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "home").mkdir(exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k not in SCRUBBED}
    environment.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=str(workdir / "ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(workdir / "ansible-remote"),
        HOME=str(workdir / "home"), XDG_CACHE_HOME=str(workdir / "cache"),
        NO_PROXY=",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("NO_PROXY")])),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **env,
    )
    command = [str(VENV_BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / inventory),
               str(ROOT / "playbooks" / playbook)]
    for name, value in extra_vars.items():
        command += ["-e", f"{name}={value}"]
    if verbosity:
        command.append("-" + "v" * verbosity)
    command += list(extra_args)
    completed = subprocess.run(command, cwd=workdir, env=environment, capture_output=True, text=True,
                               timeout=600, check=False)
    return Run(completed, workdir)


@pytest.fixture
def stage(cluster):
    """Unique pipeline, application and registry namespaces as extra vars; deleted afterwards."""
    names = {
        "pipeline_accounts_pipeline_namespace": cluster.unique_name("ci"),
        "pipeline_accounts_app_namespace": cluster.unique_name("app"),
        "cluster_login_registry_namespace": cluster.unique_name("images"),
    }
    yield names
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(cluster.api_client())
    for key in ("pipeline_accounts_pipeline_namespace", "pipeline_accounts_app_namespace"):
        try:
            core.delete_namespace(names[key])
        except ApiException as error:
            if error.status not in (404, 409):
                raise


def ibmcloud_env(fake) -> dict[str, str]:
    return {**fake.env(), "IC_API_KEY": fake.api_key}


def stored_writes(cluster) -> list:
    return [w for w in cluster.controls.writes() if not REVIEWS.search(w[1]) and "dryRun=All" not in w[2]]


def test_provision_from_an_api_key_then_a_second_run_changes_nothing(cluster, fake_ibmcloud, stage,  # noqa: F811
                                                                      tmp_path):
    fake_ibmcloud.add_cluster("demo")
    first = run_playbook(tmp_path / "first", "demo", ibmcloud_env(fake_ibmcloud), stage)
    assert first.rc == 0, first.output
    assert first.recap("changed") > 0 and first.recap("failed") == 0

    from kubernetes import client

    core = client.CoreV1Api(cluster.api_client())
    ci = stage["pipeline_accounts_pipeline_namespace"]
    builder = core.read_namespaced_service_account("builder", ci)
    assert [s.name for s in builder.image_pull_secrets] == ["icr-credentials"]
    assert [s.name for s in builder.secrets] == ["icr-credentials"]
    secret = core.read_namespaced_secret("icr-credentials", ci)
    config = base64.b64decode(secret.data[".dockerconfigjson"]).decode()
    assert '"us.icr.io"' in config and f'"password":"{fake_ibmcloud.api_key}"' in config
    assert core.read_namespaced_secret("deployer-kubeconfig", ci).type == "Opaque"
    assert stage["cluster_login_registry_namespace"] in fake_ibmcloud.registry.names(fake_ibmcloud.account_id)
    shown = " ".join(first.stdout.split())  # the output callback folds long lines
    assert "images go to us.icr.io/" + stage["cluster_login_registry_namespace"] in shown

    if cluster.controls:
        cluster.controls.reset()
    second = run_playbook(tmp_path / "second", "demo", ibmcloud_env(fake_ibmcloud), stage)
    assert second.rc == 0, second.output
    assert second.recap("changed") == 0, second.output
    if cluster.controls:
        assert stored_writes(cluster) == []


def test_verbose_run_leaks_neither_key_nor_tokens(cluster, fake_ibmcloud, stage, tmp_path):  # noqa: F811
    fake_ibmcloud.add_cluster("demo")
    run = run_playbook(tmp_path / "run", "demo", ibmcloud_env(fake_ibmcloud), stage, verbosity=3)
    assert run.rc == 0, run.output
    assert "module_args" in run.output  # -vvv did show its details: every task's (masked) arguments

    from kubernetes import client

    core = client.CoreV1Api(cluster.api_client())
    ci = stage["pipeline_accounts_pipeline_namespace"]
    deployer_token = base64.b64decode(core.read_namespaced_secret("deployer-kubeconfig", ci).data["token"])
    key = fake_ibmcloud.api_key
    secrets = [*fake_ibmcloud.secrets(), deployer_token.decode(), base64.b64encode(key.encode()).decode(),
               base64.b64encode(f"iamapikey:{key}".encode()).decode()]
    assert len(fake_ibmcloud.iam.issued_tokens()) >= 2
    for secret in secrets:
        assert secret not in run.output, "a secret reached the output of ansible-playbook -vvv"
    for path in (p for p in run.workdir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a secret was left in {path.relative_to(run.workdir)}"


def test_plain_kubeconfig_provisions_without_ibmcloud(cluster, stage, tmp_path):
    run = run_playbook(tmp_path / "run", "local", {"KUBECONFIG": str(cluster.kubeconfig_path)}, stage)
    assert run.rc == 0, run.output
    shown = " ".join(run.stdout.split())  # the output callback folds long lines
    assert f"Using the kubeconfig {cluster.kubeconfig_path} (its current context)." in shown

    from kubernetes import client

    core = client.CoreV1Api(cluster.api_client())
    ci = stage["pipeline_accounts_pipeline_namespace"]
    assert core.read_namespaced_service_account("builder", ci).image_pull_secrets is None
    names = [s.metadata.name for s in core.list_namespaced_secret(ci).items]
    assert "deployer-kubeconfig" in names and "icr-credentials" not in names


def login(tmp_path, env, **variables):
    """The cluster_login role alone, with HOME (so ~/.kube/config) inside tmp_path."""
    (tmp_path / "home").mkdir(parents=True, exist_ok=True)
    environment = {name: "" for name in SCRUBBED}
    environment.update(HOME=str(tmp_path / "home"), **env)
    return run_tasks([{"name": "login", "ansible.builtin.include_role": {"name": "cluster_login"}}],
                     tmp_path=tmp_path, env=environment, extra_vars=variables)


def test_login_with_nothing_configured_fails_with_one_sentence(tmp_path):
    play = login(tmp_path, {})
    assert play.rc != 0
    assert play.failed[0].msg == LOGIN_SENTENCE


def test_login_failures_are_reported_in_full_despite_no_log(fake_ibmcloud, tmp_path):  # noqa: F811
    no_cluster = login(tmp_path / "a", ibmcloud_env(fake_ibmcloud))
    assert no_cluster.failed[0].msg.startswith(
        "An IBM Cloud API key is set but cluster_login_ibmcloud_cluster is empty")
    wrong_key = login(tmp_path / "b", {**fake_ibmcloud.env(), "IC_API_KEY": "wrong-key-4711"},
                      cluster_login_ibmcloud_cluster="demo")
    reported = "Report why the IBM Cloud login failed"
    assert "BXNIM0415E" in wrong_key.task(reported).msg
    fake_ibmcloud.add_cluster("dev")
    unknown = login(tmp_path / "c", ibmcloud_env(fake_ibmcloud), cluster_login_ibmcloud_cluster="staging")
    assert "Cluster 'staging' was not found" in unknown.task(reported).msg
    assert "clusters this key can see: dev" in unknown.task(reported).msg
    missing = login(tmp_path / "d", {"KUBECONFIG": str(tmp_path / "nope.yml")})
    assert missing.failed[0].msg.startswith(f"The kubeconfig {tmp_path / 'nope.yml'} does not exist")
    for play in (no_cluster, wrong_key, unknown, missing):
        assert "wrong-key-4711" not in play.stdout + play.stderr
        assert fake_ibmcloud.api_key not in play.stdout + play.stderr


def test_fake_ibmcloud_command_line_serves_in_front_of_a_cluster_and_stops(cluster, tmp_path):
    """python -m emulator.ibmcloud, as scripts/demo.sh and Molecule use it."""
    import json
    import stat

    import requests

    state = tmp_path / "ibmcloud"

    def cli(*args):
        return subprocess.run([str(VENV_BIN / "python"), "-m", "emulator.ibmcloud", *args,
                               "--state-dir", str(state)], cwd=ROOT, capture_output=True, text=True,
                              timeout=60, check=False)

    started = cli("start", "--kubeconfig", str(cluster.kubeconfig_path), "--cluster", "demo")
    try:
        assert started.returncode == 0, started.stderr
        saved = json.loads((state / "ibmcloud.json").read_text())
        assert saved["api_key"] not in started.stdout + started.stderr
        for name in ("ibmcloud.json", "ibmcloud.env"):
            assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
        env_lines = (state / "ibmcloud.env").read_text().splitlines()
        assert f"IBMCLOUD_IAM_API_ENDPOINT={saved['url']}" in env_lines
        assert f"IBMCLOUD_CA_CERT={state / 'ibmcloud-ca.crt'}" in env_lines
        assert "already running" in cli("start", "--kubeconfig", str(cluster.kubeconfig_path)).stdout
        session = requests.Session()
        session.trust_env = False
        token = session.post(saved["url"] + "/identity/token", verify=saved["ca_file"], timeout=10,
                             data={"grant_type": "urn:ibm:params:oauth:grant-type:apikey",
                                   "apikey": saved["api_key"]}).json()["access_token"]
        demo = session.get(saved["url"] + "/global/v2/getCluster", params={"cluster": "demo"},
                           headers={"Authorization": f"Bearer {token}"}, verify=saved["ca_file"], timeout=10)
        assert demo.status_code == 200 and demo.json()["masterURL"] == cluster.server
        # The writes verb, as for the emulated cluster: the token grant is a query, not a write.
        made = session.put(saved["url"] + "/api/v1/namespaces/ours", verify=saved["ca_file"], timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
        assert made.status_code == 201
        writes = cli("writes", "--json")
        assert writes.returncode == 0, writes.stderr
        report = json.loads(writes.stdout)
        assert report["count"] == 1
        saved_user = report["writes"][1]["user"]
        assert saved_user.startswith("IBMid-")
        assert [(w["method"], w["path"], w["status"], w["kind"]) for w in report["writes"]] == [
            ("POST", "/identity/token", 200, "query"), ("PUT", "/api/v1/namespaces/ours", 201, "write")]
        assert saved["control_token"] not in writes.stdout + writes.stderr
        assert cli("writes", "--reset").stdout.splitlines() == [
            "1 write since reset; not counted: 1 query",
            f"  PUT    /api/v1/namespaces/ours  user={saved_user}  201"]
        assert cli("writes").stdout == "0 writes since reset\n"
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not (state / "ibmcloud.json").exists() and not (state / "ibmcloud.env").exists()
    assert "no fake IBM Cloud running" in cli("stop").stdout
    assert cli("writes").returncode == 1
