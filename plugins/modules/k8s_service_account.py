#!/usr/bin/python
"""Ansible module k8s_service_account: service accounts with their image-pull and mountable secrets."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_service_account
short_description: Ensure Kubernetes service accounts, with their image-pull and mountable secrets
description:
  - Creates, updates or deletes one service account (O(name)) or several, in one namespace or in
    several (O(service_accounts), each element may name its own namespace), by server-side apply
    with the field manager C(tekton-cd).
  - The live state is read with one request per run once the accounts exist. That is a GET for one
    account; for several, one LIST narrowed to the labels they all carry, in their namespace or cluster-wide
    when they span several (one LIST per namespace where the credentials may not list across
    namespaces), or one LIST of the namespace when they share no label. An account that LIST
    misses (not created yet, or not labelled so yet) is read on its own. A run that would change
    nothing sends no write to the API server.
  - Input is checked before anything is sent. A missing namespace is reported before any write (in
    check mode it is only a warning, since an earlier task of the same run may create it).
  - The secrets named in O(image_pull_secrets) and O(secrets) are referenced, not created; they may
    be created before or after the service account.
version_added: "0.1.0"
author: tekton-cd maintainers (@tekton-cd)
options:
  name:
    description:
      - Name of the service account, a lowercase RFC 1123 subdomain.
      - Exactly one of O(name) and O(service_accounts) is required.
    type: str
  namespace:
    description:
      - Namespace of the service account; with O(service_accounts), the namespace of every element
        that does not give its own.
      - Required, unless every element of O(service_accounts) gives its namespace.
    type: str
  labels:
    description:
      - Labels this task manages on the service account (string values).
      - Labels set by this task earlier and no longer listed are removed; labels set by others are
        left alone.
    type: dict
  image_pull_secrets:
    description:
      - Names of the docker-config secrets (in the same namespace) that pods running as this account
        use to pull images (C(imagePullSecrets)).
      - The API treats this list as one value, so this task owns it as a whole; if another tool
        added entries by hand, the run fails with a field conflict unless O(force_conflicts) is set
        (which resets the list to this one). List every pull secret here instead.
      - Omitted, the list is not managed; an empty list removes the entries this task set earlier.
    type: list
    elements: str
  secrets:
    description:
      - Names of the secrets (in the same namespace) that pods running as this account may mount
        (C(secrets)); entries added by others are kept.
      - Omitted, the list is not managed; an empty list removes the entries this task set earlier.
    type: list
    elements: str
  automount_token:
    description:
      - Whether pods running as this account get an API token mounted by default
        (C(automountServiceAccountToken)). Omitted, the cluster's default applies (mounted).
    type: bool
  service_accounts:
    description:
      - Several service accounts in one task; each element takes the single-account options and
        may give its own O(service_accounts[].namespace). Cannot be combined with O(name),
        O(labels), O(image_pull_secrets), O(secrets) or O(automount_token).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the service account, as O(name).
        type: str
        required: true
      namespace:
        description: Namespace of this account; O(namespace) by default.
        type: str
      labels:
        description: Labels, as O(labels).
        type: dict
      image_pull_secrets:
        description: Image-pull secret names, as O(image_pull_secrets).
        type: list
        elements: str
      secrets:
        description: Mountable secret names, as O(secrets).
        type: list
        elements: str
      automount_token:
        description: Token automounting, as O(automount_token).
        type: bool
  state:
    description:
      - Whether the service account(s) should exist. C(absent) deletes them (other options but the
        names are ignored); missing ones are not a change.
    type: str
    choices: [present, absent]
    default: present
  force_conflicts:
    description:
      - Take over fields that another field manager set to a different value (for example pull
        secrets added by hand), instead of failing.
    type: bool
    default: false
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description: Sends every write with C(dryRun=All), so the API server validates it and stores nothing.
  diff_mode:
    support: full
    description: Shows each service account before and after, without server-maintained fields.
"""

EXAMPLES = r"""
- name: Ensure the deploy account, which pulls images with the registry secret
  tekton_cd.pipeline.k8s_service_account:
    name: deployer
    namespace: health-ci
    labels:
      app.kubernetes.io/part-of: tekton-cd
    image_pull_secrets: [icr-pull]
    automount_token: false

- name: Ensure every account of the pipeline in one request round
  tekton_cd.pipeline.k8s_service_account:
    namespace: health-ci
    service_accounts:
      - name: builder
        secrets: [git-credentials, icr-push]
      - name: deployer
        image_pull_secrets: [icr-pull]
      - name: namespace-admin

- name: Ensure the accounts of several tenants in one task (one LIST per run once they exist)
  tekton_cd.pipeline.k8s_service_account:
    service_accounts:
      - {name: deployer, namespace: tenant-a, labels: {app.kubernetes.io/part-of: tekton-cd}}
      - {name: deployer, namespace: tenant-b, labels: {app.kubernetes.io/part-of: tekton-cd}}

- name: Remove the accounts
  tekton_cd.pipeline.k8s_service_account:
    namespace: health-ci
    state: absent
    service_accounts:
      - name: builder
      - name: deployer
"""

RETURN = r"""
result:
  description:
    - The service account as the API server returned it, without C(metadata.managedFields); empty
      after O(state=absent).
    - In check mode with a missing namespace, the account as it would be sent.
  returned: when O(name) is given
  type: dict
  sample:
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: deployer, namespace: health-ci, uid: 5b9d0a52-3f0e-4a47-9f53-0c1b3b7c2f10}
    imagePullSecrets: [{name: icr-pull}]
    automountServiceAccountToken: false
results:
  description: One entry per element of O(service_accounts), in order, each like RV(result).
  returned: when O(service_accounts) is given
  type: list
  elements: dict
diff:
  description:
    - Before and after (with C(--diff)), without server-maintained fields; a list with one entry
      per account when O(service_accounts) is given.
  returned: always
  type: raw
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import option_at, requested  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_labels,
    check_namespace_name,
    is_dns_subdomain,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    changes_result,
    connect_service,
)

ACCOUNT_OPTIONS = {
    "labels": {"type": "dict"},
    "image_pull_secrets": {"type": "list", "elements": "str", "no_log": False},  # Secret names
    "secrets": {"type": "list", "elements": "str", "no_log": False},  # Secret names
    "automount_token": {"type": "bool"},
}

ARGUMENT_SPEC = {
    "name": {"type": "str"},
    "namespace": {"type": "str"},
    **ACCOUNT_OPTIONS,
    "service_accounts": {
        "type": "list", "elements": "dict",
        "options": {"name": {"type": "str", "required": True}, "namespace": {"type": "str"},
                    **ACCOUNT_OPTIONS},
    },
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "force_conflicts": {"type": "bool", "default": False},
}


# -- input -------------------------------------------------------------------------------------

def accounts_of(params):
    """The requested accounts as (option path for messages, account options) pairs, from either form."""
    return requested(params, "service_accounts", ACCOUNT_OPTIONS, one="account", shared=("namespace",))


def validate(params, accounts):
    """Every input problem, found before any API call; raises KubeError with the first."""
    check_namespace_name("namespace", params["namespace"])
    seen = set()
    for where, account in accounts:
        name, namespace = account["name"], account["namespace"]
        if namespace is None:
            raise KubeError.invalid(option_at(where, "namespace"), "no namespace is given",
                                    "give namespace (the task's default, or this account's own)")
        if where:
            check_namespace_name(option_at(where, "namespace"), namespace)
        if not is_dns_subdomain(name):
            raise KubeError.invalid(where or "name", f"{name!r} is not a valid service account name",
                                    "use a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.')")
        if (name, namespace) in seen:
            raise KubeError.invalid(where or "name", f"service account {name!r} is listed twice"
                                    f" in namespace {namespace!r}", "list each account once")
        seen.add((name, namespace))
        check_labels(option_at(where, "labels"), account.get("labels"))
        for option in ("image_pull_secrets", "secrets"):
            for secret in account.get(option) or []:
                if not is_dns_subdomain(secret):
                    raise KubeError.invalid(
                        option_at(where, option),
                        f"{secret!r} is not a valid secret name",
                        "give the name of a secret in the same namespace (a lowercase RFC 1123 subdomain)",
                    )


def desired_account(namespace, account):
    """The ServiceAccount to apply, in the account's own namespace or else ``namespace``; an option
    left out (or emptied) is not part of it, so server-side apply removes what this task set there
    before."""
    metadata = {"name": account["name"], "namespace": account.get("namespace") or namespace}
    if account.get("labels"):
        metadata["labels"] = dict(account["labels"])
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}
    if account.get("image_pull_secrets"):
        body["imagePullSecrets"] = [{"name": name} for name in account["image_pull_secrets"]]
    if account.get("secrets"):
        body["secrets"] = [{"name": name} for name in account["secrets"]]
    if account.get("automount_token") is not None:
        body["automountServiceAccountToken"] = account["automount_token"]
    return body


# -- API work ----------------------------------------------------------------------------------

def ensure(params, check_mode):
    accounts = accounts_of(params)
    validate(params, accounts)
    service = connect_service(params, check_mode)
    desired = [desired_account(params["namespace"], account) for _where, account in accounts]
    live = service.read_all(desired)  # one request on a re-run, however many accounts and namespaces
    warnings = []
    if params["state"] == "absent":
        changes = service.delete_all(desired, live)
    else:
        warnings = service.require_namespaces(desired, live)
        changes = service.apply_all(desired, force_conflicts=params["force_conflicts"], live=live)
    return changes_result(changes, list_form=params["service_accounts"] is not None, warnings=warnings)


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
