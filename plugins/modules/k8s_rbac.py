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
  - Several specs are ensured in one task with O(roles), in one namespace or several. The live
    state is read with one request per kind once the objects exist, whatever the number of
    namespaces. That is a GET for one object; for several, one LIST narrowed to the labels
    (O(labels)) they all carry, cluster-wide when they span several namespaces (one LIST per
    namespace where the credentials may not list across namespaces). Without shared labels it is
    one request per kind and namespace. A run that would change nothing sends no write.
  - Objects are server-side applied with the field manager C(tekton-cd). The spec wins over changes
    made by hand, so a Role whose rules were edited (for example an extra verb) is put back.
  - A binding's C(roleRef) cannot be changed in place, so a binding that refers to another role
    than the spec says is deleted and created again; the diff says so in its header and
    RV(result.binding_replaced) is true.
  - Input is checked before anything is sent (unknown verbs, empty rules, missing subjects), and so
    are a missing namespace and a missing O(cluster_role); nothing is written then. In check mode
    the last two are warnings instead, since an earlier task of the same run may create them.
version_added: "0.1.0"
author: tekton-cd maintainers (@tekton-cd)
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

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import requested  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_rbac import (  # noqa: E402
    RBAC_API,
    absent_targets,
    desired_binding,
    desired_role,
    replacement_headers,
    same_role_ref,
    validate,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    connect_service,
    one_or_list,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import (  # noqa: E402
    Change,
    named,
    public_view,
)

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


# -- API work ----------------------------------------------------------------------------------

def ensure(params, check_mode):
    specs = specs_of(params)
    validate(specs, params["state"])
    specs = [spec for _where, spec in specs]
    service = connect_service(params, check_mode)
    if params["state"] == "absent":
        return _result(params, remove(service, specs), [])
    return _result(params, *establish(service, specs, params["force_conflicts"]))


def _result(params, outcomes, warnings):
    entries, diffs = [], []
    for outcome in outcomes:
        entry = {"role": None, "binding": None, "binding_replaced": outcome.get("replaced", False)}
        for part in ("role", "binding"):
            change = outcome.get(part)
            if change is not None:
                entry[part] = public_view(change.after)
                replaced = part == "binding" and entry["binding_replaced"]
                diffs.append({**change.diff(), **(replacement_headers(change) if replaced else {})})
        entries.append(entry)
    changed = any(change.changed for outcome in outcomes for change in outcome.values()
                  if isinstance(change, Change))
    return {"changed": changed, "diff": diffs, "warnings": warnings,
            **one_or_list(params["roles"] is not None, entries)}


def establish(service, specs, force_conflicts):
    planned = [(desired_role(spec), desired_binding(spec)) for spec in specs]
    wanted = [obj for pair in planned for obj in pair if obj is not None]
    bound = {spec["cluster_role"] for spec in specs if spec.get("cluster_role")}
    defined = {obj["metadata"]["name"] for obj in wanted if obj["kind"] == "ClusterRole"}
    referenced = [named(RBAC_API, "ClusterRole", name) for name in sorted(bound - defined)]
    live = service.read_all(wanted + referenced)
    missing_roles = [f'ClusterRole "{role["metadata"]["name"]}" (to bind) does not exist'
                     for role in referenced if live.of(role) is None]
    problems = [f"{what}; create it first, or correct cluster_role" for what in missing_roles]

    def failure(namespace):
        problems.insert(0, f'namespace "{namespace}" does not exist; create it first (module k8s_namespace)')
        return "Cannot ensure the RBAC objects: " + "; and ".join(problems) + "."

    warnings = service.require_namespaces(wanted, live, failure=failure)
    if problems and not service.check_mode:
        raise KubeError("Cannot ensure the RBAC objects: " + "; and ".join(problems) + ".")
    warnings += [f"{what} (yet): the objects concerned are shown as they would be sent; a real run fails "
                 "unless an earlier task creates it." for what in missing_roles]
    outcomes = [{} for _spec in specs]
    roles = [(outcome, role) for outcome, (role, _binding) in zip(outcomes, planned, strict=True) if role]
    bindings = [(outcome, binding) for outcome, (_role, binding) in zip(outcomes, planned, strict=True)
                if binding]

    def ensure_role(on, entry):
        outcome, role = entry
        outcome["role"] = on.apply(role, force_conflicts=force_conflicts, live=live.of(role), live_known=True)

    def ensure_binding(on, entry):
        outcome, binding = entry
        current = live.of(binding)
        if current is not None and not same_role_ref(current, binding):
            outcome["binding"] = _replace(on, current, binding, force_conflicts)
            outcome["replaced"] = True
        else:
            outcome["binding"] = on.apply(binding, force_conflicts=force_conflicts, live=current,
                                          live_known=True)

    # Every role first: binding a role takes the rules it grants (unless one may "bind" it).
    service.map_concurrently(ensure_role, roles)
    service.map_concurrently(ensure_binding, bindings)
    return outcomes, warnings


def _replace(service, current, binding, force_conflicts):
    """roleRef is immutable: delete the binding and create it anew (a dry-run delete in check mode,
    where the new binding cannot be dry-run created while the old one still exists)."""
    metadata = binding["metadata"]
    service.delete(RBAC_API, binding["kind"], metadata["name"], metadata.get("namespace"), live=current,
                   live_known=True)
    if service.check_mode:
        return Change(True, current, binding)
    created = service.apply(binding, force_conflicts=force_conflicts, live=None, live_known=True)
    return Change(True, current, created.after)


def remove(service, specs):
    targets = [[named(RBAC_API, *target) for target in absent_targets(spec)] for spec in specs]
    live = service.read_all([target for group in targets for target in group])
    return [dict(zip(("binding", "role"), service.delete_all(group, live), strict=False))
            for group in targets]


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
