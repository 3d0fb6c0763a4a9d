"""k8s_namespace through real ansible-playbook runs, against the `cluster` fixture (tests/conftest.py):
the emulated cluster, or a real one when TEST_KUBECONFIG names its kubeconfig (then the tests that
need the emulator's controls are skipped). Every namespace made here is removed afterwards."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.support import (
    as_field_manager,
    assert_each_case_fails,
    kube_service,
    persisted_writes,
    reset_request_log,
)
from tests.playbook import task_runner


@pytest.fixture
def name(kube):
    """A fresh namespace name, deleted (without waiting) after the test."""
    chosen = f"t3-ns-{uuid.uuid4().hex[:8]}"
    yield chosen
    live = kube.get("v1", "Namespace", chosen)
    if live is not None:
        finalizers = live["metadata"].get("finalizers")
        if finalizers:
            kube.update("v1", "Namespace", chosen, None, lambda obj: obj["metadata"].pop("finalizers"))
        kube.delete("v1", "Namespace", chosen)


def namespace_task(task_name="namespace", **options):
    return {"name": task_name, "k8s_namespace": options}


def test_create_then_a_second_run_changes_and_writes_nothing(cluster, kube, name, play):
    options = {"name": name, "labels": {"app.kubernetes.io/part-of": "tekton-cd"},
               "annotations": {"example.com/owner": "team-a"}, "display_name": "Team A CI"}
    first = play([namespace_task(**options)], diff=True)
    assert first.rc == 0, first.stdout
    created = first.task("namespace")
    assert created.changed
    metadata = created.result["result"]["metadata"]
    assert metadata["labels"]["app.kubernetes.io/part-of"] == "tekton-cd"
    assert metadata["annotations"] == {"example.com/owner": "team-a",
                                       "openshift.io/display-name": "Team A CI"}
    assert created.result["result"]["status"]["phase"] == "Active"
    assert created.diff["before"] == {} and created.diff["after"]["metadata"]["name"] == name
    assert "managedFields" not in metadata and created.result["openshift_project"] is False

    version = kube.get("v1", "Namespace", name)["metadata"]["resourceVersion"]
    reset_request_log(cluster)
    second = play([namespace_task(**options)])
    assert second.rc == 0, second.stdout
    assert not second.task("namespace").changed
    assert kube.get("v1", "Namespace", name)["metadata"]["resourceVersion"] == version
    if cluster.controls:
        assert cluster.controls.writes() == []
        assert len(cluster.controls.requests()) <= 2  # the namespace's GET (+ discovery of groups)


def test_check_mode_writes_nothing(cluster, kube, name, play):
    reset_request_log(cluster)
    would_create = play([namespace_task(name=name, labels={"a": "1"})], check=True, diff=True)
    assert would_create.rc == 0, would_create.stdout
    assert would_create.task("namespace").changed
    assert would_create.task("namespace").diff["after"]["metadata"]["labels"]["a"] == "1"
    assert kube.get("v1", "Namespace", name) is None
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []

    assert play([namespace_task(name=name, labels={"a": "1"})]).rc == 0
    would = play([namespace_task("change", name=name, labels={"a": "2"}),
                  namespace_task("delete", name=name, state="absent")], check=True)
    assert would.task("change").changed and would.task("delete").changed
    assert kube.get("v1", "Namespace", name)["metadata"]["labels"]["a"] == "1"


def test_labels_change_in_place_and_foreign_labels_stay(kube, name, play):
    assert play([namespace_task(name=name, labels={"a": "1", "b": "2"})]).rc == 0
    before = kube.get("v1", "Namespace", name)
    someone_else = as_field_manager(kube, "someone-else")
    someone_else.apply({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": name, "labels": {"team": "x"}}})

    changed = play([namespace_task(name=name, labels={"a": "3"})], diff=True)
    assert changed.rc == 0, changed.stdout
    task = changed.task("namespace")
    assert task.changed
    assert task.diff["before"]["metadata"]["labels"]["b"] == "2"
    assert "b" not in task.diff["after"]["metadata"]["labels"]
    after = kube.get("v1", "Namespace", name)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["labels"]["a"] == "3" and after["metadata"]["labels"]["team"] == "x"
    assert "b" not in after["metadata"]["labels"]


def test_a_label_owned_by_another_manager_needs_force_conflicts(kube, name, play):
    as_field_manager(kube, "someone-else").apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"team": "x"}}})
    refused = play([namespace_task(name=name, labels={"team": "y"})])
    assert refused.rc != 0
    assert "force_conflicts: true" in refused.task("namespace").msg
    assert kube.get("v1", "Namespace", name)["metadata"]["labels"]["team"] == "x"
    forced = play([namespace_task(name=name, labels={"team": "y"}, force_conflicts=True)])
    assert forced.rc == 0 and forced.task("namespace").changed
    assert kube.get("v1", "Namespace", name)["metadata"]["labels"]["team"] == "y"


def test_absent_waits_until_the_namespace_is_finalized(kube, name, play):
    assert play([namespace_task(name=name)]).rc == 0
    kube.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": name}})
    removed = play([namespace_task(name=name, state="absent")])
    assert removed.rc == 0, removed.stdout
    assert removed.task("namespace").changed
    assert kube.get("v1", "Namespace", name) is None  # gone when the task returned, not "Terminating"

    again = play([namespace_task(name=name, state="absent")])
    assert again.rc == 0 and not again.task("namespace").changed


def test_a_namespace_held_by_a_finalizer_times_out_clearly(kube, name, play):
    kube.apply({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "finalizers": ["example.com/hold"]}})
    held = play([namespace_task(name=name, state="absent", wait_timeout=2)])
    assert held.rc != 0
    msg = held.task("namespace").msg
    assert msg.startswith(f'Timed out after 2 s waiting for Namespace "{name}" to be deleted')
    assert "example.com/hold" in msg and "raise the wait timeout" in msg


def test_a_terminating_namespace_is_reported_when_not_waiting(kube, name, play):
    kube.apply({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "finalizers": ["example.com/hold"]}})
    kube.delete("v1", "Namespace", name)
    refused = play([namespace_task(name=name, wait=False)])
    assert refused.rc != 0
    assert refused.task("namespace").msg == (
        f'Namespace "{name}" is being deleted, so it cannot be ensured present now; run again once it is '
        "gone, or set wait: true to wait for that.")


BAD_INPUTS = [
    ({"name": "Bad_Name"}, "Invalid value for option 'name': 'Bad_Name' is not a valid namespace name"),
    ({"name": "x" * 64}, "is not a valid namespace name"),
    ({"name": "-lead"}, "is not a valid namespace name"),
    ({"name": "ok", "labels": {"bad key!": "v"}}, "Invalid value for option 'labels': key 'bad key!'"),
    ({"name": "ok", "labels": {"n": 5}}, "the value of 'n' is int 5, not a string; quote it in YAML"),
    ({"name": "ok", "labels": {"n": "has space"}}, "is not a valid label value"),
    ({"name": "ok", "annotations": {"n": True}}, "Invalid value for option 'annotations'"),
    ({"name": "ok", "wait_timeout": 0}, "Invalid value for option 'wait_timeout'"),
    ({"name": "ok", "state": "gone"}, "value of state must be one of: present, absent"),
]


def test_bad_input_fails_with_one_sentence_before_any_api_call(cluster, play):
    reset_request_log(cluster)
    failed = assert_each_case_fails(play, BAD_INPUTS, lambda name, options: namespace_task(name, **options))
    assert [task.msg for task in failed.tasks if "\n" in task.msg] == []
    if cluster.controls:
        assert cluster.controls.requests() == []


def test_unknown_context_unreachable_server_and_wrong_token(cluster, play, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failed = play([{**namespace_task("context", name="ok", context="nope"), "ignore_errors": True},
                   {**namespace_task("refused", name="ok", host=f"https://127.0.0.1:{port}"),
                    "ignore_errors": True},
                   {**namespace_task("wrong token", name="ok", api_key="not-a-valid-token"),
                    "ignore_errors": True}])
    assert "has no context named 'nope'" in failed.task("context").msg
    assert f"the connection to https://127.0.0.1:{port} was refused" in failed.task("refused").msg
    unauthorized = failed.task("wrong token").msg
    # (with a cold discovery cache the first request, and so the failing one, lists API v1)
    assert unauthorized.startswith(('Could not read Namespace "ok"',
                                    "Could not list the resources of API v1"))
    assert ": the API server answered 401 Unauthorized" in unauthorized
    assert "credentials were refused" in unauthorized and "not-a-valid-token" not in failed.stdout


def test_a_kubeconfig_dict_never_shows_its_token(cluster, kube, name, play):
    import yaml

    with open(cluster.kubeconfig_path) as handle:
        kubeconfig = yaml.safe_load(handle)
    secrets = [user["user"][key] for user in kubeconfig["users"] for key in ("token", "client-key-data")
               if key in user["user"]]
    assert secrets, "the test needs a kubeconfig with a token or key"
    done = play([namespace_task(name=name, kubeconfig=kubeconfig)], verbosity=3, diff=True,
                kubeconfig=None)
    assert done.rc == 0, done.stdout
    output = done.stdout + done.stderr + repr([t.result for t in done.tasks])
    for secret in secrets:
        assert secret not in output
    assert "v1" in done.stdout  # harmless kubeconfig strings are not masked everywhere


@pytest.mark.emulator_only
def test_429_and_500_answers_are_retried(emulator, name, play):
    emulator.controls.fail_next(verb="PATCH", path="/namespaces/", status=429, count=1)
    emulator.controls.fail_next(verb="PATCH", path="/namespaces/", status=500, count=1)
    done = play([namespace_task(name=name)])
    assert done.rc == 0, done.stdout
    patches = [r for r in emulator.controls.requests() if r[0] == "PATCH"]
    assert len(patches) == 3


@pytest.mark.emulator_only
def test_forbidden_names_the_identity_and_the_verb(emulator, name, play, tmp_path):
    token = emulator.add_token("jane")
    path = emulator.write_kubeconfig(tmp_path / "jane", token=token)
    denied = play([namespace_task(name=name)], kubeconfig=str(path))
    msg = denied.task("namespace").msg
    assert f'Could not read Namespace "{name}": the API server answered 403 Forbidden' in msg
    assert 'User "jane" cannot get resource "namespaces"' in msg and "Role/ClusterRole" in msg


@pytest.mark.emulator_only
def test_openshift_creates_a_project_and_manages_it_like_a_namespace(openshift_emulator, cache_home, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", cache_home)
    openshift = openshift_emulator
    kube = kube_service(openshift.kubeconfig_path)
    name = f"t3-project-{uuid.uuid4().hex[:8]}"
    play = task_runner(tmp_path, kubeconfig=openshift.kubeconfig_path, env={"XDG_CACHE_HOME": cache_home})

    options = {"name": name, "display_name": "Health CI", "description": "builds", "labels": {"a": "1"}}
    openshift.controls.reset()
    checked = play([namespace_task(**options)], check=True)
    assert checked.rc == 0, checked.stdout
    assert checked.task("namespace").changed and checked.task("namespace").result["openshift_project"]
    assert persisted_writes(openshift.controls) == []
    assert kube.get("v1", "Namespace", name) is None

    created = play([namespace_task(**options)])
    assert created.rc == 0, created.stdout
    task = created.task("namespace")
    assert task.changed and task.result["openshift_project"] is True
    assert ("POST", "/apis/project.openshift.io/v1/projectrequests") in [
        r[:2] for r in openshift.controls.requests()]
    live = kube.get("v1", "Namespace", name)
    assert live["metadata"]["annotations"]["openshift.io/display-name"] == "Health CI"
    assert live["metadata"]["annotations"]["openshift.io/description"] == "builds"
    assert live["metadata"]["labels"]["a"] == "1"

    openshift.controls.reset()
    again = play([namespace_task(**options)])
    assert again.rc == 0 and not again.task("namespace").changed
    assert openshift.controls.writes() == []

    removed = play([namespace_task(name=name, state="absent", wait_timeout=30)])
    assert removed.rc == 0, removed.stdout
    assert removed.task("namespace").changed
    assert ("DELETE", f"/apis/project.openshift.io/v1/projects/{name}") in [
        r[:2] for r in openshift.controls.requests()]
    assert kube.get("v1", "Namespace", name) is None
