"""No-op detection, diff cleaning and secret hiding of kube_service, offline.

The managedFields samples are what a real kube-apiserver 1.28 recorded for the same applies.
"""

from __future__ import annotations

import copy

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import (  # noqa: E402
    HIDDEN,
    HIDDEN_CHANGED,
    Change,
    common_selector,
    contains,
    diff_view,
    fields_match,
    is_noop,
    managed_body,
    named,
    public_view,
    strip_none,
)

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "probe", "labels": {"a": "1"}, "annotations": {}}}
LIVE_NAMESPACE = {
    "apiVersion": "v1", "kind": "Namespace",
    "metadata": {
        "name": "probe", "uid": "95ab1c52", "resourceVersion": "282",
        "creationTimestamp": "2026-11-27T03:56:21Z",
        "labels": {"a": "1", "kubernetes.io/metadata.name": "probe"},
        "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "tekton-cd",
                           "operation": "Apply", "time": "2026-11-27T03:56:21Z",
                           "fieldsV1": {"f:metadata": {"f:annotations": {}, "f:labels": {"f:a": {}}}}}],
    },
    "spec": {"finalizers": ["kubernetes"]},
    "status": {"phase": "Active"},
}
SERVICE_ACCOUNT = {"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": "probe", "namespace": "p"},
                   "imagePullSecrets": [{"name": "a"}, {"name": "b"}], "secrets": [{"name": "s"}]}
SERVICE_ACCOUNT_FIELDS = {"f:imagePullSecrets": {}, "f:secrets": {'k:{"name":"s"}': {}}}


def live_service_account():
    live = copy.deepcopy(SERVICE_ACCOUNT)
    live["metadata"].update(resourceVersion="285", managedFields=[
        {"apiVersion": "v1", "manager": "tekton-cd", "operation": "Apply",
         "fieldsV1": SERVICE_ACCOUNT_FIELDS}])
    return live


def test_managed_body_leaves_out_identity():
    assert managed_body(NAMESPACE) == {"metadata": {"labels": {"a": "1"}, "annotations": {}}}
    assert managed_body({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}) == {}


def test_fields_match_what_the_server_recorded():
    assert fields_match(LIVE_NAMESPACE["metadata"]["managedFields"][0]["fieldsV1"], managed_body(NAMESPACE))
    assert fields_match(SERVICE_ACCOUNT_FIELDS, managed_body(SERVICE_ACCOUNT))


def test_fields_match_rejects_more_or_fewer_fields():
    fields = {"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}}
    assert not fields_match(fields, {"metadata": {"labels": {"a": "1"}}})
    assert not fields_match({"f:metadata": {"f:labels": {"f:a": {}}}},
                            {"metadata": {"labels": {"a": "1", "b": "2"}}})
    assert not fields_match(SERVICE_ACCOUNT_FIELDS, {"imagePullSecrets": [], "secrets": [{"name": "t"}]})


def test_fields_match_associative_list_items_with_more_fields():
    fields = {"f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}, "f:name": {}}}}}
    assert fields_match(fields, {"spec": {"containers": [{"name": "app", "image": "x"}]}})
    assert not fields_match(fields, {"spec": {"containers": [{"name": "app", "image": "x", "args": ["a"]}]}})
    assert fields_match({"f:finalizers": {'v:"a"': {}}}, {"finalizers": ["a"]})


def test_contains_tolerates_server_additions_but_not_differences():
    assert contains(LIVE_NAMESPACE, managed_body(NAMESPACE))
    assert not contains(LIVE_NAMESPACE, {"metadata": {"labels": {"a": "2"}}})
    assert contains({"items": [{"name": "a", "default": 1}]}, {"items": [{"name": "a"}]})
    assert not contains({"items": [{"name": "a"}, {"name": "b"}]}, {"items": [{"name": "a"}]})


def test_is_noop_only_when_values_and_ownership_both_match():
    assert is_noop(NAMESPACE, LIVE_NAMESPACE)
    assert is_noop(SERVICE_ACCOUNT, live_service_account())
    assert not is_noop(NAMESPACE, None)
    changed = copy.deepcopy(NAMESPACE)
    changed["metadata"]["labels"]["a"] = "2"
    assert not is_noop(changed, LIVE_NAMESPACE)
    # dropping a label we own must be applied (server-side apply removes it)
    fewer = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "probe", "annotations": {}}}
    assert not is_noop(fewer, LIVE_NAMESPACE)
    # same values set by someone else: applying takes ownership, so it is not a no-op
    foreign = copy.deepcopy(LIVE_NAMESPACE)
    foreign["metadata"]["managedFields"][0]["manager"] = "kubectl"
    assert not is_noop(NAMESPACE, foreign)
    other_version = copy.deepcopy(LIVE_NAMESPACE)
    other_version["metadata"]["managedFields"][0]["apiVersion"] = "v2"
    assert not is_noop(NAMESPACE, other_version)


def test_diff_view_drops_server_noise():
    view = diff_view(LIVE_NAMESPACE)
    assert view == {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "probe",
                                 "labels": {"a": "1", "kubernetes.io/metadata.name": "probe"}},
                    "spec": {"finalizers": ["kubernetes"]}}
    assert "managedFields" in LIVE_NAMESPACE["metadata"], "the input must not be modified"


def test_secrets_never_show_their_values():
    last_applied = {"kubectl.kubernetes.io/last-applied-configuration": '{"data":{"k":"c2VjcmV0"}}'}
    before = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": last_applied},
        "data": {"token": "b2xk", "same": "c2FtZQ=="}}
    after = copy.deepcopy(before)
    after["data"]["token"] = "bmV3"
    diff = Change(True, before, after).diff()
    assert diff["before"]["data"] == {"token": HIDDEN, "same": HIDDEN}
    assert diff["after"]["data"] == {"token": HIDDEN_CHANGED, "same": HIDDEN}
    text = repr(diff) + repr(public_view(after))
    for secret in ("b2xk", "bmV3", "c2FtZQ==", "c2VjcmV0"):
        assert secret not in text


def test_strip_none_removes_nulls_at_every_level():
    assert strip_none({"a": None, "b": {"c": None, "d": 1}, "e": [{"f": None}]}) == {"b": {"d": 1}, "e": [{}]}


def test_change_result_of_a_deletion_is_none():
    change = Change(True, LIVE_NAMESPACE, None)
    assert change.result is None
    assert change.diff()["after"] == {}


def test_a_secret_applied_with_string_data_is_recognised_as_unchanged():
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
               "type": "Opaque", "stringData": {"a": "b"}}
    live = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"a": "Yg=="},
            "metadata": {"name": "s", "namespace": "n", "managedFields": [
                {"manager": "tekton-cd", "operation": "Apply", "apiVersion": "v1",
                 "fieldsV1": {"f:stringData": {"f:a": {}}, "f:type": {}}}]}}
    assert is_noop(desired, live)
    assert not is_noop({**desired, "stringData": {"a": "c"}}, live)


def test_atomic_maps_and_defaulted_list_keys_as_a_real_server_records_them():
    binding = {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
               "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "n"}]}
    assert fields_match({"f:roleRef": {}, "f:subjects": {}}, binding)
    service = {"spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"a": "b"}}}
    recorded = {"f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {},
                                                                          "f:targetPort": {}}},
                           "f:selector": {}}}
    assert fields_match(recorded, service)
    assert not fields_match(recorded, {"spec": {"ports": [{"port": 81, "targetPort": 8080}],
                                                "selector": {"a": "b"}}})


def test_a_binding_whose_atomic_role_ref_we_own_whole_is_a_noop():
    desired = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "b", "namespace": "n"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
               "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "n"}]}
    live = copy.deepcopy(desired)
    live["metadata"]["managedFields"] = [{"manager": "tekton-cd", "operation": "Apply",
                                          "apiVersion": "rbac.authorization.k8s.io/v1",
                                          "fieldsV1": {"f:roleRef": {}, "f:subjects": {}}}]
    assert is_noop(desired, live)
    other_role = copy.deepcopy(live)
    other_role["roleRef"]["name"] = "other"
    assert not is_noop(desired, other_role)


def test_a_bare_object_is_a_noop_without_any_entry_of_ours():
    bare = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": "n"}}
    live = {**copy.deepcopy(bare), "secrets": [{"name": "x"}]}
    live["metadata"]["managedFields"] = [{"manager": "kube-controller-manager", "operation": "Update",
                                          "apiVersion": "v1", "fieldsV1": {"f:secrets": {}}}]
    assert is_noop(bare, live)
    assert not is_noop(bare, None)
    # labels we set earlier and no longer want must be applied away
    ours = copy.deepcopy(live)
    ours["metadata"]["managedFields"].append({"manager": "tekton-cd", "operation": "Apply",
                                              "apiVersion": "v1",
                                              "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}}})
    assert not is_noop(bare, ours)


def labelled(name, labels):
    return named("v1", "ServiceAccount", name, "ns", labels=labels)


def test_common_selector_is_the_labels_every_labelled_object_carries():
    objects = [labelled("a", {"part-of": "tekton-cd", "tenant": "a", "z": "1"}),
               labelled("b", {"z": "1", "part-of": "tekton-cd", "tenant": "b"}),
               labelled("c", None)]  # a reference with no labels: read alone, not part of the selector
    assert common_selector(objects) == "part-of=tekton-cd,z=1"


def test_common_selector_is_none_without_a_shared_label_or_with_one_labelled_object():
    assert common_selector([labelled("a", {"x": "1"}), labelled("b", {"x": "2"})]) is None
    assert common_selector([labelled("a", {"x": "1"}), labelled("b", None)]) is None
    assert common_selector([labelled("a", {"x": ""}), labelled("b", {"x": ""})]) is None
