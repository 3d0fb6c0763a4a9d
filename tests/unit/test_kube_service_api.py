"""kube_service operations over HTTP against the `cluster` fixture (emulated, or TEST_KUBECONFIG's):
batch apply with one read per kind, zero writes on a no-op, dry runs, read-modify-write with a
re-read on 409, subresource creates, waits by watch, and the Secret values a diff never shows."""

from __future__ import annotations

import pytest

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_client import connect  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import (  # noqa: E402
    HIDDEN,
    HIDDEN_CHANGED,
    KubeService,
    Selection,
)


@pytest.fixture
def service(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return KubeService(connect({"kubeconfig": str(cluster.kubeconfig_path)}))


def accounts(namespace, count=3):
    return [{"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": f"sa{i}", "namespace": namespace, "labels": {"set": "t"}}}
            for i in range(count)]


def config_map(namespace, value="1"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": namespace},
            "data": {"key": value}}


def mutations(cluster):
    return [w for w in cluster.controls.writes() if "dryRun=All" not in w[2]] if cluster.controls else None


def test_apply_all_reads_once_per_kind_and_a_rerun_writes_nothing(cluster, service, namespace):
    objects = [*accounts(namespace), config_map(namespace)]
    first = service.apply_all(objects)
    assert [c.changed for c in first] == [True] * 4
    assert first[0].after["metadata"]["name"] == "sa0"

    if cluster.controls:
        cluster.controls.reset()
    before = service.client.request_count
    second = service.apply_all(objects, label_selector=None)
    assert [c.changed for c in second] == [False] * 4
    assert service.client.request_count - before == 2  # LIST service accounts + GET the config map
    if cluster.controls:
        assert cluster.controls.writes() == []
        verbs = sorted(r[0] for r in cluster.controls.requests())
        assert verbs == ["GET", "GET"]


def test_check_mode_sends_dry_runs_and_reports_the_change(cluster, service, namespace):
    service.apply(config_map(namespace))
    dry = KubeService(service.client, check_mode=True)
    if cluster.controls:
        cluster.controls.reset()
    change = dry.apply(config_map(namespace, "2"))
    assert change.changed and change.diff()["after"]["data"] == {"key": "2"}
    assert service.get("v1", "ConfigMap", "cm", namespace)["data"] == {"key": "1"}
    created = dry.apply({**config_map(namespace), "metadata": {"name": "new", "namespace": namespace}})
    assert created.changed and service.get("v1", "ConfigMap", "new", namespace) is None
    if cluster.controls:
        assert mutations(cluster) == []


def test_update_rereads_after_a_stale_write(service, namespace):
    service.apply(accounts(namespace, 1)[0])
    calls = []

    def add_pull_secret(account):
        calls.append(account["metadata"]["resourceVersion"])
        if len(calls) == 1:  # someone else writes between our read and our write
            other = KubeService(service.client, field_manager="someone-else")
            other.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": {"name": "sa0", "namespace": namespace, "labels": {"other": "x"}}})
        account.setdefault("imagePullSecrets", []).append({"name": "registry"})

    change = service.update("v1", "ServiceAccount", "sa0", namespace, add_pull_secret)
    assert change.changed and len(calls) == 2 and calls[0] != calls[1]
    live = service.get("v1", "ServiceAccount", "sa0", namespace)
    assert live["imagePullSecrets"] == [{"name": "registry"}] and live["metadata"]["labels"]["other"] == "x"
    unchanged = service.update("v1", "ServiceAccount", "sa0", namespace, lambda account: None)
    assert not unchanged.changed


def test_create_posts_subresources_and_reviews(service, namespace):
    service.apply(accounts(namespace, 1)[0])
    token = service.create({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                            "spec": {"expirationSeconds": 600}},
                           namespace=namespace, subresource_of=("v1", "ServiceAccount", "sa0", "token"))
    assert token["status"]["token"]
    review = KubeService(service.client, check_mode=True).create({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": f"system:serviceaccount:{namespace}:sa0",
                 "resourceAttributes": {"verb": "delete", "resource": "namespaces"}}}, dry_run=False)
    assert review["status"]["allowed"] is False


def test_wait_for_a_condition_and_time_out_clearly(service, namespace):
    service.apply(config_map(namespace))
    found = service.wait_for("v1", "ConfigMap", "cm", namespace, condition="data.key == '1'", timeout=5)
    assert found["data"]["key"] == "1"
    with pytest.raises(KubeError) as error:
        service.wait_for("v1", "ConfigMap", "cm", namespace, condition="data.key == '9'", timeout=1)
    assert error.value.msg.startswith(f'Timed out after 1 s waiting for ConfigMap "cm" in namespace '
                                      f'"{namespace}" to match "data.key == \'9\'"')


def test_follow_lists_then_watches_several_selections_from_the_lists_version(service, namespace):
    import time

    labelled = {**config_map(namespace), "metadata": {"name": "cm", "namespace": namespace,
                                                      "labels": {"follow": "me"}}}
    service.apply(labelled)
    service.apply({**config_map(namespace), "metadata": {"name": "other", "namespace": namespace}})
    selections = {"maps": Selection("v1", "ConfigMap", namespace, label_selector="follow=me"),
                  "accounts": Selection("v1", "ServiceAccount", namespace,
                                        field_selector="metadata.name=sa0")}
    seen = []
    started = time.monotonic()
    for key, event, obj in service.follow(selections, timeout=20):
        seen.append((key, event, obj["metadata"]["name"]))
        if (key, event) == ("maps", "LISTED"):
            # Changes made before the watches are surely open still arrive: they watch from the LIST.
            service.apply(accounts(namespace, 1)[0])
            service.apply({**labelled, "data": {"key": "2"}})
        if key == "maps" and event == "MODIFIED":
            assert obj["data"]["key"] == "2"
        if ("maps", "MODIFIED", "cm") in seen and any(k == "accounts" and e in ("LISTED", "ADDED")
                                                      for k, e, _ in seen):
            break
    assert time.monotonic() - started < 15
    assert seen[0] == ("maps", "LISTED", "cm") and ("maps", "LISTED", "other") not in seen
    # The account was made after the maps' LIST, maybe before the accounts' one: listed or added.
    assert [(e, n) for k, e, n in seen if k == "accounts"] in ([("LISTED", "sa0")], [("ADDED", "sa0")])
    # Nothing to see: the follow ends when its time is up, without an error.
    quiet = time.monotonic()
    assert [e[:2] for e in service.follow({"maps": selections["maps"]}, timeout=1)] == [("maps", "LISTED")]
    assert time.monotonic() - quiet < 5


def test_delete_with_wait_and_again(service, namespace):
    service.apply(config_map(namespace))
    assert service.delete("v1", "ConfigMap", "cm", namespace, wait=True, timeout=10).changed
    assert service.get("v1", "ConfigMap", "cm", namespace) is None
    assert not service.delete("v1", "ConfigMap", "cm", namespace).changed


def test_secret_values_stay_out_of_results_and_diffs(service, namespace):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": namespace},
              "stringData": {"password": "first-value"}}
    service.apply(secret)
    before = service.client.request_count
    assert not service.apply(secret).changed
    assert service.client.request_count - before == 1  # the read; no write
    change = service.apply({**secret, "stringData": {"password": "second-value"}})
    assert change.changed
    assert change.diff()["after"]["data"] == {"password": HIDDEN_CHANGED}
    assert change.diff()["before"]["data"] == {"password": HIDDEN}
    text = repr(change.diff()) + repr(change.result)
    for clear in ("first-value", "second-value", "Zmlyc3QtdmFsdWU=", "c2Vjb25kLXZhbHVl"):
        assert clear not in text


def test_an_unserved_api_names_the_missing_component(service):
    with pytest.raises(KubeError) as error:
        service.get("triggers.tekton.dev/v1beta1", "EventListener", "x", "y")
    assert "install Tekton Triggers" in error.value.msg


@pytest.mark.emulator_only
def test_connection_resets_are_retried(emulator, service, namespace):
    emulator.controls.fail_next(verb="PATCH", path="/configmaps/", status="reset", count=1)
    assert service.apply(config_map(namespace)).changed
    assert [r[0] for r in emulator.controls.requests()].count("PATCH") == 2


def test_read_all_exposes_the_live_objects_and_apply_all_reuses_them(cluster, service, namespace):
    objects = [*accounts(namespace, 2), config_map(namespace)]
    service.apply(objects[0])
    before = service.client.request_count
    live = service.read_all(objects)
    # The labelled LIST of the accounts, a GET of sa1 (which that LIST missed), a GET of the config map.
    assert service.client.request_count - before == 3
    assert live.of(objects[0])["metadata"]["name"] == "sa0"
    assert live.of(objects[1]) is None and live.of(objects[2]) is None
    assert service.missing_namespaces(objects, live) == []
    changes = service.apply_all(objects, live=live)
    assert [c.changed for c in changes] == [False, True, True]
    assert service.client.request_count - before == 5  # no second read: only the two applies


def test_read_all_lists_objects_in_several_namespaces_once_with_their_labels(cluster, service, namespace):
    other = f"{namespace}-b"
    service.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    try:
        objects = [*accounts(namespace, 2), *accounts(other, 2)]
        service.apply_all(objects)
        if cluster.controls:
            cluster.controls.reset()
        before = service.client.request_count
        live = service.read_all(objects)
        assert service.client.request_count - before == 1
        assert sorted((key[3], key[2]) for key in live) == sorted(
            (obj["metadata"]["namespace"], obj["metadata"]["name"]) for obj in objects)
        assert service.missing_namespaces(objects, live) == []
        assert service.client.request_count - before == 1  # every namespace holds an account: no GET
        if cluster.controls:
            assert [r[:2] for r in cluster.controls.requests()] == [("GET", "/api/v1/serviceaccounts")]
            assert cluster.controls.requests()[0][2] == "labelSelector=set%3Dt"
    finally:
        service.delete("v1", "Namespace", other)


def test_read_all_reads_what_the_label_selected_list_misses(cluster, service, namespace):
    objects = accounts(namespace, 3)
    service.apply(named_account(namespace, "sa1"))  # there, but without the labels the others carry
    service.apply(objects[2])
    before = service.client.request_count
    live = service.read_all(objects)
    # The labelled LIST (sa2), then one LIST of the namespace for the two it missed (sa0: absent,
    # sa1: unlabelled).
    assert service.client.request_count - before == 2
    assert live.of(objects[0]) is None
    assert live.of(objects[1])["metadata"].get("labels") is None  # the live object, as it is
    assert live.of(objects[2])["metadata"]["labels"] == {"set": "t"}
    change = service.apply_all(objects, live=live)[1]
    assert change.changed and change.before["metadata"]["name"] == "sa1"


def named_account(namespace, name):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}


def test_missing_namespaces_asks_only_about_empty_ones(service, namespace):
    gone = f"{namespace}-missing"
    objects = [*accounts(namespace, 1), *accounts(gone, 1)]
    service.apply(objects[0])
    live = service.read_all(objects)
    before = service.client.request_count
    assert service.missing_namespaces(objects, live) == [gone]
    assert service.client.request_count - before == 1


def test_read_all_lists_each_namespace_where_listing_across_them_is_forbidden(cluster, service, namespace,
                                                                               tmp_path, monkeypatch):
    other = f"{namespace}-b"
    service.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    try:
        service.apply(named_account(namespace, "operator"))
        for ns in (namespace, other):
            service.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                           "metadata": {"name": "operator-admin", "namespace": ns},
                           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                       "name": "admin"},
                           "subjects": [{"kind": "ServiceAccount", "name": "operator",
                                         "namespace": namespace}]})
        objects = [*accounts(namespace, 2), *accounts(other, 2)]
        service.apply_all(objects)
        token, _expires = service.request_token("operator", namespace, lifetime=600)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "scoped-cache"))
        scoped = KubeService(connect({"kubeconfig": cluster.kubeconfig_with_token(token)}))
        scoped.read_all(objects[:1])  # discovery, so that only the reads below are counted
        before = scoped.client.request_count
        live = scoped.read_all(objects)
        assert scoped.client.request_count - before == 3  # the 403, then one LIST per namespace
        assert all(live.of(obj) is not None for obj in objects)
        before = scoped.client.request_count
        scoped.read_all(objects)
        assert scoped.client.request_count - before == 2  # the 403 is remembered for the kind
    finally:
        service.delete("v1", "Namespace", other)


def test_apply_all_spreads_many_writes_over_several_connections_and_keeps_their_order(cluster, service,
                                                                                     namespace):
    objects = [*accounts(namespace, 12), config_map(namespace)]
    changes = service.apply_all(objects)
    assert [c.changed for c in changes] == [True] * 13
    assert [c.after["metadata"]["name"] for c in changes] == [f"sa{i}" for i in range(12)] + ["cm"]
    twins = service.client.connections(4)[1:]
    assert sum(twin.request_count for twin in twins) > 0  # not all over the one connection
    assert service.apply_all(objects)[5].changed is False
    if cluster.controls:
        cluster.controls.reset()
        assert [c.changed for c in service.apply_all(objects)] == [False] * 13
        assert cluster.controls.writes() == []


def test_map_concurrently_works_on_every_item_and_raises_the_first_failure_in_order(service):
    done = []

    def work(_on, item):
        if item in (3, 7):
            raise KubeError(f"item {item} failed")
        done.append(item)
        return item * 10

    assert service.map_concurrently(lambda _on, item: item * 10, range(9)) == [i * 10 for i in range(9)]
    with pytest.raises(KubeError, match="item 3 failed"):
        service.map_concurrently(work, range(9))
    assert sorted(done) == [0, 1, 2, 4, 5, 6, 8]


def test_tekton_is_detected_with_one_list_of_the_namespaces_config_maps_or_a_get_each_if_forbidden(
        cluster, service, namespace, tmp_path, monkeypatch):
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.tekton_cluster import detect

    detect(service)  # discovery, so that only the reads below are counted
    before = service.client.request_count
    found = detect(service)
    # pipelines-info and feature-flags, one LIST, also where they are missing (Tekton's CRDs alone,
    # as on the real control plane of the tests)
    assert service.client.request_count - before == 1
    if cluster.is_emulated:
        assert found.release == "v1.15.0" and found.feature_flags["enable-api-fields"] == "beta"

    service.apply(named_account(namespace, "viewer"))
    token, _expires = service.request_token("viewer", namespace, lifetime=600)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "scoped-cache"))
    scoped = KubeService(connect({"kubeconfig": cluster.kubeconfig_with_token(token)}))
    detect(scoped)
    before = scoped.client.request_count
    found = detect(scoped)
    assert scoped.client.request_count - before == 3  # the LIST's 403, then a GET of each ConfigMap
    assert found.feature_flags is None and "v1" in found.api_versions
