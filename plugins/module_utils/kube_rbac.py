"""RBAC objects from the compact spec of k8s_rbac: the checks of a spec before anything is sent, and
the Role/ClusterRole and RoleBinding/ClusterRoleBinding it stands for.

    validate(specs, state)                 # KubeError.invalid naming the option, for the first problem
    desired_role(spec), desired_binding(spec), absent_targets(spec)
    same_role_ref(live, desired)           # roleRef is immutable: a different one means delete + create

A spec is one element of k8s_rbac's ``roles`` (or its single form): name, namespace (None for the
cluster-wide kinds), rules or cluster_role, subjects, binding_name, labels.
"""

from __future__ import annotations

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import option_at
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (
    check_labels,
    check_namespace_name,
    check_verbs,
    is_dns_subdomain,
)

RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"


def validate(specs, state):
    """Every input problem, found before any API call; raises KubeError with the first."""
    seen = set()
    for where, spec in specs:
        _validate_names(where, spec)
        identity = (spec["namespace"], spec["name"], spec.get("cluster_role") is None)
        if identity in seen:
            raise KubeError.invalid(option_at(where, "name"),
                                    f"{spec['name']!r} is given twice in the same scope",
                                    "give each role once")
        seen.add(identity)
        check_labels(option_at(where, "labels"), spec.get("labels"))
        if state == "absent":
            continue
        if spec.get("rules") is not None and spec.get("cluster_role") is not None:
            raise KubeError.invalid(option_at(where, "rules"), "rules and cluster_role are both given",
                                    "give rules to define a role, or cluster_role to bind an existing one")
        if spec.get("cluster_role") is None:
            if not spec.get("rules"):
                raise KubeError.invalid(
                    option_at(where, "rules"),
                    f"the role {spec['name']!r} has no rules" if spec.get("rules") is not None else
                    f"neither rules nor cluster_role is given for {spec['name']!r}",
                    "list at least one rule (api_groups, resources, verbs), or bind an existing ClusterRole "
                    "with cluster_role",
                )
            for index, rule in enumerate(spec["rules"]):
                validate_rule(option_at(where, f"rules[{index}]"), rule)
        elif not spec.get("subjects"):
            raise KubeError.invalid(option_at(where, "subjects"),
                                    f"binding the ClusterRole {spec['cluster_role']!r} needs subjects",
                                    "list the service accounts, users or groups to bind it to")
        for index, subject in enumerate(spec.get("subjects") or []):
            _validate_subject(option_at(where, f"subjects[{index}]"), subject, spec["namespace"])


def validate_rule(where, rule):
    """One policy rule: known verbs, and no empty list where the API requires entries."""
    for option in ("api_groups", "resources", "verbs"):
        if not rule.get(option):
            raise KubeError.invalid(f"{where}.{option}", f"{option} is empty",
                                    f"list at least one entry (\"*\" for all){_group_hint(option)}")
    check_verbs(f"{where}.verbs", rule["verbs"])
    for resource in rule["resources"]:
        if not resource or resource != resource.strip() or resource.count("/") > 1:
            raise KubeError.invalid(f"{where}.resources", f"{resource!r} is not a resource name",
                                    "give a plural resource name such as deployments, or "
                                    "resource/subresource such as pods/log")


def _group_hint(option):
    return ', and "" for the core group' if option == "api_groups" else ""


def _validate_names(where, spec):
    check_namespace_name(option_at(where, "namespace"), spec.get("namespace"))
    for option in ("name", "binding_name", "cluster_role"):
        value = spec.get(option)
        if value is not None and (value in ("", ".", "..") or "/" in value or "%" in value):
            raise KubeError.invalid(option_at(where, option), f"{value!r} is not a valid RBAC object name",
                                    "use a name without '/' and '%' (e.g. lowercase letters, digits and '-')")


def _validate_subject(where, subject, namespace):
    if subject["kind"] == "ServiceAccount":
        if not (subject.get("namespace") or namespace):
            raise KubeError.invalid(f"{where}.namespace",
                                    f"the service account {subject['name']!r} has no namespace",
                                    "give the subject's namespace (a cluster-wide spec has none to "
                                    "default to)")
        if not is_dns_subdomain(subject["name"]):
            raise KubeError.invalid(f"{where}.name",
                                    f"{subject['name']!r} is not a valid service account name",
                                    "use a lowercase RFC 1123 subdomain")
    elif subject.get("namespace"):
        raise KubeError.invalid(f"{where}.namespace", f"a {subject['kind']} has no namespace",
                                "drop namespace, it applies to ServiceAccount subjects only")


def role_kinds(spec):
    """(role kind or None, binding kind) for a spec: namespaced or cluster-wide."""
    namespaced = spec.get("namespace") is not None
    role_kind = None if spec.get("cluster_role") is not None else ("Role" if namespaced else "ClusterRole")
    return role_kind, "RoleBinding" if namespaced else "ClusterRoleBinding"


def _metadata(name, namespace, labels):
    metadata = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    return metadata


def desired_role(spec):
    """The Role/ClusterRole of a spec, or None when it binds an existing ClusterRole."""
    role_kind, _ = role_kinds(spec)
    if role_kind is None:
        return None
    rules = []
    for rule in spec["rules"]:
        entry = {"apiGroups": list(rule["api_groups"]), "resources": list(rule["resources"]),
                 "verbs": list(rule["verbs"])}
        if rule.get("resource_names"):
            entry["resourceNames"] = list(rule["resource_names"])
        rules.append(entry)
    return {"apiVersion": RBAC_API, "kind": role_kind,
            "metadata": _metadata(spec["name"], spec["namespace"], spec.get("labels")), "rules": rules}


def desired_binding(spec):
    """The RoleBinding/ClusterRoleBinding of a spec, or None when it has no subjects."""
    role_kind, binding_kind = role_kinds(spec)
    if not spec.get("subjects"):
        return None
    if role_kind is None:
        role_ref = {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": spec["cluster_role"]}
    else:
        role_ref = {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": spec["name"]}
    subjects = []
    for subject in spec["subjects"]:
        entry = {"kind": subject["kind"], "name": subject["name"]}
        if subject["kind"] == "ServiceAccount":
            entry["namespace"] = subject.get("namespace") or spec["namespace"]
        else:
            entry["apiGroup"] = RBAC_GROUP
        subjects.append(entry)
    name = spec.get("binding_name") or spec["name"]
    return {"apiVersion": RBAC_API, "kind": binding_kind,
            "metadata": _metadata(name, spec["namespace"], spec.get("labels")),
            "roleRef": role_ref, "subjects": subjects}


def absent_targets(spec):
    """(kind, name, namespace) of what state=absent deletes for a spec: the binding, then the role."""
    role_kind, binding_kind = role_kinds(spec)
    targets = [(binding_kind, spec.get("binding_name") or spec["name"], spec["namespace"])]
    if role_kind is not None:
        targets.append((role_kind, spec["name"], spec["namespace"]))
    return targets


def same_role_ref(live, desired):
    ref_live, ref_desired = live.get("roleRef") or {}, desired["roleRef"]
    return all(ref_live.get(key) == ref_desired[key] for key in ("apiGroup", "kind", "name"))


def replacement_headers(change):
    old, new = change.before["roleRef"], change.after["roleRef"]
    target = object_ref(change.after["kind"], change.after["metadata"]["name"],
                        change.after["metadata"].get("namespace"))
    return {
        "before_header": f"{target}, roleRef {old.get('kind')} {old.get('name')!r} "
                         "(deleted: roleRef is immutable)",
        "after_header": f"{target}, roleRef {new['kind']} {new['name']!r} (created again in its place)",
    }
