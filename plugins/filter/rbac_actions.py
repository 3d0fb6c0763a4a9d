"""The filter that turns RBAC rules into the actions an access review asks about.

{{ rules | tekton_cd.pipeline.granted_actions }}

``rules``: PolicyRules as k8s_rbac takes them (api_groups, resources, verbs, resource_names). The
result: one k8s_access_review action per (group, resource, verb[, name]) they grant, so that a
review proves each of them is really allowed. In Python because the Jinja loop it replaces was one
of the role's costliest templates.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def granted_actions(rules):
    if not isinstance(rules, list):
        raise AnsibleFilterError(f"granted_actions: the rules are a {type(rules).__name__}, not a list of "
                                 "PolicyRules (api_groups, resources, verbs).")
    actions = []
    for rule in rules:
        for group in rule.get("api_groups") or []:
            for resource in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    for name in rule.get("resource_names") or [None]:
                        action = {"verb": verb, "resource": resource, "group": group}
                        actions.append({**action, "name": name} if name else action)
    return actions


class FilterModule:
    def filters(self):
        return {"granted_actions": granted_actions}
