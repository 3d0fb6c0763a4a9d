"""DELETE answers, namespace termination and ownerReference garbage collection."""

CM = "/api/v1/namespaces/{ns}/configmaps"


def test_delete_answers_a_success_status_for_configmaps(api, namespace):
    _, created = api.post(CM.format(ns=namespace), {"metadata": {"name": "gone"}})
    status, body = api.delete(CM.format(ns=namespace) + "/gone")
    assert status == 200
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "gone", "kind": "configmaps", "uid": created["metadata"]["uid"]},
    }
    assert api.delete(CM.format(ns=namespace) + "/gone")[0] == 404


def test_delete_answers_the_object_for_pods(api, namespace):
    api.wait_until(lambda: api.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/default")[0] == 200)
    path = f"/api/v1/namespaces/{namespace}/pods"
    status, created = api.post(
        path, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    assert status == 201, created
    status, body = api.delete(path + "/p", gracePeriodSeconds="0")
    assert status == 200 and body["kind"] == "Pod" and body["metadata"]["name"] == "p"


def test_finalizers_hold_deletion_until_removed(api, namespace):
    path = CM.format(ns=namespace) + "/held"
    api.post(CM.format(ns=namespace), {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    status, body = api.delete(path)
    assert status == 200 and body["metadata"]["deletionTimestamp"]
    assert api.get(path)[0] == 200
    status, _ = api.merge_patch(path, {"metadata": {"finalizers": None}})
    assert status == 200
    assert api.get(path)[0] == 404


def test_namespace_goes_through_terminating(api, cluster):
    name = cluster.unique_name("term")
    api.post("/api/v1/namespaces", {"metadata": {"name": name}})
    api.post(CM.format(ns=name), {"metadata": {"name": "inside"}})
    status, body = api.delete(f"/api/v1/namespaces/{name}")
    assert status == 200
    assert body["kind"] == "Namespace" and body["status"] == {"phase": "Terminating"}
    assert body["metadata"]["deletionTimestamp"] and body["spec"] == {"finalizers": ["kubernetes"]}
    status, body = api.post(CM.format(ns=name), {"metadata": {"name": "late"}})
    if status != 404:  # the namespace may already be gone on a fast cluster
        assert status == 403
        assert body["message"] == (
            f'configmaps "late" is forbidden: unable to create new content in namespace {name} '
            "because it is being terminated"
        )
        assert body["details"]["causes"] == [
            {
                "reason": "NamespaceTerminating",
                "field": "metadata.namespace",
                "message": f"namespace {name} is being terminated",
            }
        ]
    assert api.wait_until(lambda: api.get(f"/api/v1/namespaces/{name}")[0] == 404, timeout=60)


def _owned(api, namespace, owner):
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    status, body = api.post(
        CM.format(ns=namespace), {"metadata": {"generateName": "child-", "ownerReferences": [ref]}}
    )
    assert status == 201
    return body["metadata"]["name"]


def test_background_deletion_collects_dependents(api, namespace):
    _, owner = api.post(CM.format(ns=namespace), {"metadata": {"name": "owner-bg"}})
    child = _owned(api, namespace, owner)
    api.delete(CM.format(ns=namespace) + "/owner-bg", propagationPolicy="Background")
    assert api.wait_until(lambda: api.get(CM.format(ns=namespace) + "/" + child)[0] == 404, timeout=30)


def test_foreground_deletion_waits_for_dependents(api, namespace):
    _, owner = api.post(CM.format(ns=namespace), {"metadata": {"name": "owner-fg"}})
    child = _owned(api, namespace, owner)
    status, body = api.delete(CM.format(ns=namespace) + "/owner-fg", propagationPolicy="Foreground")
    assert status == 200
    assert body["metadata"]["finalizers"] == ["foregroundDeletion"] and body["metadata"]["deletionTimestamp"]
    assert api.wait_until(lambda: api.get(CM.format(ns=namespace) + "/owner-fg")[0] == 404, timeout=30)
    assert api.get(CM.format(ns=namespace) + "/" + child)[0] == 404


def test_orphan_deletion_keeps_dependents(api, namespace):
    _, owner = api.post(CM.format(ns=namespace), {"metadata": {"name": "owner-or"}})
    child = _owned(api, namespace, owner)
    api.delete(CM.format(ns=namespace) + "/owner-or", propagationPolicy="Orphan")
    assert api.wait_until(lambda: api.get(CM.format(ns=namespace) + "/owner-or")[0] == 404, timeout=30)
    status, body = api.get(CM.format(ns=namespace) + "/" + child)
    assert status == 200 and "ownerReferences" not in body["metadata"]
