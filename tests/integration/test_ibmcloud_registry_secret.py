"""ibmcloud_registry_secret through real ansible-playbook runs: the fake IBM Cloud for the registry
API, the cluster fixture (emulated, or real with TEST_KUBECONFIG) for the Kubernetes side."""

from __future__ import annotations

import base64
import json

import pytest

from tests.ibmcloud_fixtures import FakeIBMCloud
from tests.integration.support import assert_each_case_fails, persisted_writes, reset_request_log
from tests.playbook import isolated_environment, task_runner


@pytest.fixture
def fake():
    """The fake IBM Cloud; only IAM and the registry are used here."""
    with FakeIBMCloud() as cloud:
        yield cloud


@pytest.fixture
def play(cluster, cache_home, fake, tmp_path):
    """The shared `play`, also pointed at the fake IBM Cloud: play(tasks, api_key=..., env=..., ...)."""
    run = task_runner(tmp_path, kubeconfig=cluster.kubeconfig_path, environment=isolated_environment,
                      env={**fake.env(), "XDG_CACHE_HOME": cache_home})

    def with_key(tasks, api_key=None, env=None, **options):
        return run(tasks, env={"IC_API_KEY": api_key or fake.api_key, **(env or {})}, **options)

    return with_key


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

    reset_request_log(cluster)
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
    reset_request_log(cluster)
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
    # One play, each task a run of the module of its own with the key its environment gives.
    runs = play([{**task, "name": "first", "environment": {"IC_API_KEY": "first-key-abc"}},
                 {**task, "name": "again", "environment": {"IC_API_KEY": "first-key-abc"}},
                 {**task, "name": "rotated", "environment": {"IC_API_KEY": "second-key-def"}}])
    assert runs.rc == 0, runs.stdout
    assert runs.task("first").changed
    assert not runs.task("again").changed
    assert runs.task("rotated").changed
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
    # Both failures in one play (each task may fail): a playbook run costs more than the checks.
    failed = play([{**secret_task("gone", name="icr", namespaces=["no-such-ns-4711"],
                                  registry_namespace="never-made"), "ignore_errors": True},
                   {**secret_task("missing", name="icr", namespaces=[namespace],
                                  service_accounts=[{"name": "nobody"}], registry_namespace="never-made"),
                    "ignore_errors": True}])
    gone, missing = failed.task("gone"), failed.task("missing")
    assert gone.failed
    assert gone.msg == ('Cannot create Secret "icr" in namespace "no-such-ns-4711": the namespace '
                                  '"no-such-ns-4711" does not exist; create it first (k8s_namespace or the '
                                  "pipeline_accounts role).")
    assert missing.failed
    assert "the account does not exist; create it first" in missing.msg
    assert kube.get("v1", "Secret", "icr", namespace) is None
    assert fake.registry.names(fake.account_id) == []
    checked = play([secret_task(name="icr", namespaces=[namespace], service_accounts=[{"name": "nobody"}])],
                   check=True)
    assert checked.rc == 0 and "does not exist (yet)" in checked.stdout + checked.stderr


def test_bad_input_changes_nothing(kube, namespace, play, fake):
    cases = [
        ({"name": "Bad_Name", "namespaces": [namespace]}, "is not a valid Secret name"),
        ({"name": "icr", "namespaces": [namespace, "Bad_NS"]},
         "Invalid value for option 'namespaces': 'Bad_NS' is not a valid namespace name"),
        ({"name": "icr", "namespaces": [namespace], "region": "mars-1"},
         "Registry region 'mars-1' is not known"),
        ({"name": "icr", "namespaces": [namespace], "registry_namespace": "X"}, "is not valid"),
        ({"name": "icr", "namespaces": [namespace],
          "service_accounts": [{"name": "b", "namespace": "elsewhere"}]},
         "is not one of namespaces"),
    ]
    # One more case runs without a key: that task's environment empties it.
    no_key = f"case {len(cases)}"
    cases.append(({"name": "icr", "namespaces": [namespace]}, "no IBM Cloud API key was given"))
    assert_each_case_fails(play, cases, lambda name, options: {
        **secret_task(name, **options), **({"environment": {"IC_API_KEY": ""}} if name == no_key else {})})
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
