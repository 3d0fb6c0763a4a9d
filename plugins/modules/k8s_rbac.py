#!/usr/bin/python
"""Ansible module k8s_rbac: a Role or ClusterRole and its binding, from one compact spec (or a list)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rbac
short_description: Ensure Kubernetes RBAC roles and their bindings from one compact spec
description:
  - Ensures, from one spec, a Role (with O(namespace)) or a ClusterRole (without) holding O(rules),
    and the RoleBinding or ClusterRoleBinding that grants it to O(subjects).
  - With O(cluster_role) instead of O(rules), it only binds that existing ClusterRole (for example
    C(admin) or C(view)), inside O(namespace) with a RoleBinding, or cluster-wide with a
    ClusterRoleBinding when no namespace is given.
  - Several specs are ensured in one task with O(roles); the live state is read with one request
    per kind and namespace, and a run that would change nothing sends no write.
  - Objects are server-side applied with the field manager C(tekton-cd). The spec wins over changes
    made by hand, so a Role whose rules were edited (for example an extra verb) is put back.
  - A binding's C(roleRef) cannot be changed in place, so a binding that refers to another role
    than the spec says is deleted and created again; the diff says so in its header and
    RV(result.binding_replaced) is true.
  - Input is checked before anything is sent (unknown verbs, empty rules, missing subjects), and so
    are a missing namespace and a missing O(cluster_role); nothing is written then. In check mode
    the last two are warnings instead, since an earlier task of the same run may create them.
version_added: "0.1.0"
author: tekton-cd maintainers
options:
  name:
    description:
      - Name of the Role or ClusterRole defined by O(rules); with O(cluster_role), the name of the
        binding.
      - Exactly one of O(name) and O(roles) is required.
    type: str
  namespace:
    description:
      - Namespace of the Role and RoleBinding. Without it, a ClusterRole and a ClusterRoleBinding
        are ensured.
      - With O(roles), the namespace of every element that does not give its own.
    type: str
  rules:
    description:
      - The rules of the role, in this order. Required (and not empty) unless O(cluster_role) is
        given.
    type: list
    elements: dict
    suboptions: &rule_options
      api_groups:
        description: API groups of the resources; C("") is the core group (pods, secrets, ...).
        type: list
        elements: str
        required: true
        aliases: [apiGroups]
      resources:
        description: Resources (plural names), C(resource/subresource) such as C(pods/log), or C("*").
        type: list
        elements: str
        required: true
      verbs:
        description:
          - Verbs allowed on them, among C(get), C(list), C(watch), C(create), C(update), C(patch),
            C(delete), C(deletecollection), C(impersonate), C(bind), C(escalate), C(use),
            C(approve), C(sign) and C("*").
        type: list
        elements: str
        required: true
      resource_names:
        description: Restrict the rule to objects of these names.
        type: list
        elements: str
        aliases: [resourceNames]
  cluster_role:
    description:
      - Bind this existing ClusterRole instead of defining a role; it must exist. Mutually exclusive
        with O(rules). O(state=absent) then deletes only the binding, never the ClusterRole.
    type: str
  subjects:
    description:
      - Who is granted the role. Without subjects no binding is managed (a role with O(rules) only);
        with O(cluster_role) they are required.
    type: list
    elements: dict
    suboptions: &subject_options
      kind:
        description: Kind of subject.
        type: str
        choices: [ServiceAccount, User, Group]
        default: ServiceAccount
      name:
        description: Name of the service account, user or group.
        type: str
        required: true
      namespace:
        description:
          - Namespace of a service account; defaults to the spec's O(namespace). Not allowed for
            users and groups.
        type: str
  binding_name:
    description: Name of the binding; defaults to O(name).
    type: str
  labels:
    description: Labels this task manages on the role and the binding (string values).
    type: dict
  roles:
    description:
      - Several specs in one task, applied in order (all roles before the bindings). Each element
        takes the options O(name), O(namespace), O(rules), O(cluster_role), O(subjects),
        O(binding_name) and O(labels) as described above; an element without O(namespace) takes
        the task's O(namespace) (so cluster-scoped elements need a task without one).
      - Cannot be combined with O(name), O(rules), O(cluster_role), O(subjects), O(binding_name) or
        O(labels).
    type: list
    elements: dict
    suboptions:
      name:
        description: As O(name).
        type: str
        required: true
      namespace:
        description: As O(namespace).
        type: str
      rules:
        description: As O(rules).
        type: list
        elements: dict
        suboptions: *rule_options
      cluster_role:
        description: As O(cluster_role).
        type: str
      subjects:
        description: As O(subjects).
        type: list
        elements: dict
        suboptions: *subject_options
      binding_name:
        description: As O(binding_name).
        type: str
      labels:
        description: As O(labels).
        type: dict
  state:
    description:
      - C(present) ensures the role and binding; C(absent) deletes the binding (O(binding_name), or
        O(name)) and, without O(cluster_role), the role O(name). Missing objects are not a change.
    type: str
    choices: [present, absent]
    default: present
  force_conflicts:
    description:
      - Take over fields that another field manager changed (such as rules edited by hand), so the
        spec is put back. Set to false to fail on such a conflict instead.
    type: bool
    default: true
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description:
      - Sends every write with C(dryRun=All), so the API server validates it and stores nothing.
      - A binding that would be replaced is dry-run deleted and shown as it would be created.
  diff_mode:
    support: full
    description: Shows each role and binding before and after, without server-maintained fields.
"""

EXAMPLES = r"""
- name: Ensure the deploy role in the application namespace, bound to the deploy account
  tekton_cd.pipeline.k8s_rbac:
    name: chart-deployer
    namespace: health
    rules:
      - api_groups: [apps]
        resources: [deployments, statefulsets]
        verbs: [get, list, watch, create, update, patch, delete]
      - api_groups: [""]
        resources: [pods/log]
        verbs: [get]
    subjects:
      - name: deployer
        namespace: health-ci

- name: Make the namespace-admin account admin of the application namespace only
  tekton_cd.pipeline.k8s_rbac:
    name: namespace-admin
    namespace: health
    cluster_role: admin
    subjects:
      - name: namespace-admin
        namespace: health-ci

- name: Ensure all the pipeline's RBAC in one task
  tekton_cd.pipeline.k8s_rbac:
    namespace: health
    roles:
      - name: chart-deployer
        rules:
          - {api_groups: [""], resources: [configmaps, services], verbs: [get, list, create, patch]}
        subjects: [{name: deployer, namespace: health-ci}]
      - name: namespace-admin
        cluster_role: admin
        subjects: [{name: namespace-admin, namespace: health-ci}]

- name: A cluster-wide read-only role for a group of people
  tekton_cd.pipeline.k8s_rbac:
    name: pipeline-viewer
    rules:
      - {api_groups: [tekton.dev], resources: [pipelineruns, taskruns], verbs: [get, list, watch]}
    subjects:
      - {kind: Group, name: release-managers}
"""

RETURN = r"""
result:
  description: What the spec ensured (with O(name)).
  returned: when O(name) is given
  type: dict
  contains:
    role:
      description:
        - The Role or ClusterRole as the API server returned it, without C(metadata.managedFields).
        - None with O(cluster_role), or after O(state=absent).
      type: dict
    binding:
      description: The RoleBinding or ClusterRoleBinding likewise; None when no binding is managed.
      type: dict
    binding_replaced:
      description: Whether the binding was deleted and created again because its C(roleRef) changed.
      type: bool
  sample:
    role:
      apiVersion: rbac.authorization.k8s.io/v1
      kind: Role
      metadata: {name: chart-deployer, namespace: health}
      rules: [{apiGroups: [apps], resources: [deployments], verbs: [get, list]}]
    binding:
      apiVersion: rbac.authorization.k8s.io/v1
      kind: RoleBinding
      metadata: {name: chart-deployer, namespace: health}
      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: chart-deployer}
      subjects: [{kind: ServiceAccount, name: deployer, namespace: health-ci}]
    binding_replaced: false
results:
  description: One entry per element of O(roles), in order, each like RV(result).
  returned: when O(roles) is given
  type: list
  elements: dict
diff:
  description:
    - One before/after entry per role and binding (with C(--diff)), without server-maintained
      fields; a replaced binding's entry has a C(before_header)/C(after_header) saying so.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import option_at, requested  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_labels,
    check_namespace_name,
    check_verbs,
    is_dns_subdomain,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    connect_service,
)

RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"

RULE_OPTIONS = {
    "api_groups": {"type": "list", "elements": "str", "required": True, "aliases": ["apiGroups"]},
    "resources": {"type": "list", "elements": "str", "required": True},
    "verbs": {"type": "list", "elements": "str", "required": True},
    "resource_names": {"type": "list", "elements": "str", "aliases": ["resourceNames"]},
}
SUBJECT_OPTIONS = {
    "kind": {"type": "str", "choices": ["ServiceAccount", "User", "Group"], "default": "ServiceAccount"},
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str"},
}
SPEC_OPTIONS = {
    "rules": {"type": "list", "elements": "dict", "options": RULE_OPTIONS},
    "cluster_role": {"type": "str"},
    "subjects": {"type": "list", "elements": "dict", "options": SUBJECT_OPTIONS},
    "binding_name": {"type": "str"},
    "labels": {"type": "dict"},
}
ARGUMENT_SPEC = {
    "name": {"type": "str"},
    "namespace": {"type": "str"},
    **SPEC_OPTIONS,
    "roles": {
        "type": "list", "elements": "dict",
        "options": {"name": {"type": "str", "required": True}, "namespace": {"type": "str"}, **SPEC_OPTIONS},
    },
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "force_conflicts": {"type": "bool", "default": True},
}

# -- input -------------------------------------------------------------------------------------

def specs_of(params):
    """The requested specs as (option path for messages, spec) pairs, from either form."""
    return requested(params, "roles", SPEC_OPTIONS, one="role (or binding)", shared=("namespace",))


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


# -- desired objects ---------------------------------------------------------------------------

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


# -- API work ----------------------------------------------------------------------------------

def _key(obj):
    metadata = obj["metadata"]
    return obj["kind"], metadata["name"], metadata.get("namespace")


def ensure(params, check_mode):
    specs = specs_of(params)
    validate(specs, params["state"])
    specs = [spec for _, spec in specs]
    service = connect_service(params, check_mode)
    if params["state"] == "absent":
        return _result(params, remove(service, specs), [])
    return _result(params, *establish(service, specs, params["force_conflicts"]))


def _result(params, outcomes, warnings):
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import public_view

    entries, diffs, changed = [], [], False
    for outcome in outcomes:
        entry = {"role": None, "binding": None, "binding_replaced": outcome.get("replaced", False)}
        for part in ("role", "binding"):
            change = outcome.get(part)
            if change is None:
                continue
            changed = changed or change.changed
            entry[part] = public_view(change.after)
            diff = change.diff()
            if part == "binding" and entry["binding_replaced"]:
                diff.update(_replacement_headers(change))
            diffs.append(diff)
        entries.append(entry)
    result = {"changed": changed, "diff": diffs, "warnings": warnings}
    if params.get("roles") is None:
        result["result"] = entries[0]
    else:
        result["results"] = entries
    return result


def _replacement_headers(change):
    old, new = change.before["roleRef"], change.after["roleRef"]
    target = object_ref(change.after["kind"], change.after["metadata"]["name"],
                        change.after["metadata"].get("namespace"))
    return {
        "before_header": f"{target}, roleRef {old.get('kind')} {old.get('name')!r} "
                         "(deleted: roleRef is immutable)",
        "after_header": f"{target}, roleRef {new['kind']} {new['name']!r} (created again in its place)",
    }


def establish(service, specs, force_conflicts):
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import Change, named

    planned = [(desired_role(spec), desired_binding(spec)) for spec in specs]
    wanted = [obj for pair in planned for obj in pair if obj is not None]
    defined = {_key(obj) for obj in wanted}
    bound = sorted({("ClusterRole", spec["cluster_role"], None) for spec in specs if spec.get("cluster_role")}
                   - defined)
    referenced = [named(RBAC_API, kind, name) for kind, name, _ in bound]
    live = service.read_all(wanted + referenced)

    missing_namespaces = service.missing_namespaces(wanted, live)
    missing_roles = [role["metadata"]["name"] for role in referenced if live.of(role) is None]
    problems = [(f'namespace "{namespace}" does not exist', "create it first (module k8s_namespace)")
                for namespace in missing_namespaces]
    problems += [(f'ClusterRole "{name}" (to bind) does not exist',
                  "create it first, or correct cluster_role") for name in missing_roles]
    if problems and not service.check_mode:
        raise KubeError("Cannot ensure the RBAC objects: "
                        + "; and ".join(f"{what}; {fix}" for what, fix in problems) + ".")
    warnings = [f"{what[0].upper()}{what[1:]} (yet): the objects concerned are shown as they would be "
                "sent; a real run fails unless an earlier task creates it." for what, _ in problems]

    def apply(obj):
        if obj["metadata"].get("namespace") in missing_namespaces:
            return Change(True, None, obj)  # check mode only: a dry run would be refused (404)
        return service.apply(obj, force_conflicts=force_conflicts, live=live.of(obj), live_known=True)

    outcomes = [{} for _ in specs]
    for outcome, (role, _binding) in zip(outcomes, planned, strict=True):
        if role is not None:
            outcome["role"] = apply(role)
    for outcome, (_role, binding) in zip(outcomes, planned, strict=True):
        if binding is None:
            continue
        current = live.of(binding)
        if current is not None and not same_role_ref(current, binding):
            outcome["binding"] = _replace(service, current, binding, force_conflicts)
            outcome["replaced"] = True
        else:
            outcome["binding"] = apply(binding)
    return outcomes, warnings


def _replace(service, current, binding, force_conflicts):
    """roleRef is immutable: delete the binding and create it anew (a dry-run delete in check mode,
    where the new binding cannot be dry-run created while the old one still exists)."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import Change

    kind, name, namespace = _key(binding)
    service.delete(RBAC_API, kind, name, namespace)
    if service.check_mode:
        return Change(True, current, binding)
    created = service.apply(binding, force_conflicts=force_conflicts, live=None, live_known=True)
    return Change(True, current, created.after)


def remove(service, specs):
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import Change, named

    targets = [[named(RBAC_API, *target) for target in absent_targets(spec)] for spec in specs]
    live = service.read_all([target for group in targets for target in group])
    outcomes = []
    for group in targets:
        outcome = {}
        for part, target in zip(("binding", "role"), group, strict=False):
            if live.of(target) is not None:
                outcome[part] = service.delete(RBAC_API, *_key(target))
            else:
                outcome[part] = Change(False, None, None)
        outcomes.append(outcome)
    return outcomes


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
