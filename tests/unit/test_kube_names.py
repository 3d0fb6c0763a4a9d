"""kube_names: the API server's naming rules, shared by every module's input checks."""

from __future__ import annotations

import pytest

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_annotations,
    check_labels,
    check_namespace_name,
    check_verbs,
    is_dns_subdomain,
    is_qualified_key,
    is_rfc1123_label,
)


def test_names():
    assert is_rfc1123_label("health-ci") and not is_rfc1123_label("a" * 64)
    assert not is_rfc1123_label("Health") and not is_rfc1123_label("a.b") and not is_rfc1123_label(None)
    assert is_dns_subdomain("a.b-c") and not is_dns_subdomain("") and not is_dns_subdomain("a" * 254)
    assert is_qualified_key("app.kubernetes.io/part-of") and is_qualified_key("Some_Key.1")
    assert not is_qualified_key("UPPER.io/x") and not is_qualified_key("a/") and not is_qualified_key("-a")


@pytest.mark.parametrize(("check", "option", "value", "message"), [
    (check_namespace_name, "namespace", "No", "option 'namespace': 'No' is not a valid namespace name; use"),
    (check_labels, "labels", {"bad key": "v"}, "key 'bad key' is not a valid label key"),
    (check_labels, "x.labels", {"n": 5}, "option 'x.labels': the value of 'n' is int 5, not a string; quote"),
    (check_labels, "labels", {"a": "has space"}, "the value 'has space' of 'a' is not a valid label value"),
    (check_annotations, "annotations", {"a/b/c": "v"}, "key 'a/b/c' is not a valid annotation key"),
    (check_annotations, "annotations", {"a": True}, "the value of 'a' is bool True, not a string"),
    (check_verbs, "rules[0].verbs", ["get", "lst", "wach"], "unknown verbs 'lst', 'wach'; use one of get,"),
    (check_verbs, "allowed[0].verb", ["lst"], "option 'allowed[0].verb': unknown verb 'lst'; use"),
])
def test_each_bad_input_names_the_option_and_the_fix(check, option, value, message):
    with pytest.raises(KubeError) as raised:
        check(option, value)
    assert message in raised.value.msg


def test_good_input_passes():
    check_namespace_name("namespace", None)
    check_namespace_name("namespace", "health")
    check_labels("labels", {"app.kubernetes.io/part-of": "tekton-cd", "empty": ""})
    check_annotations("annotations", {"example.com/note": "any text, even with spaces"})
    check_verbs("verbs", ["get", "*", "escalate"])
