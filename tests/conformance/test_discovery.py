"""Discovery and the non-resource endpoints, as `kubernetes.dynamic` and `kubectl` read them."""

import pytest

BUILT_IN = {
    "/api/v1": {
        "namespaces",
        "serviceaccounts",
        "serviceaccounts/token",
        "secrets",
        "configmaps",
        "services",
        "pods",
        "pods/log",
        "persistentvolumeclaims",
        "persistentvolumes",
        "persistentvolumes/status",
        "events",
    },
    "/apis/rbac.authorization.k8s.io/v1": {"roles", "rolebindings", "clusterroles", "clusterrolebindings"},
    "/apis/authorization.k8s.io/v1": {
        "subjectaccessreviews",
        "selfsubjectaccessreviews",
        "localsubjectaccessreviews",
        "selfsubjectrulesreviews",
    },
    "/apis/apiextensions.k8s.io/v1": {"customresourcedefinitions", "customresourcedefinitions/status"},
    "/apis/apps/v1": {"deployments", "statefulsets", "replicasets", "deployments/status"},
    "/apis/batch/v1": {"jobs", "jobs/status"},
    "/apis/networking.k8s.io/v1": {"ingresses"},
    "/apis/policy/v1": {"poddisruptionbudgets"},
}


def test_version_is_1_28(api):
    status, body = api.get("/version")
    assert status == 200
    assert body["major"] == "1" and body["minor"] == "28"
    assert body["gitVersion"].startswith("v1.28.")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/livez"])
def test_health_endpoints_answer_ok(api, path):
    assert api.get(path) == (200, "ok")


def test_core_and_group_lists(api):
    status, body = api.get("/api")
    assert status == 200 and body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    status, body = api.get("/apis")
    assert status == 200 and body["kind"] == "APIGroupList" and body["apiVersion"] == "v1"
    groups = {g["name"]: g for g in body["groups"]}
    for name in (
        "rbac.authorization.k8s.io",
        "authorization.k8s.io",
        "apiextensions.k8s.io",
        "apps",
        "batch",
        "networking.k8s.io",
        "policy",
        "authentication.k8s.io",
    ):
        assert groups[name]["preferredVersion"] == {"groupVersion": f"{name}/v1", "version": "v1"}


@pytest.mark.parametrize("path", sorted(BUILT_IN))
def test_resource_lists(api, path):
    status, body = api.get(path)
    assert status == 200
    assert body["kind"] == "APIResourceList"
    assert body["groupVersion"] == path.removeprefix("/api/").removeprefix("/apis/")
    names = {r["name"] for r in body["resources"]}
    assert BUILT_IN[path] <= names


def test_resource_entries_match_the_real_shape(api):
    _, body = api.get("/api/v1")
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["configmaps"] == {
        "name": "configmaps",
        "singularName": "configmap",
        "namespaced": True,
        "kind": "ConfigMap",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["cm"],
        "storageVersionHash": "qFsyl6wFWjQ=",
    }
    assert by_name["namespaces"]["verbs"] == ["create", "delete", "get", "list", "patch", "update", "watch"]
    assert by_name["serviceaccounts/token"] == {
        "name": "serviceaccounts/token",
        "singularName": "",
        "namespaced": True,
        "group": "authentication.k8s.io",
        "version": "v1",
        "kind": "TokenRequest",
        "verbs": ["create"],
    }
    assert by_name["persistentvolumes"] == {
        "name": "persistentvolumes",
        "singularName": "persistentvolume",
        "namespaced": False,
        "kind": "PersistentVolume",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["pv"],
        "storageVersionHash": "HN/zwEC+JgM=",
    }
    assert by_name["pods/log"] == {
        "name": "pods/log",
        "singularName": "",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get"],
    }


def test_unknown_paths(api):
    assert api.get("/apis/nothing.example.com/v1") == (
        404,
        "404 page not found\n",
    )  # no such group: not routed
    status, body = api.get("/apis/apps/v9")
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }
    assert api.get("/api/v1/foos") == (404, body)
    status, body = api.post("/api/v1/namespaces/default/configmaps/named", {})
    assert (
        status == 405 and body["message"] == "the server does not allow this method on the requested resource"
    )


def test_dynamic_client_discovers_kinds(cluster):
    client = cluster.dynamic_client()
    assert client.resources.get(api_version="v1", kind="ConfigMap").namespaced is True
    assert (
        client.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRole").namespaced
        is False
    )
    assert client.resources.get(api_version="apps/v1", kind="Deployment").name == "deployments"
    assert client.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
