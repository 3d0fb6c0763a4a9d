"""ClusterState without HTTP: the control-plane behaviour behind the API."""

import pytest

from emulator.kube import exceptions
from emulator.kube.models import ClusterState, RequestContext


@pytest.fixture
def state():
    cluster = ClusterState(ca_pem="-----BEGIN CERTIFICATE-----\n")
    cluster.namespace_finalize_delay = 0
    return cluster


CTX = RequestContext(default_manager="unit")


def rtype(state, plural, group="", version="v1"):
    return state.rtype(group, version, plural)


def test_new_namespaces_get_a_default_account_and_the_root_ca(state):
    state.create(rtype(state, "namespaces"), "", {"metadata": {"name": "app"}}, CTX)
    state.reconcile()
    assert state.get(rtype(state, "serviceaccounts"), "app", "default")
    assert state.get(rtype(state, "configmaps"), "app", "kube-root-ca.crt")["data"]["ca.crt"].startswith(
        "-----"
    )


def test_namespace_deletion_removes_content_then_the_namespace(state):
    namespaces, configmaps = rtype(state, "namespaces"), rtype(state, "configmaps")
    state.create(namespaces, "", {"metadata": {"name": "gone"}}, CTX)
    state.create(configmaps, "gone", {"metadata": {"name": "c"}}, CTX)
    assert state.delete(namespaces, "", "gone", CTX)["status"] == {"phase": "Terminating"}
    state.reconcile()
    assert state.find(namespaces, "", "gone") is None
    assert state.find(configmaps, "gone", "c") is None


def test_garbage_collection_of_dependents(state):
    configmaps = rtype(state, "configmaps")
    owner = state.create(configmaps, "default", {"metadata": {"name": "owner"}}, CTX)
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    state.create(configmaps, "default", {"metadata": {"name": "child", "ownerReferences": [ref]}}, CTX)
    state.delete(configmaps, "default", "owner", CTX)
    state.reconcile()
    assert state.find(configmaps, "default", "child") is None


def test_service_account_tokens_expire_with_the_clock(state):
    state.create(rtype(state, "serviceaccounts"), "default", {"metadata": {"name": "robot"}}, CTX)
    answer = state.request_token("default", "robot", {"spec": {"expirationSeconds": 600}}, CTX)
    token = answer["status"]["token"]
    assert state.authenticate(token).user == "system:serviceaccount:default:robot"
    state.clock.advance(601)
    assert state.authenticate(token) is None


def test_tokens_for_other_audiences_are_not_accepted(state):
    state.create(rtype(state, "serviceaccounts"), "default", {"metadata": {"name": "robot"}}, CTX)
    answer = state.request_token("default", "robot", {"spec": {"audiences": ["vault"]}}, CTX)
    assert answer["spec"]["audiences"] == ["vault"]
    assert state.authenticate(answer["status"]["token"]) is None


def test_crds_become_served_and_validate(state):
    crds = rtype(state, "customresourcedefinitions", "apiextensions.k8s.io")
    state.create(
        crds,
        "",
        {
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {"type": "object", "properties": {"n": {"type": "integer"}}}
                                },
                            }
                        },
                    }
                ],
            },
        },
        CTX,
    )
    state.reconcile()
    widgets = state.rtype("example.com", "v1", "widgets")
    with pytest.raises(exceptions.ApiError) as error:
        state.create(widgets, "default", {"metadata": {"name": "w"}, "spec": {"n": "x"}}, CTX)
    assert error.value.code == 422
    assert state.create(widgets, "default", {"metadata": {"name": "w"}, "spec": {"n": 1}}, CTX)["spec"] == {
        "n": 1
    }
    state.delete(crds, "", "widgets.example.com", CTX)
    state.reconcile()
    assert state.registry.get("example.com", "v1", "widgets") is None


def test_dry_run_and_no_op_updates_do_not_advance_resource_versions(state):
    configmaps = rtype(state, "configmaps")
    created = state.create(configmaps, "default", {"metadata": {"name": "c"}, "data": {"a": "1"}}, CTX)
    before = state.current_resource_version
    state.update(configmaps, "default", "c", created, CTX)
    state.patch(
        configmaps,
        "default",
        "c",
        "application/merge-patch+json",
        b'{"data":{"a":"2"}}',
        RequestContext(dry_run=True),
    )
    assert state.current_resource_version == before
    assert state.get(configmaps, "default", "c")["data"] == {"a": "1"}


def test_watch_events_are_kept_in_order(state):
    configmaps = rtype(state, "configmaps")
    start = state.current_resource_version
    state.create(configmaps, "default", {"metadata": {"name": "c"}}, CTX)
    state.delete(configmaps, "default", "c", CTX)
    events = state.events_since(configmaps, "default", start)
    assert [e.type for e in events] == ["ADDED", "DELETED"]
    assert events[0].resource_version < events[1].resource_version


def test_workload_simulator_reports_ready_complete_and_failed(state):
    from emulator.kube.workloads import WorkloadSimulator

    simulator = WorkloadSimulator(delay=0)
    state.controllers.append(simulator)
    jobs, deployments = state.rtype("batch", "v1", "jobs"), state.rtype("apps", "v1", "deployments")
    template = {"spec": {"containers": [{"name": "c", "image": "x"}]}}
    simulator.fail("Job", "bad-.*")
    state.create(jobs, "default", {"metadata": {"name": "good"}, "spec": {"template": template}}, CTX)
    state.create(jobs, "default", {"metadata": {"name": "bad-1"}, "spec": {"template": template}}, CTX)
    state.create(
        deployments,
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"a": "b"}}, "template": template},
        },
        CTX,
    )
    state.reconcile()
    assert state.get(jobs, "default", "good")["status"]["conditions"][0]["type"] == "Complete"
    assert state.get(jobs, "default", "bad-1")["status"]["conditions"][0]["reason"] == "BackoffLimitExceeded"
    status = state.get(deployments, "default", "web")["status"]
    assert status["readyReplicas"] == 3 and status["observedGeneration"] == 1
    with pytest.raises(ValueError, match="does not run 'Pod'"):
        simulator.fail("Pod")


def test_watching_from_a_compacted_version_is_expired(state, monkeypatch):
    from emulator.kube import storage

    monkeypatch.setattr(storage, "MAX_EVENTS", 5)
    configmaps = rtype(state, "configmaps")
    start = state.current_resource_version
    for n in range(8):
        state.create(configmaps, "default", {"metadata": {"name": f"c{n}"}}, CTX)
    with pytest.raises(exceptions.ApiError) as expired:
        state.events_since(configmaps, "default", start)
    assert expired.value.code == 410 and expired.value.reason == "Expired"
    assert expired.value.message.startswith(f"too old resource version: {start} (")
    assert len(state.events_since(configmaps, "default", state.current_resource_version - 2)) == 2
