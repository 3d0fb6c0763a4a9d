"""Create, read, list, update: status codes, Status bodies and object metadata."""

import re

from tests.conformance.helpers import wait_for_root_ca

CM = "/api/v1/namespaces/{ns}/configmaps"


def status_body(code, reason, message, details=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def test_create_answers_201_with_server_fields(api, namespace):
    status, body = api.post(
        CM.format(ns=namespace), {"metadata": {"name": "c1", "labels": {"a": "b"}}, "data": {"k": "v"}}
    )
    assert status == 201
    metadata = body["metadata"]
    assert body["kind"] == "ConfigMap" and body["apiVersion"] == "v1"
    assert metadata["namespace"] == namespace
    assert re.fullmatch(r"[0-9a-f-]{36}", metadata["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metadata["creationTimestamp"])
    assert int(metadata["resourceVersion"]) > 0
    assert "generation" not in metadata  # configmaps do not track generation
    assert [e["manager"] for e in metadata["managedFields"]] == ["conformance"]
    entry = metadata["managedFields"][0]
    assert entry["operation"] == "Update" and entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {
        "f:data": {".": {}, "f:k": {}},
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
    }


def test_already_exists_and_not_found(api, namespace):
    api.post(CM.format(ns=namespace), {"metadata": {"name": "dup"}})
    assert api.post(CM.format(ns=namespace), {"metadata": {"name": "dup"}}) == (
        409,
        status_body(
            409, "AlreadyExists", 'configmaps "dup" already exists', {"name": "dup", "kind": "configmaps"}
        ),
    )
    assert api.get(CM.format(ns=namespace) + "/nope") == (
        404,
        status_body(404, "NotFound", 'configmaps "nope" not found', {"name": "nope", "kind": "configmaps"}),
    )
    assert api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/nope") == (
        404,
        status_body(
            404,
            "NotFound",
            'deployments.apps "nope" not found',
            {"name": "nope", "group": "apps", "kind": "deployments"},
        ),
    )


def test_create_in_missing_namespace(api):
    assert api.post(CM.format(ns="no-such-namespace-x9"), {"metadata": {"name": "x"}}) == (
        404,
        status_body(
            404,
            "NotFound",
            'namespaces "no-such-namespace-x9" not found',
            {"name": "no-such-namespace-x9", "kind": "namespaces"},
        ),
    )


def test_invalid_names_answer_422_with_field_causes(api, namespace):
    status, body = api.post(CM.format(ns=namespace), {"metadata": {"name": "Bad_Name"}})
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain must consist of"
    )
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"
    assert api.post(CM.format(ns=namespace), {"metadata": {}}) == (
        422,
        status_body(
            422,
            "Invalid",
            'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required',
            {
                "kind": "ConfigMap",
                "causes": [
                    {
                        "reason": "FieldValueRequired",
                        "field": "metadata.name",
                        "message": "Required value: name or generateName is required",
                    }
                ],
            },
        ),
    )


def test_generate_name(api, namespace):
    status, body = api.post(CM.format(ns=namespace), {"metadata": {"generateName": "run-"}})
    assert status == 201
    assert re.fullmatch(r"run-[a-z0-9]{5}", body["metadata"]["name"])
    assert body["metadata"]["generateName"] == "run-"


def test_list_shape_and_label_and_field_selectors(api, namespace):
    wait_for_root_ca(api, namespace)  # the namespace's one unlabelled ConfigMap, published asynchronously
    for name, tier in (("l1", "web"), ("l2", "db"), ("l3", "web")):
        api.post(CM.format(ns=namespace), {"metadata": {"name": name, "labels": {"tier": tier}}})
    status, body = api.get(CM.format(ns=namespace), labelSelector="tier=web")
    assert status == 200
    assert body["kind"] == "ConfigMapList" and body["apiVersion"] == "v1"
    assert int(body["metadata"]["resourceVersion"]) > 0
    assert [i["metadata"]["name"] for i in body["items"]] == ["l1", "l3"]
    assert "kind" not in body["items"][0] and "apiVersion" not in body["items"][0]
    _, body = api.get(CM.format(ns=namespace), labelSelector="tier in (db),tier!=web")
    assert [i["metadata"]["name"] for i in body["items"]] == ["l2"]
    _, body = api.get(CM.format(ns=namespace), fieldSelector="metadata.name=l3")
    assert [i["metadata"]["name"] for i in body["items"]] == ["l3"]
    _, body = api.get(CM.format(ns=namespace), labelSelector="!tier")
    assert [i["metadata"]["name"] for i in body["items"]] == ["kube-root-ca.crt"]


def test_list_pagination(api, namespace):
    wait_for_root_ca(api, namespace)  # counted below, and published asynchronously
    for n in range(3):
        api.post(CM.format(ns=namespace), {"metadata": {"name": f"p{n}", "labels": {"page": "yes"}}})
    _, first = api.get(CM.format(ns=namespace), labelSelector="page=yes", limit="2")
    assert [i["metadata"]["name"] for i in first["items"]] == ["p0", "p1"]
    assert "remainingItemCount" not in first["metadata"]  # not counted through a selector
    _, unselected = api.get(CM.format(ns=namespace), limit="1")
    assert unselected["metadata"]["remainingItemCount"] == 3  # p0..p2 and kube-root-ca.crt
    _, rest = api.get(
        CM.format(ns=namespace),
        labelSelector="page=yes",
        limit="2",
        **{"continue": first["metadata"]["continue"]},
    )
    assert [i["metadata"]["name"] for i in rest["items"]] == ["p2"]
    assert "continue" not in rest["metadata"]


def test_put_optimistic_concurrency(api, namespace):
    _, created = api.post(CM.format(ns=namespace), {"metadata": {"name": "occ"}, "data": {"a": "1"}})
    stale = dict(created, data={"a": "2"})
    status, updated = api.put(CM.format(ns=namespace) + "/occ", stale)
    assert status == 200
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert api.put(CM.format(ns=namespace) + "/occ", dict(created, data={"a": "3"})) == (
        409,
        status_body(
            409,
            "Conflict",
            'Operation cannot be fulfilled on configmaps "occ": the object has been modified; please '
            "apply your changes to the latest version and try again",
            {"name": "occ", "kind": "configmaps"},
        ),
    )
    assert api.put(CM.format(ns=namespace) + "/missing", {"metadata": {"name": "missing"}}) == (
        404,
        status_body(
            404, "NotFound", 'configmaps "missing" not found', {"name": "missing", "kind": "configmaps"}
        ),
    )
    status, body = api.put(CM.format(ns=namespace) + "/occ", {"metadata": {"name": "other"}})
    assert status == 400 and body["reason"] == "BadRequest"
    assert body["message"] == "the name of the object (other) does not match the name on the URL (occ)"


def test_update_without_change_keeps_resource_version(api, namespace):
    _, created = api.post(CM.format(ns=namespace), {"metadata": {"name": "same"}, "data": {"a": "1"}})
    status, again = api.put(CM.format(ns=namespace) + "/same", created)
    assert status == 200
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_resource_versions_increase(api, namespace):
    versions = []
    for n in range(3):
        _, body = api.post(CM.format(ns=namespace), {"metadata": {"name": f"rv{n}"}})
        versions.append(int(body["metadata"]["resourceVersion"]))
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_generation_follows_spec_changes(api, namespace):
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    deployment = {
        "metadata": {"name": "gen"},
        "spec": {
            "selector": {"matchLabels": {"app": "gen"}},
            "template": {
                "metadata": {"labels": {"app": "gen"}},
                "spec": {"containers": [{"name": "c", "image": "a"}]},
            },
        },
    }
    status, created = api.post(path, deployment)
    assert status == 201 and created["metadata"]["generation"] == 1
    _, labelled = api.merge_patch(path + "/gen", {"metadata": {"labels": {"x": "y"}}})
    assert labelled["metadata"]["generation"] == 1
    _, changed = api.merge_patch(path + "/gen", {"spec": {"replicas": 3}})
    assert changed["metadata"]["generation"] == 2


def test_dry_run_writes_nothing(api, namespace):
    status, body = api.post(CM.format(ns=namespace), {"metadata": {"name": "dry"}}, dryRun="All")
    assert status == 201
    assert body["metadata"]["uid"] and "resourceVersion" not in body["metadata"]
    assert api.get(CM.format(ns=namespace) + "/dry")[0] == 404
    _, real = api.post(CM.format(ns=namespace), {"metadata": {"name": "wet"}, "data": {"a": "1"}})
    status, patched = api.merge_patch(CM.format(ns=namespace) + "/wet", {"data": {"a": "2"}}, dryRun="All")
    assert status == 200 and patched["data"] == {"a": "2"}
    status, applied = api.apply(
        CM.format(ns=namespace) + "/wet",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "wet"}, "data": {"a": "3"}},
        force="true",
        dryRun="All",
    )
    assert status == 200 and applied["data"] == {"a": "3"}
    status, _ = api.delete(CM.format(ns=namespace) + "/wet", dryRun="All")
    assert status == 200
    _, after = api.get(CM.format(ns=namespace) + "/wet")
    assert after["data"] == {"a": "1"}
    assert after["metadata"]["resourceVersion"] == real["metadata"]["resourceVersion"]


def test_an_unsupported_dry_run_value_names_the_options_and_every_value(api, namespace):
    """dryRun accepts only "All"; the 422 names the verb's options kind and prints the whole list of
    values as Go does (compared with v1.28.7)."""
    path = CM.format(ns=namespace)
    api.post(path, {"metadata": {"name": "dry"}})
    calls = (
        ("CreateOptions", lambda **q: api.post(path, {"metadata": {"name": "other"}}, **q)),
        ("UpdateOptions", lambda **q: api.put(path + "/dry", {"metadata": {"name": "dry"}}, **q)),
        ("PatchOptions", lambda **q: api.merge_patch(path + "/dry", {"data": {"a": "1"}}, **q)),
        ("DeleteOptions", lambda **q: api.delete(path + "/dry", **q)),
    )
    for options, call in calls:
        assert call(dryRun="Bogus") == (
            422,
            status_body(
                422,
                "Invalid",
                f'{options}.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{{"Bogus"}}: '
                'supported values: "All"',
                {
                    "group": "meta.k8s.io",
                    "kind": options,
                    "causes": [
                        {
                            "reason": "FieldValueNotSupported",
                            "message": 'Unsupported value: []string{"Bogus"}: supported values: "All"',
                            "field": "dryRun",
                        }
                    ],
                },
            ),
        )
    status, body = api.post(path, {"metadata": {"name": "other"}}, dryRun=["All", "Bogus"])
    assert status == 422
    assert body["details"]["causes"][0]["message"] == (
        'Unsupported value: []string{"All", "Bogus"}: supported values: "All"'
    )
    assert api.get(path + "/other")[0] == 404 and api.get(path + "/dry")[1]["metadata"].get("resourceVersion")
