"""k8s_namespace's list form (``namespaces:``) through real ansible-playbook runs against the
`cluster` fixture: several namespaces in one task, read with one LIST, a no-op re-run that writes
nothing, check mode that writes nothing, and input errors that name the element."""

from __future__ import annotations

import pytest

from tests.playbook import run_tasks

LABELS = {"app.kubernetes.io/part-of": "tekton-cd"}


@pytest.fixture
def core_api(cluster):
    from kubernetes import client

    return client.CoreV1Api(cluster.api_client())


@pytest.fixture
def names(cluster, core_api):
    """Two fresh namespace names, deleted (without waiting) after the test."""
    from kubernetes.client.rest import ApiException

    chosen = [cluster.unique_name("nslist-ci"), cluster.unique_name("nslist-app")]
    yield chosen
    for name in chosen:
        try:
            core_api.delete_namespace(name)
        except ApiException as error:
            if error.status not in (404, 409):
                raise


def namespaces_task(names, **options):
    elements = [{"name": names[0], "labels": LABELS, "display_name": "Pipeline"},
                {"name": names[1], "labels": LABELS, "annotations": {"example.com/owner": "team-a"}}]
    return {"name": "namespaces", "k8s_namespace": {"namespaces": elements, **options}}


def live(core_api, name):
    from kubernetes.client.rest import ApiException

    try:
        return core_api.read_namespace(name)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def mutations(cluster):
    return [write for write in cluster.controls.writes() if "dryRun=All" not in write[2]]


def run(cluster, tmp_path, tasks, **options):
    return run_tasks(tasks, tmp_path=tmp_path, kubeconfig=cluster.kubeconfig_path, **options)


def test_creates_every_namespace_in_one_task(cluster, core_api, names, tmp_path):
    play = run(cluster, tmp_path, [namespaces_task(names)], diff=True)
    assert play.rc == 0, play.stdout
    task = play.task("namespaces")
    assert task.changed and task.result["openshift_project"] is False
    results = task.result["results"]
    assert [result["metadata"]["name"] for result in results] == names
    assert all(result["status"]["phase"] == "Active" for result in results)
    assert [entry["before"] for entry in task.diff] == [{}, {}]
    first, second = live(core_api, names[0]), live(core_api, names[1])
    assert first.metadata.labels["app.kubernetes.io/part-of"] == "tekton-cd"
    assert first.metadata.annotations["openshift.io/display-name"] == "Pipeline"
    assert second.metadata.annotations["example.com/owner"] == "team-a"


def test_a_second_run_changes_nothing(cluster, core_api, names, tmp_path):
    assert run(cluster, tmp_path, [namespaces_task(names)]).rc == 0
    versions = [live(core_api, name).metadata.resource_version for name in names]
    again = run(cluster, tmp_path, [namespaces_task(names)])
    assert again.rc == 0, again.stdout
    assert not again.task("namespaces").changed
    assert [live(core_api, name).metadata.resource_version for name in names] == versions


@pytest.mark.emulator_only
def test_a_second_run_writes_nothing_and_reads_once(cluster, names, tmp_path):
    assert run(cluster, tmp_path, [namespaces_task(names)]).rc == 0
    cluster.controls.reset()
    again = run(cluster, tmp_path, [namespaces_task(names)])
    assert again.rc == 0, again.stdout
    assert cluster.controls.writes() == []
    namespace_reads = [r for r in cluster.controls.requests() if r[1].startswith("/api/v1/namespaces")]
    # One LIST of the namespaces carrying the labels they share, not of every namespace of the cluster.
    assert namespace_reads == [
        ("GET", "/api/v1/namespaces", "labelSelector=app.kubernetes.io/part-of%3Dtekton-cd")]


def test_check_mode_writes_nothing(cluster, core_api, names, tmp_path):
    if cluster.controls:
        cluster.controls.reset()
    checked = run(cluster, tmp_path, [namespaces_task(names)], check=True, diff=True)
    assert checked.rc == 0, checked.stdout
    task = checked.task("namespaces")
    assert task.changed
    assert [entry["after"]["metadata"]["name"] for entry in task.diff] == names
    assert [live(core_api, name) for name in names] == [None, None]
    if cluster.controls:
        assert mutations(cluster) == []


def test_one_existing_and_one_missing_namespace(cluster, core_api, names, tmp_path):
    single = {"name": "one", "k8s_namespace": {"name": names[0], "labels": LABELS}}
    assert run(cluster, tmp_path, [single]).rc == 0
    play = run(cluster, tmp_path, [namespaces_task(names)], diff=True)
    assert play.rc == 0, play.stdout
    diff = play.task("namespaces").diff
    assert diff[0]["before"]["metadata"]["name"] == names[0]  # updated: the display name was added
    assert diff[1]["before"] == {}
    assert live(core_api, names[1]) is not None


def test_state_absent_removes_every_namespace(cluster, core_api, names, tmp_path):
    assert run(cluster, tmp_path, [namespaces_task(names)]).rc == 0
    removed = run(cluster, tmp_path, [namespaces_task(names, state="absent")])
    assert removed.rc == 0, removed.stdout
    assert removed.task("namespaces").changed
    assert [live(core_api, name) for name in names] == [None, None]
    again = run(cluster, tmp_path, [namespaces_task(names, state="absent")])
    assert again.rc == 0 and not again.task("namespaces").changed


@pytest.mark.parametrize(("options", "message"), [
    ({"namespaces": [{"name": "ok-a"}, {"name": "Bad_Name"}]},
     "Invalid value for option 'namespaces[1].name': 'Bad_Name' is not a valid namespace name"),
    ({"namespaces": [{"name": "ok-a"}, {"name": "ok-a"}]}, "namespace 'ok-a' is listed twice"),
    ({"namespaces": [{"name": "ok-a", "labels": {"n": 5}}]},
     "option 'namespaces[0].labels': the value of 'n' is int 5, not a string"),
    ({"namespaces": [{"name": "ok-a"}], "labels": {"a": "b"}},
     "Invalid value for option 'labels': it cannot be combined with namespaces"),
    ({}, "neither name nor namespaces is given"),
])
def test_bad_input_fails_before_any_request(cluster, tmp_path, options, message):
    if cluster.controls:
        cluster.controls.reset()
    play = run(cluster, tmp_path, [{"name": "bad", "k8s_namespace": options}])
    assert play.rc != 0
    assert message in play.task("bad").msg
    if cluster.controls:
        assert cluster.controls.requests() == []
