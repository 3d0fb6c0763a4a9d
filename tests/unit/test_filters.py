"""What turns a role's one-tenant objects into every tenant's (the stage's per_tenant) and RBAC rules
into the actions an access review asks about (the filter granted_actions)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.filter.rbac_actions import granted_actions  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.tenants import (  # noqa: E402
    malformed_tenant,
    per_tenant,
)

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


def test_only_what_a_tenants_namespaces_make_equal_is_left_out_and_the_input_is_left_as_it_was():
    one = [{"name": "{pipeline}"}, {"name": "{app}"}]
    same = [{"pipeline_namespace": "a", "app_namespace": "a"}, TENANTS[1]]
    assert per_tenant(one, same) == [{"name": "a"}, {"name": "b-ci"}, {"name": "b"}]
    assert one == [{"name": "{pipeline}"}, {"name": "{app}"}]
    # the same entry twice as written, and two tenants claiming one namespace: left for the module
    assert per_tenant([{"name": "x"}, {"name": "x"}], TENANTS[:1]) == [{"name": "x"}, {"name": "x"}]
    shared = [{"pipeline_namespace": "a-ci", "app_namespace": "shared"},
              {"pipeline_namespace": "b-ci", "app_namespace": "shared"}]
    assert per_tenant([{"name": "{app}"}], shared) == [{"name": "shared"}, {"name": "shared"}]


@pytest.mark.parametrize(("tenants", "message"), [
    ({"pipeline_namespace": "a-ci"}, "not a list"),
    ([{"pipeline_namespace": "a-ci"}], "tenant 0 ({'pipeline_namespace': 'a-ci'}) lacks app_namespace"),
    ([TENANTS[0], {"pipeline_namespace": "", "app_namespace": "b"}], "tenant 1"),
    (["a"], "lacks pipeline_namespace and app_namespace"),
])
def test_a_malformed_tenant_is_named(tenants, message):
    assert message in malformed_tenant(tenants)
    assert malformed_tenant(TENANTS) is None


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
