"""ibmcloud_registry_secret through real ansible-playbook runs: the fake IBM Cloud for the registry
API, the cluster fixture (emulated, or real with TEST_KUBECONFIG) for the Kubernetes side."""

from __future__ import annotations

import base64
import json
import os

import pytest

from tests.emulator.ibmcloud.fixtures import FakeIBMCloud
from tests.playbook import run_tasks, use_project_module_utils

use_project_module_utils()

from ansible.module_utils.kube_client import connect  # noqa: E402
from ansible.module_utils.kube_service import KubeService  # noqa: E402

# Variables of the caller's environment that would change what the module does.
SCRUBBED = ("IC_API_KEY", "IBMCLOUD_API_KEY", "IBMCLOUD_IAM_API_ENDPOINT", "IBMCLOUD_CR_API_ENDPOINT",
            "IBMCLOUD_CA_CERT", "IBMCLOUD_REGION", "IC_REGION")


@pytest.fixture
def fake():
    """The fake IBM Cloud; only IAM and the registry are used here."""
    with FakeIBMCloud() as cloud:
        yield cloud


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def kube(cluster, cache_home, monkeypatch):
    """In-process admin access to the cluster, to arrange and check what the tasks did."""
    monkeypatch.setenv("XDG_CACHE_HOME", cache_home)
    return KubeService(connect({"kubeconfig": str(cluster.kubeconfig_path)}))


@pytest.fixture
def play(cluster, cache_home, fake, tmp_path):
    runs = iter(range(1000))

    def run(tasks, api_key=None, **options):
        workdir = tmp_path / f"run{next(runs)}"
        (workdir / "home").mkdir(parents=True)
        env = {name: "" for name in SCRUBBED}
        env.update(fake.env(), IC_API_KEY=api_key or fake.api_key, XDG_CACHE_HOME=cache_home,
                   HOME=str(workdir / "home"), ANSIBLE_REMOTE_TEMP=str(workdir / "ansible-remote"),
                   NO_PROXY=",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("NO_PROXY")])))
        env.update(options.pop("env", {}))
        return run_tasks(tasks, tmp_path=workdir, kubeconfig=cluster.kubeconfig_path, env=env, **options)

    return run


def secret_task(task_name="registry", **options):
    return {"name": task_name, "ibmcloud_registry_secret": options}


def account(kube, namespace, name, **fields):
    kube.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace}, **fields})


def docker_config(kube, namespace, name):
    secret = kube.get("v1", "Secret", name, namespace)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    return json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))


def names(entries):
    return [entry["name"] for entry in entries or []]


def persisted_writes(controls):
    return [w for w in controls.writes() if "dryRun=All" not in w[2]]


def test_secret_namespace_and_links_then_a_second_run_writes_nothing(cluster, kube, namespace, play, fake):
    account(kube, namespace, "builder", imagePullSecrets=[{"name": "other-pull"}])
    task = secret_task(name="icr-credentials", namespaces=[namespace], service_accounts=[{"name": "builder"}],
                       region="eu-de", registry_namespace="health-images", labels={"app": "health"})
    first = play([task])
    assert first.rc == 0, first.stdout + first.stderr
    result = first.task("registry").result
    assert result["changed"]
    assert result["registry_host"] == "de.icr.io" and result["registry_hosts"] == ["de.icr.io", "icr.io"]
    assert result["registry_namespace"] == {"name": "health-images", "created": True}
    assert result["image_prefix"] == "de.icr.io/health-images"
    assert result["secrets"][0]["data"] == {".dockerconfigjson": "<hidden>"}
    assert fake.registry.names(fake.account_id) == ["health-images"]

    config = docker_config(kube, namespace, "icr-credentials")
    assert set(config["auths"]) == {"de.icr.io", "icr.io"}
    for entry in config["auths"].values():
        assert entry["username"] == "iamapikey" and entry["password"] == fake.api_key
        assert base64.b64decode(entry["auth"]).decode() == f"iamapikey:{fake.api_key}"
    builder = kube.get("v1", "ServiceAccount", "builder", namespace)
    assert names(builder["imagePullSecrets"]) == ["other-pull", "icr-credentials"]
    assert names(builder["secrets"]) == ["icr-credentials"]
    assert kube.get("v1", "Secret", "icr-credentials", namespace)["metadata"]["labels"] == {"app": "health"}

    if cluster.controls:
        cluster.controls.reset()
    second = play([task])
    assert second.rc == 0, second.stdout + second.stderr
    assert not second.task("registry").changed
    assert second.task("registry").result["registry_namespace"]["created"] is False
    if cluster.controls:
        assert cluster.controls.writes() == []
    puts = [(r.path, r.status) for r in fake.requests if r.service == "registry" and r.method == "PUT"]
    assert puts == [("/api/v1/namespaces/health-images", 201)]  # the second run only listed


def test_check_mode_writes_nothing_and_diff_hides_the_key(cluster, kube, namespace, play, fake):
    account(kube, namespace, "builder")
    task = secret_task(name="icr", namespaces=[namespace], service_accounts=[{"name": "builder"}],
                       registry_namespace="checked-ns")
    if cluster.controls:
        cluster.controls.reset()
    checked = play([task], check=True, diff=True)
    assert checked.rc == 0, checked.stdout + checked.stderr
    assert checked.task("registry").changed
    assert kube.get("v1", "Secret", "icr", namespace) is None
    assert names(kube.get("v1", "ServiceAccount", "builder", namespace).get("imagePullSecrets")) == []
    assert fake.registry.names(fake.account_id) == []
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []

    shown = play([task], diff=True)
    assert shown.rc == 0
    diffs = shown.task("registry").diff
    secret_diff = next(d for d in diffs if d["after"].get("kind") == "Secret")
    assert secret_diff["after"]["data"] == {".dockerconfigjson": "<hidden, changed>"}
    output = checked.stdout + checked.stderr + shown.stdout + shown.stderr
    auth = base64.b64encode(f"iamapikey:{fake.api_key}".encode()).decode()
    for secret in (fake.api_key, auth, base64.b64encode(fake.api_key.encode()).decode()):
        assert secret not in output


def test_a_new_key_updates_the_secret(kube, namespace, play):
    task = secret_task(name="icr", namespaces=[namespace], include_global_registry=False,
                       registry_host="private.us.icr.io")
    assert play([task], api_key="first-key-abc").task("registry").changed
    again = play([task], api_key="first-key-abc")
    assert not again.task("registry").changed
    rotated = play([task], api_key="second-key-def")
    assert rotated.task("registry").changed
    config = docker_config(kube, namespace, "icr")
    assert config["auths"] == {"private.us.icr.io": {
        "username": "iamapikey", "password": "second-key-def",
        "auth": base64.b64encode(b"iamapikey:second-key-def").decode()}}


def test_absent_detaches_then_deletes(kube, namespace, play):
    account(kube, namespace, "builder", secrets=[{"name": "git"}])
    present = secret_task(name="icr", namespaces=[namespace], service_accounts=[{"name": "builder"}])
    assert play([present]).rc == 0
    absent = secret_task(name="icr", namespaces=[namespace], service_accounts=[{"name": "builder"}],
                         state="absent")
    removed = play([absent], env={"IC_API_KEY": ""})
    assert removed.rc == 0, removed.stdout
    assert removed.task("registry").changed
    assert kube.get("v1", "Secret", "icr", namespace) is None
    builder = kube.get("v1", "ServiceAccount", "builder", namespace)
    assert names(builder.get("secrets")) == ["git"] and names(builder.get("imagePullSecrets")) == []
    assert not play([absent]).task("registry").changed


def test_missing_namespace_and_account_fail_before_any_write(kube, namespace, play, fake):
    gone = play([secret_task(name="icr", namespaces=["no-such-ns-4711"], registry_namespace="never-made")])
    assert gone.rc != 0
    assert gone.failed[0].msg == ('Cannot create Secret "icr" in namespace "no-such-ns-4711": the namespace '
                                  '"no-such-ns-4711" does not exist; create it first (k8s_namespace or the '
                                  "pipeline_accounts role).")
    missing = play([secret_task(name="icr", namespaces=[namespace], service_accounts=[{"name": "nobody"}],
                                registry_namespace="never-made")])
    assert missing.rc != 0
    assert "the account does not exist; create it first" in missing.failed[0].msg
    assert kube.get("v1", "Secret", "icr", namespace) is None
    assert fake.registry.names(fake.account_id) == []
    checked = play([secret_task(name="icr", namespaces=[namespace], service_accounts=[{"name": "nobody"}])],
                   check=True)
    assert checked.rc == 0 and "does not exist (yet)" in checked.stdout + checked.stderr


def test_bad_input_changes_nothing(kube, namespace, play, fake):
    cases = [
        ({"name": "Bad_Name", "namespaces": [namespace]}, "is not a valid Secret name"),
        ({"name": "icr", "namespaces": [namespace], "region": "mars-1"},
         "Registry region 'mars-1' is not known"),
        ({"name": "icr", "namespaces": [namespace], "registry_namespace": "X"}, "is not valid"),
        ({"name": "icr", "namespaces": [namespace],
          "service_accounts": [{"name": "b", "namespace": "elsewhere"}]},
         "is not one of namespaces"),
    ]
    tasks = [{**secret_task(f"case {index}", **options), "ignore_errors": True}
             for index, (options, _message) in enumerate(cases)]
    answer = play(tasks)
    for index, (_options, message) in enumerate(cases):
        assert message in answer.task(f"case {index}").msg, answer.stdout
    no_key = play([secret_task(name="icr", namespaces=[namespace])], env={"IC_API_KEY": ""})
    assert "no IBM Cloud API key was given" in no_key.failed[0].msg
    assert kube.get("v1", "Secret", "icr", namespace) is None
    assert fake.registry.names(fake.account_id) == []


def test_registry_answers_are_retried_and_taken_names_explained(namespace, play, fake):
    fake.add_registry_namespace("taken-ns", other_account=True)
    taken = play([secret_task(name="icr", namespaces=[namespace], registry_namespace="taken-ns")])
    assert taken.rc != 0
    assert "unique per region across all IBM Cloud accounts" in taken.failed[0].msg
    fake.fail_next(2, 429, "registry")
    retried = play([secret_task(name="icr", namespaces=[namespace], registry_namespace="own-ns")])
    assert retried.rc == 0, retried.stdout
    assert [r.status for r in fake.requests if r.service == "registry"][-4:] == [429, 429, 200, 201]
    assert fake.registry.names(fake.account_id) == ["own-ns"]
