"""Server-side apply (managedFields, conflicts, no-ops) and the other PATCH formats."""

from tests.conformance.helpers import strip_volatile

CM = "/api/v1/namespaces/{ns}/configmaps"


def configmap(name, data=None, labels=None):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if labels:
        body["metadata"]["labels"] = labels
    if data is not None:
        body["data"] = data
    return body


def test_apply_creates_then_is_a_no_op(api, namespace):
    path = CM.format(ns=namespace) + "/ssa"
    status, created = api.apply(path, configmap("ssa", {"a": "1"}, {"app": "x"}))
    assert status == 201
    assert [strip_volatile(e) for e in created["metadata"]["managedFields"]] == [
        {
            "manager": "tekton-cd",
            "operation": "Apply",
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}},
        }
    ]
    status, again = api.apply(path, configmap("ssa", {"a": "1"}, {"app": "x"}))
    assert status == 200
    assert again == created  # same resourceVersion, same managedFields time: nothing was written


def test_apply_of_identity_only_records_no_manager(api, namespace):
    status, body = api.apply(CM.format(ns=namespace) + "/bare", configmap("bare"))
    assert status == 201
    assert "managedFields" not in body["metadata"]


def test_apply_conflicts_and_force(api, namespace):
    path = CM.format(ns=namespace) + "/conf"
    api.apply(path, configmap("conf", {"a": "1"}))
    status, body = api.apply(path, configmap("conf", {"a": "2", "b": "3"}), manager="other")
    assert status == 409
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "tekton-cd": .data.a',
        "reason": "Conflict",
        "details": {
            "causes": [
                {"reason": "FieldManagerConflict", "message": 'conflict with "tekton-cd"', "field": ".data.a"}
            ]
        },
        "code": 409,
    }
    # the same value is shared ownership, not a conflict
    status, shared = api.apply(path, configmap("conf", {"a": "1"}), manager="other")
    assert status == 200
    owners = {e["manager"]: e["fieldsV1"] for e in shared["metadata"]["managedFields"]}
    assert owners == {"tekton-cd": {"f:data": {"f:a": {}}}, "other": {"f:data": {"f:a": {}}}}
    status, forced = api.apply(path, configmap("conf", {"a": "2"}), manager="other", force="true")
    assert status == 200 and forced["data"] == {"a": "2"}
    assert [e["manager"] for e in forced["metadata"]["managedFields"]] == ["other"]


def test_update_manager_conflicts_name_the_api_version(api, namespace):
    path = CM.format(ns=namespace) + "/upd"
    api.apply(path, configmap("upd", {"a": "1"}))
    status, patched = api.merge_patch(path, {"data": {"b": "4", "c": "5"}})
    assert status == 200
    assert [(e["manager"], e["operation"]) for e in patched["metadata"]["managedFields"]] == [
        ("tekton-cd", "Apply"),
        ("conformance", "Update"),
    ]
    assert patched["metadata"]["managedFields"][1]["fieldsV1"] == {"f:data": {"f:b": {}, "f:c": {}}}
    status, body = api.apply(path, configmap("upd", {"a": "2", "b": "3", "c": "6"}), manager="other")
    assert status == 409
    assert body["message"] == (
        'Apply failed with 3 conflicts: conflicts with "conformance" using v1:\n- .data.b\n'
        '- .data.c\nconflicts with "tekton-cd":\n- .data.a'
    )
    # The real server lists causes in Go map order (it varies between runs): compare as a set.
    assert sorted(c["field"] for c in body["details"]["causes"]) == [".data.a", ".data.b", ".data.c"]


def test_apply_removes_fields_the_manager_no_longer_sends(api, namespace):
    path = CM.format(ns=namespace) + "/shrink"
    api.apply(path, configmap("shrink", {"a": "1", "b": "2"}, {"keep": "1", "drop": "1"}))
    status, body = api.apply(path, configmap("shrink", {"a": "1"}, {"keep": "1"}))
    assert status == 200
    assert body["data"] == {"a": "1"} and body["metadata"]["labels"] == {"keep": "1"}


def test_apply_requires_a_field_manager(api, namespace):
    status, body = api.call("PATCH", CM.format(ns=namespace) + "/nomgr", "{}", "application/apply-patch+yaml")
    assert status == 422
    assert body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )


def test_apply_associative_lists_by_key(api, namespace):
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "api",
                            "image": "api:1",
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}],
                        }
                    ]
                },
            },
        },
    }
    status, body = api.apply(path, deployment)
    assert status == 201
    [entry] = body["metadata"]["managedFields"]
    assert entry["fieldsV1"] == {
        "f:spec": {
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"api"}': {
                            ".": {},
                            "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":8080,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                    "f:protocol": {},
                                }
                            },
                        }
                    }
                },
            },
        }
    }


def test_merge_json_and_strategic_patches(api, namespace):
    base = CM.format(ns=namespace)
    api.post(base, {"metadata": {"name": "pt"}, "data": {"a": "1", "b": "2"}})
    status, body = api.merge_patch(base + "/pt", {"data": {"a": None, "c": "3"}})
    assert status == 200 and body["data"] == {"b": "2", "c": "3"}
    status, body = api.json_patch(
        base + "/pt",
        [
            {"op": "replace", "path": "/data/b", "value": "20"},
            {"op": "add", "path": "/metadata/labels", "value": {"j": "p"}},
        ],
    )
    assert (
        status == 200 and body["data"] == {"b": "20", "c": "3"} and body["metadata"]["labels"] == {"j": "p"}
    )
    status, body = api.json_patch(base + "/pt", [{"op": "test", "path": "/data/b", "value": "nope"}])
    assert status == 422 and body["reason"] == "Invalid"
    status, body = api.strategic_patch(base + "/pt", {"data": {"d": "4"}})
    assert status == 200 and body["data"] == {"b": "20", "c": "3", "d": "4"}
    assert api.merge_patch(base + "/absent", {"data": {}})[0] == 404


def test_strategic_merge_patch_merges_containers_by_name(api, namespace):
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    api.post(
        path,
        {
            "metadata": {"name": "smp"},
            "spec": {
                "selector": {"matchLabels": {"app": "smp"}},
                "template": {
                    "metadata": {"labels": {"app": "smp"}},
                    "spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]},
                },
            },
        },
    )
    status, body = api.strategic_patch(
        path + "/smp", {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}}
    )
    assert status == 200
    images = {c["name"]: c["image"] for c in body["spec"]["template"]["spec"]["containers"]}
    assert images == {"a": "a:1", "b": "b:2"}


def test_strategic_merge_patch_is_refused_for_custom_resources(api, namespace, crd):
    plural, group = crd
    path = f"/apis/{group}/v1/namespaces/{namespace}/{plural}"
    api.post(
        path, {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    )
    status, body = api.strategic_patch(path + "/w", {"spec": {"size": 2}})
    assert status == 415
    assert body["reason"] == "UnsupportedMediaType"
    assert body["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


# Apply bodies that are not a YAML object, and the real server's answers (v1.28.7). The real text
# comes from go-yaml v2 through sigs.k8s.io/yaml; the emulator parses with PyYAML and rewrites its
# problems into go-yaml's wording and line numbering. Byte-identical for every case below; not
# emulated: go-yaml's "found unknown directive name" (PyYAML ignores unknown %-directives) and
# problems this table lacks, which keep PyYAML's words after the same prefix.
CONVERT = "error decoding YAML: error converting YAML to JSON: yaml: "
NOT_A_MAP = (
    "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go "
    "value of type map[string]interface {{}}"
)
NOT_YAML = (
    ("{not: [yaml", CONVERT + "line 1: did not find expected ',' or ']'"),
    ("a: [1, 2", CONVERT + "line 1: did not find expected ',' or ']'"),
    ("{a: 1", CONVERT + "line 1: did not find expected ',' or '}'"),
    ('{"a": ', CONVERT + "line 1: did not find expected node content"),
    ("kind: [\n\n", CONVERT + "line 2: did not find expected node content"),
    ("a: b: c", CONVERT + "mapping values are not allowed in this context"),
    ("\t bad", CONVERT + "found character that cannot start any token"),
    ("a:\n\tb: c", CONVERT + "line 2: found character that cannot start any token"),
    ("a:\n  - b\n c: d", CONVERT + "line 2: did not find expected key"),
    ("a: 1\n- b", CONVERT + "line 1: did not find expected key"),
    ("- a\nb: 1", CONVERT + "line 1: did not find expected '-' indicator"),
    ("key: 'unterminated", CONVERT + "found unexpected end of stream"),
    ('a: "\\q"', CONVERT + "found unknown escape character"),
    ("&: x", CONVERT + "did not find expected alphabetic or numeric character"),
    ("a: !<tag x", CONVERT + "did not find the expected '>'"),
    ("foo: *bar", CONVERT + "unknown anchor 'bar' referenced"),
    (b"a: \xff\xfe", CONVERT + "invalid leading UTF-8 octet"),
    ("[]", NOT_A_MAP.format("array")),
    ("42", NOT_A_MAP.format("number")),
    ('"str"', NOT_A_MAP.format("string")),
    ("true", NOT_A_MAP.format("bool")),
    ("--- a\n...\n--- b", NOT_A_MAP.format("string")),  # only the first document is read
    ("", "invalid object type: /, Kind="),
    ("null", "invalid object type: /, Kind="),
    ("kind: ConfigMap", "invalid object type: /, Kind=ConfigMap"),
    ("apiVersion: v1\nkind: Secret", "invalid object type: /v1, Kind=Secret"),
    ("apiVersion: v2\nkind: ConfigMap", "invalid object type: /v2, Kind=ConfigMap"),
)


def test_apply_of_a_body_that_is_not_a_yaml_object_is_a_bad_request(api, namespace):
    path = CM.format(ns=namespace) + "/notyaml"
    for body, message in NOT_YAML:
        status, answer = api.call("PATCH", path, body, "application/apply-patch+yaml", fieldManager="t")
        assert (status, answer.get("reason"), answer.get("message")) == (400, "BadRequest", message), body
    assert api.get(path)[0] == 404
