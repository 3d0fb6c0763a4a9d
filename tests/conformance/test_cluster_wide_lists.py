"""Cluster-wide, label-selected LISTs of namespaced kinds, as KubeService.read_all sends them (one
LIST per kind for objects in many namespaces): the list's shape, its items (without apiVersion and
kind, each with its namespace and its own resourceVersion), the empty answer, the order, and the 403
a namespace-scoped identity gets, on which read_all falls back to one LIST per namespace."""

import pytest

from tests.conformance.test_auth import forbidden

RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture
def namespaces(api, cluster):
    """Two fresh namespaces, deleted after the test."""
    names = sorted(cluster.unique_name("cw") for _ in range(2))
    for name in names:
        assert api.post("/api/v1/namespaces", {"metadata": {"name": name}})[0] == 201
    yield names
    for name in names:
        api.delete(f"/api/v1/namespaces/{name}")


def test_a_cluster_wide_label_selected_list_of_service_accounts(api, cluster, namespaces):
    label = cluster.unique_name("set")
    selector = f"app.kubernetes.io/part-of={label}"
    made = {}
    for namespace in reversed(namespaces):  # created out of order: the answer is in key order anyway
        for name in ("deployer", "builder"):
            metadata = {"name": name, "labels": {"app.kubernetes.io/part-of": label}}
            status, body = api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": metadata})
            assert status == 201, body
            made[(namespace, name)] = body["metadata"]["resourceVersion"]
        api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "unlabelled"}})

    status, body = api.get("/api/v1/serviceaccounts", labelSelector=selector)
    assert status == 200
    assert set(body) == {"kind", "apiVersion", "metadata", "items"}
    assert body["kind"] == "ServiceAccountList" and body["apiVersion"] == "v1"
    assert set(body["metadata"]) == {"resourceVersion"} and int(body["metadata"]["resourceVersion"]) > 0
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]] == [
        (namespace, name) for namespace in namespaces for name in ("builder", "deployer")]
    for item in body["items"]:
        assert "kind" not in item and "apiVersion" not in item
        metadata = item["metadata"]
        assert metadata["resourceVersion"] == made[(metadata["namespace"], metadata["name"])]
        assert metadata["labels"] == {"app.kubernetes.io/part-of": label}
        assert metadata["managedFields"][0]["operation"] == "Update"  # what is_noop reads, as a GET has it
        path = f"/api/v1/namespaces/{metadata['namespace']}/serviceaccounts/{metadata['name']}"
        _status, single = api.get(path)
        assert {k: v for k, v in single.items() if k not in ("kind", "apiVersion")} == item


def test_an_empty_cluster_wide_list_has_the_same_shape(api, cluster):
    status, body = api.get("/api/v1/secrets", labelSelector=f"nothing-carries={cluster.unique_name('x')}")
    assert status == 200
    assert set(body) == {"kind", "apiVersion", "metadata", "items"}
    assert body["kind"] == "SecretList" and body["apiVersion"] == "v1" and body["items"] == []
    assert set(body["metadata"]) == {"resourceVersion"} and int(body["metadata"]["resourceVersion"]) > 0


def test_cluster_wide_lists_of_secrets_and_rbac_kinds(api, cluster, namespaces):
    label = cluster.unique_name("set")
    for namespace in namespaces:
        metadata = {"name": "kubeconfig", "labels": {"tenant-set": label}}
        assert api.post(f"/api/v1/namespaces/{namespace}/secrets",
                        {"metadata": metadata, "data": {"token": "dG9rZW4="}})[0] == 201
        role = {"metadata": {"name": "deployer", "labels": {"tenant-set": label}},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
        assert api.post(f"{RBAC}/namespaces/{namespace}/roles", role)[0] == 201
    _status, secrets = api.get("/api/v1/secrets", labelSelector=f"tenant-set={label}")
    assert secrets["kind"] == "SecretList"
    assert [(i["metadata"]["namespace"], i["type"], i["data"]) for i in secrets["items"]] == [
        (namespace, "Opaque", {"token": "dG9rZW4="}) for namespace in namespaces]
    _status, roles = api.get(f"{RBAC}/roles", labelSelector=f"tenant-set={label}")
    assert roles["kind"] == "RoleList" and roles["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in roles["items"]] == [
        (namespace, "deployer") for namespace in namespaces]
    assert all("kind" not in i and "apiVersion" not in i for i in roles["items"])


def test_a_namespace_scoped_identity_may_list_its_namespaces_but_not_across_them(api, as_token, namespaces):
    home, other = namespaces
    api.post(f"/api/v1/namespaces/{home}/serviceaccounts", {"metadata": {"name": "operator"}})
    for namespace in namespaces:
        binding = {"metadata": {"name": "operator-admin"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                               "name": "admin"},
                   "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": home}]}
        assert api.post(f"{RBAC}/namespaces/{namespace}/rolebindings", binding)[0] == 201
    status, body = api.post(f"/api/v1/namespaces/{home}/serviceaccounts/operator/token",
                            {"spec": {"expirationSeconds": 600}})
    assert status == 201, body
    operator = as_token(body["status"]["token"])
    user = f"system:serviceaccount:{home}:operator"
    assert operator.get("/api/v1/serviceaccounts", labelSelector="a=b") == (403, forbidden(
        f'serviceaccounts is forbidden: User "{user}" cannot list resource "serviceaccounts" in API group '
        '"" at the cluster scope', {"kind": "serviceaccounts"}))
    for namespace in namespaces:
        assert operator.wait_until(lambda ns=namespace: operator.get(
            f"/api/v1/namespaces/{ns}/serviceaccounts", labelSelector="a=b")[0] == 200)
