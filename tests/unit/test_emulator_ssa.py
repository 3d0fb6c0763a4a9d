import pytest

from emulator.kube import ssa
from emulator.kube.exceptions import ApiError
from emulator.kube.typed import BuiltinNode, node_from_openapi, object_node

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:01:00Z"
CM = BuiltinNode("ConfigMap")


def configmap(data, labels=None):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}
    if labels:
        body["metadata"]["labels"] = labels
    return body


def entries(obj):
    return [(e["manager"], e["operation"], e["fieldsV1"]) for e in obj["metadata"].get("managedFields", [])]


def test_apply_owns_leaves_and_identity_is_stripped():
    created = ssa.apply(None, configmap({"a": "1"}, {"app": "x"}), "tekton-cd", "v1", NOW, CM, force=False)
    assert entries(created) == [
        ("tekton-cd", "Apply", {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
    ]


def test_reapplying_the_same_config_keeps_the_timestamp():
    created = ssa.apply(None, configmap({"a": "1"}), "m", "v1", NOW, CM, force=False)
    again = ssa.apply(created, configmap({"a": "1"}), "m", "v1", LATER, CM, force=False)
    assert again == created


def test_conflicts_only_where_the_value_changes():
    live = ssa.apply(None, configmap({"a": "1", "b": "1"}), "first", "v1", NOW, CM, force=False)
    shared = ssa.apply(live, configmap({"a": "1"}), "second", "v1", NOW, CM, force=False)
    assert {e[0] for e in entries(shared)} == {"first", "second"}
    with pytest.raises(ApiError) as conflict:
        ssa.apply(live, configmap({"b": "2"}), "second", "v1", NOW, CM, force=False)
    assert conflict.value.code == 409
    assert conflict.value.message == 'Apply failed with 1 conflict: conflict with "first": .data.b'
    forced = ssa.apply(live, configmap({"b": "2"}), "second", "v1", NOW, CM, force=True)
    assert forced["data"] == {"a": "1", "b": "2"}
    assert dict((m, f) for m, _, f in entries(forced)) == {
        "first": {"f:data": {"f:a": {}}},
        "second": {"f:data": {"f:b": {}}},
    }


def test_dropped_fields_are_removed_unless_someone_else_owns_them():
    live = ssa.apply(None, configmap({"a": "1", "b": "2"}), "m", "v1", NOW, CM, force=False)
    live = ssa.apply(live, configmap({"b": "2"}), "other", "v1", NOW, CM, force=False)
    shrunk = ssa.apply(live, configmap({}), "m", "v1", LATER, CM, force=False)
    assert shrunk["data"] == {"b": "2"}


def test_update_takes_changed_fields_from_appliers():
    live = ssa.apply(None, configmap({"a": "1"}), "applier", "v1", NOW, CM, force=False)
    new = configmap({"a": "2", "n": "1"})
    new["metadata"]["managedFields"] = live["metadata"]["managedFields"]
    ssa.record_update(live, new, "editor", "v1", LATER, CM, is_custom=False)
    assert entries(new) == [("editor", "Update", {"f:data": {"f:a": {}, "f:n": {}}})]


def test_update_of_a_custom_resource_owns_new_maps_as_members():
    node = object_node(
        "Widget",
        {
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
        },
        is_custom=True,
    )
    new = {"apiVersion": "x/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    ssa.record_update(None, new, "creator", "x/v1", NOW, node, is_custom=True)
    assert entries(new) == [("creator", "Update", {"f:spec": {".": {}, "f:size": {}}})]


def test_untyped_maps_are_members_in_applied_sets():
    node = node_from_openapi({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    created = ssa.apply(
        None, {"metadata": {"name": "x"}, "spec": {"a": {"b": 1}}}, "m", "v", NOW, node, False
    )
    assert entries(created)[0][2] == {"f:spec": {".": {}, "f:a": {".": {}, "f:b": {}}}}


def test_containers_merge_by_name_and_ports_by_port_and_protocol():
    node = BuiltinNode("Deployment")
    config = {
        "spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}}}
    }
    created = ssa.apply(None, {"metadata": {"name": "d"}, **config}, "m", "apps/v1", NOW, node, False)
    containers = entries(created)[0][2]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {
        'k:{"name":"c"}': {
            ".": {},
            "f:name": {},
            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
        }
    }
