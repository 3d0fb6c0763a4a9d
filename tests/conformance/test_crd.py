"""CustomResourceDefinitions: served resources, schema validation (422 with field paths), pruning."""

from tests.conformance.helpers import strip_volatile


def widget(group, name, spec):
    return {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def test_crd_resources_are_discovered(api, crd):
    plural, group = crd
    status, body = api.get(f"/apis/{group}/v1")
    assert status == 200
    [entry] = [r for r in body["resources"] if r["name"] == plural]
    assert entry["kind"] == "Widget" and entry["namespaced"] is True and entry["singularName"] == "widget"
    assert entry["verbs"] == [
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "create",
        "update",
        "watch",
    ]
    assert any(r["name"] == f"{plural}/status" for r in body["resources"])


def test_custom_resource_lifecycle(api, crd, namespace):
    plural, group = crd
    path = f"/apis/{group}/v1/namespaces/{namespace}/{plural}"
    status, body = api.post(
        path, widget(group, "w1", {"size": 2, "unknown": "dropped", "extra": {"kept": 1}})
    )
    assert status == 201
    assert body["spec"] == {"size": 2, "extra": {"kept": 1}}
    assert body["metadata"]["generation"] == 1
    status, listing = api.get(path)
    assert listing["kind"] == "WidgetList" and listing["apiVersion"] == f"{group}/v1"
    assert listing["items"][0]["kind"] == "Widget"  # custom resource lists keep apiVersion/kind per item
    _, patched = api.merge_patch(path + "/w1", {"spec": {"size": 3}})
    assert patched["metadata"]["generation"] == 2
    _, patched = api.merge_patch(path + "/w1", {"status": {"ready": True}})
    assert "status" not in patched  # status only changes through the status subresource
    status, patched = api.merge_patch(path + "/w1/status", {"status": {"ready": True}})
    assert status == 200 and patched["status"] == {"ready": True} and patched["metadata"]["generation"] == 2


def test_schema_violations_answer_422_with_field_paths(api, crd, namespace):
    plural, group = crd
    path = f"/apis/{group}/v1/namespaces/{namespace}/{plural}"
    status, body = api.post(path, widget(group, "bad", {"size": "big", "mode": "odd"}))
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["name"] == "bad" and body["details"]["group"] == group
    assert body["details"]["kind"] == "Widget"
    causes = {c["field"]: c for c in body["details"]["causes"]}
    assert set(causes) == {"spec.size", "spec.mode"}
    assert causes["spec.mode"] == {
        "reason": "FieldValueNotSupported",
        "field": "spec.mode",
        "message": 'Unsupported value: "odd": supported values: "fast", "slow"',
    }
    assert (
        causes["spec.size"]["message"]
        == 'Invalid value: "string": spec.size in body must be of type integer: "string"'
    )
    assert body["message"].startswith(f'Widget.{group} "bad" is invalid: [')
    status, body = api.post(path, widget(group, "bad2", {"mode": "fast"}))
    assert status == 422
    assert body["message"] == f'Widget.{group} "bad2" is invalid: spec.size: Required value'
    status, body = api.post(path, widget(group, "bad3", {"size": 0}))
    assert status == 422
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.size",
            "message": "Invalid value: 0: spec.size in body should be greater than or equal to 1",
        }
    ]


def test_apply_on_custom_resources(api, crd, namespace):
    plural, group = crd
    path = f"/apis/{group}/v1/namespaces/{namespace}/{plural}/applied"
    status, body = api.apply(
        path, widget(group, "applied", {"size": 1, "tags": ["a"], "extra": {"x": {"y": 1}}})
    )
    assert status == 201
    assert [strip_volatile(e) for e in body["metadata"]["managedFields"]] == [
        {
            "manager": "tekton-cd",
            "operation": "Apply",
            "apiVersion": f"{group}/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:extra": {"f:x": {".": {}, "f:y": {}}}, "f:size": {}, "f:tags": {}}},
        }
    ]
    status, again = api.apply(
        path, widget(group, "applied", {"size": 1, "tags": ["a"], "extra": {"x": {"y": 1}}})
    )
    assert status == 200 and again["metadata"]["resourceVersion"] == body["metadata"]["resourceVersion"]


def test_update_ownership_on_custom_resources(api, crd, namespace):
    plural, group = crd
    path = f"/apis/{group}/v1/namespaces/{namespace}/{plural}"
    _, body = api.post(path, widget(group, "posted", {"size": 1}))
    assert body["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {".": {}, "f:size": {}}}


def test_deleting_the_crd_removes_its_resources(api, namespace):
    import secrets

    group = f"g{secrets.token_hex(3)}.conformance.example.com"
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.{group}"
    api.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        {
            "metadata": {"name": f"things.{group}"},
            "spec": {
                "group": group,
                "scope": "Cluster",
                "names": {"plural": "things", "kind": "Thing"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        },
    )
    assert api.wait_until(lambda: api.get(f"/apis/{group}/v1/things")[0] == 200)
    status, _ = api.post(
        f"/apis/{group}/v1/things",
        {
            "apiVersion": f"{group}/v1",
            "kind": "Thing",
            "metadata": {"name": "t1"},
            "anything": {"goes": True},
        },
    )
    assert status == 201
    api.delete(crd_path)
    assert api.wait_until(lambda: api.get(crd_path)[0] == 404, timeout=30)
    assert api.wait_until(lambda: api.get(f"/apis/{group}/v1/things")[0] == 404, timeout=30)


def test_crd_without_schema_is_invalid(api):
    status, body = api.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        {
            "metadata": {"name": "noschemas.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "noschemas", "kind": "NoSchema"},
                "versions": [{"name": "v1", "served": True, "storage": True}],
            },
        },
    )
    assert status == 422
    assert {
        "reason": "FieldValueRequired",
        "field": "spec.versions[0].schema.openAPIV3Schema",
        "message": "Required value: schemas are required",
    } in body["details"]["causes"]
