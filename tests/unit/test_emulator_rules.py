"""Selectors, RBAC rule matching, patches, CRD schema validation and routing: the emulator's
fidelity rules, tested without a socket."""

import pytest

from emulator.kube import exceptions, openapi, patches, urls
from emulator.kube.rbac import Attributes, Authorizer, Identity, rule_allows
from emulator.kube.selectors import FieldSelector, LabelSelector
from emulator.kube.typed import BuiltinNode


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier!=db", {"app": "web", "tier": "db"}, False),
        ("app in (a, b)", {"app": "b"}, True),
        ("app notin (a)", {}, True),
        ("app", {}, False),
        ("!app", {}, True),
    ],
)
def test_label_selectors(selector, labels, expected):
    assert LabelSelector(selector).matches(labels) is expected


def test_field_selectors_support_metadata_name_and_refuse_unknown_fields():
    assert FieldSelector("metadata.name=x", "ConfigMap").matches({"metadata": {"name": "x"}})
    assert not FieldSelector("metadata.name!=x", "ConfigMap").matches({"metadata": {"name": "x"}})
    with pytest.raises(exceptions.ApiError, match="field label not supported: spec.foo"):
        FieldSelector("spec.foo=1", "ConfigMap")


def test_rbac_rules_match_subresources_names_and_urls():
    rule = {
        "apiGroups": [""],
        "resources": ["serviceaccounts/token"],
        "verbs": ["create"],
        "resourceNames": ["a"],
    }
    assert rule_allows(rule, Attributes("create", "ns", "", "serviceaccounts", "token", "a"))
    assert not rule_allows(rule, Attributes("create", "ns", "", "serviceaccounts", "token", "b"))
    assert not rule_allows(rule, Attributes("create", "ns", "", "serviceaccounts", "", "a"))
    assert rule_allows(
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        Attributes("get", "", "apps", "deployments", "scale"),
    )
    assert rule_allows({"nonResourceURLs": ["/apis/*"], "verbs": ["get"]}, Attributes("get", path="/apis/x"))


def test_authorizer_uses_bindings_and_reports_why():
    role = {
        "metadata": {"name": "r", "namespace": "ns"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    binding = {
        "metadata": {"name": "b", "namespace": "ns"},
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}],
    }
    objects = {"roles": [role], "rolebindings": [binding]}
    authorizer = Authorizer(
        lambda plural: objects.get(plural, []),
        lambda plural, ns, name: role if (plural, ns, name) == ("roles", "ns", "r") else None,
    )
    account = Identity.service_account("ns", "sa")
    assert authorizer.authorize(account, Attributes("get", "ns", "", "pods")) == (
        True,
        'RBAC: allowed by RoleBinding "b/ns" of Role "r" to ServiceAccount "sa/ns"',
    )
    assert authorizer.authorize(account, Attributes("get", "other", "", "pods")) == (False, "")
    assert authorizer.covers(
        account, "ns", [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get"]}]
    ) == [{"APIGroups": [""], "Resources": ["secrets"], "Verbs": ["get"]}]


def test_json_patch_operations_and_errors():
    doc = {"a": {"b": [1, 2]}}
    assert patches.json_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "copy", "from": "/a/b", "path": "/c"},
        ],
    ) == {"a": {"b": [2, 3]}, "c": [2, 3]}
    with pytest.raises(exceptions.ApiError) as error:
        patches.json_patch(doc, [{"op": "replace", "path": "/x/y", "value": 1}])
    assert error.value.code == 422
    assert doc == {"a": {"b": [1, 2]}}  # the input is never changed


def test_merge_patch_and_strategic_merge_patch():
    assert patches.merge_patch({"a": 1, "b": {"c": 2}}, {"a": None, "b": {"d": 3}}) == {"b": {"c": 2, "d": 3}}
    live = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}
    patched = patches.strategic_merge_patch(
        live,
        {
            "spec": {
                "containers": [
                    {"name": "b", "image": "2"},
                    {"name": "a", "$patch": "delete"},
                    {"name": "c", "image": "3"},
                ]
            }
        },
        BuiltinNode("Pod"),
    )
    assert patched == {"spec": {"containers": [{"name": "b", "image": "2"}, {"name": "c", "image": "3"}]}}


SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["n"],
            "properties": {
                "n": {"type": "integer", "maximum": 3},
                "s": {"type": "string", "default": "d", "pattern": "^a"},
                "l": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            },
        }
    },
}


def test_schema_validation_messages():
    errors = openapi.validate({"spec": {"n": 5, "s": "b", "l": ["x", "y"]}}, SCHEMA, top=True)
    assert [str(e) for e in errors] == [
        "spec.n: Invalid value: 5: spec.n in body should be less than or equal to 3",
        "spec.s: Invalid value: \"b\": spec.s in body should match '^a'",
        "spec.l: Too many: 2: must have at most 1 items",
    ]
    assert [str(e) for e in openapi.validate({"spec": {}}, SCHEMA, top=True)] == ["spec.n: Required value"]


def test_pruning_defaults_and_typed_patch_errors():
    unknown = []
    pruned = openapi.prune({"metadata": {"x": 1}, "spec": {"n": 1, "zz": 2}}, SCHEMA, "", unknown, top=True)
    assert pruned == {"metadata": {"x": 1}, "spec": {"n": 1}} and unknown == ["spec.zz"]
    assert openapi.apply_defaults({"spec": {"n": 1}}, SCHEMA) == {"spec": {"n": 1, "s": "d"}}
    assert openapi.apply_type_error({"spec": {"n": "x"}}, SCHEMA) == (
        ".spec.n: expected numeric (int or float), got string"  # SMD prints the Go type (%T) here
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/namespaces/ns/configmaps/c", ("resource", "", "configmaps", "ns", "c", "")),
        ("/api/v1/namespaces/ns", ("resource", "", "namespaces", "ns", "ns", "")),
        ("/api/v1/namespaces/ns/status", ("resource", "", "namespaces", "ns", "ns", "status")),
        (
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
            ("resource", "apps", "deployments", "ns", "d", "scale"),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            ("resource", "rbac.authorization.k8s.io", "clusterroles", "", "", ""),
        ),
        ("/version", ("nonresource", "", "", "", "", "")),
    ],
)
def test_routing(path, expected):
    target = urls.resolve(path)
    assert (
        target.kind,
        target.group,
        target.plural,
        target.namespace,
        target.name,
        target.subresource,
    ) == expected
    assert urls.resolve("/api/v1/watch/namespaces/ns/pods").watch_path
