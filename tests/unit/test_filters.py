"""The role filters: per_tenant (one tenant's objects, repeated per tenant with its namespaces) and
granted_actions (RBAC rules as the actions an access review asks about)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.filter.rbac_actions import granted_actions  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.filter.tenants import per_tenant  # noqa: E402

TENANTS = [{"pipeline_namespace": "a-ci", "app_namespace": "a"},
           {"pipeline_namespace": "b-ci", "app_namespace": "b"}]


def test_each_tenant_gets_its_copy_with_its_namespaces_in_order():
    one = [{"name": "deployer", "namespace": "{pipeline}", "subjects": [{"namespace": "{pipeline}"}]},
           {"name": "{app}", "labels": {"team": "x"}, "count": 3, "none": None}]
    assert per_tenant(one, TENANTS) == [
        {"name": "deployer", "namespace": "a-ci", "subjects": [{"namespace": "a-ci"}]},
        {"name": "a", "labels": {"team": "x"}, "count": 3, "none": None},
        {"name": "deployer", "namespace": "b-ci", "subjects": [{"namespace": "b-ci"}]},
        {"name": "b", "labels": {"team": "x"}, "count": 3, "none": None},
    ]


def test_one_object_becomes_one_per_tenant_and_the_input_is_left_as_it_was():
    one = {"namespace": "{app}", "denied": [{"name": "{app}"}]}
    assert per_tenant(one, TENANTS) == [{"namespace": "a", "denied": [{"name": "a"}]},
                                        {"namespace": "b", "denied": [{"name": "b"}]}]
    assert one == {"namespace": "{app}", "denied": [{"name": "{app}"}]}


@pytest.mark.parametrize(("tenants", "message"), [
    ({"pipeline_namespace": "a-ci"}, "not a list"),
    ([{"pipeline_namespace": "a-ci"}], "tenant 0 ({'pipeline_namespace': 'a-ci'}) lacks app_namespace"),
    ([TENANTS[0], {"pipeline_namespace": "", "app_namespace": "b"}], "tenant 1"),
    (["a"], "lacks pipeline_namespace and app_namespace"),
])
def test_a_malformed_tenant_is_named(tenants, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        per_tenant([{"name": "{app}"}], tenants)


def test_rbac_rules_become_one_action_per_group_resource_verb_and_name():
    rules = [{"api_groups": ["apps"], "resources": ["deployments", "statefulsets"],
              "verbs": ["get", "patch"]},
             {"api_groups": [""], "resources": ["configmaps"], "verbs": ["update"],
              "resource_names": ["a", "b"]}]
    assert granted_actions(rules) == [
        {"verb": "get", "resource": "deployments", "group": "apps"},
        {"verb": "patch", "resource": "deployments", "group": "apps"},
        {"verb": "get", "resource": "statefulsets", "group": "apps"},
        {"verb": "patch", "resource": "statefulsets", "group": "apps"},
        {"verb": "update", "resource": "configmaps", "group": "", "name": "a"},
        {"verb": "update", "resource": "configmaps", "group": "", "name": "b"},
    ]
    with pytest.raises(AnsibleFilterError, match="not a list"):
        granted_actions({"verbs": ["get"]})
