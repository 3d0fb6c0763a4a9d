import pytest

from tests.conformance.helpers import RawApi, token_of


@pytest.fixture(scope="session")
def api(cluster):
    """Raw HTTP access with the admin credentials of the cluster under test."""
    token = token_of(cluster.kubeconfig_dict)
    if not token:
        pytest.skip("the conformance suite needs a bearer-token kubeconfig")
    return RawApi(cluster.server, cluster.ca_pem, token)


@pytest.fixture
def as_token(cluster):
    """as_token(token) -> RawApi authenticating with `token`."""
    return lambda token: RawApi(cluster.server, cluster.ca_pem, token)


WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "mode": {"type": "string", "enum": ["fast", "slow"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


@pytest.fixture(scope="session")
def crd(api):
    """A namespaced Widget CRD with a structural schema and a status subresource: (plural, group)."""
    import secrets

    group = f"w{secrets.token_hex(3)}.conformance.example.com"
    body = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": WIDGET_SCHEMA},
                }
            ],
        },
    }
    status, answer = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
    assert status == 201, answer
    established = api.wait_until(
        lambda: any(
            c["type"] == "Established" and c["status"] == "True"
            for c in (
                api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}")[1].get(
                    "status"
                )
                or {}
            ).get("conditions")
            or []
        )
    )
    assert established
    # Established is set before the new endpoints serve on a real server: wait for discovery too.
    assert api.wait_until(lambda: api.get(f"/apis/{group}/v1")[0] == 200)
    yield "widgets", group
    api.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}")
