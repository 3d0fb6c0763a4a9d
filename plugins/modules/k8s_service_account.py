#!/usr/bin/python
"""Ansible module k8s_service_account: service accounts with their image-pull and mountable secrets."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_service_account
short_description: Ensure Kubernetes service accounts, with their image-pull and mountable secrets
description:
  - Creates, updates or deletes one service account (O(name)) or several in one namespace
    (O(service_accounts)), by server-side apply with the field manager C(tekton-cd).
  - The live state is read with one request per run (a GET for one account, a LIST for several),
    and a run that would change nothing sends no write to the API server.
  - Input is checked before anything is sent. A missing namespace is reported before any write (in
    check mode it is only a warning, since an earlier task of the same run may create it).
  - The secrets named in O(image_pull_secrets) and O(secrets) are referenced, not created; they may
    be created before or after the service account.
version_added: "0.1.0"
author: tekton-cd maintainers
options:
  name:
    description:
      - Name of the service account, a lowercase RFC 1123 subdomain.
      - Exactly one of O(name) and O(service_accounts) is required.
    type: str
  namespace:
    description:
      - Namespace of the service account(s).
    type: str
    required: true
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
      - Several service accounts of O(namespace) in one task; each element takes the single-account
        options. Cannot be combined with O(name), O(labels), O(image_pull_secrets), O(secrets) or
        O(automount_token).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the service account, as O(name).
        type: str
        required: true
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
  - kube_connection
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
  k8s_service_account:
    name: deployer
    namespace: health-ci
    labels:
      app.kubernetes.io/part-of: tekton-cd
    image_pull_secrets: [icr-pull]
    automount_token: false

- name: Ensure every account of the pipeline in one request round
  k8s_service_account:
    namespace: health-ci
    service_accounts:
      - name: builder
        secrets: [git-credentials, icr-push]
      - name: deployer
        image_pull_secrets: [icr-pull]
      - name: namespace-admin

- name: Remove the accounts
  k8s_service_account:
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

import re  # noqa: E402

from ansible.module_utils.kube_errors import KubeError, object_ref  # noqa: E402
from ansible.module_utils.kube_runner import connect_service, run_module  # noqa: E402

ACCOUNT_OPTIONS = {
    "labels": {"type": "dict"},
    "image_pull_secrets": {"type": "list", "elements": "str"},
    "secrets": {"type": "list", "elements": "str"},
    "automount_token": {"type": "bool"},
}

ARGUMENT_SPEC = {
    "name": {"type": "str"},
    "namespace": {"type": "str", "required": True},
    **ACCOUNT_OPTIONS,
    "service_accounts": {
        "type": "list", "elements": "dict",
        "options": {"name": {"type": "str", "required": True}, **ACCOUNT_OPTIONS},
    },
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "force_conflicts": {"type": "bool", "default": False},
}

RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


# -- input -------------------------------------------------------------------------------------

def accounts_of(params):
    """The requested accounts as a list of dicts with the single-account options; KubeError if the
    single and the list form are mixed or neither is given."""
    if params.get("service_accounts") is not None:
        mixed = [option for option in ("name", *ACCOUNT_OPTIONS) if params.get(option) is not None]
        if mixed:
            raise KubeError.invalid(
                mixed[0], "it cannot be combined with service_accounts",
                f"move {mixed[0]} into the elements of service_accounts, or drop service_accounts",
            )
        return [dict(account) for account in params["service_accounts"]]
    if params.get("name") is None:
        raise KubeError.invalid("name", "neither name nor service_accounts is given",
                                "give the name of one account, or a service_accounts list")
    return [{"name": params["name"], **{option: params.get(option) for option in ACCOUNT_OPTIONS}}]


def validate(params, accounts):
    """Every input problem, found before any API call; raises KubeError with the first."""
    namespace = params["namespace"]
    if not (len(namespace) <= 63 and RFC1123_LABEL.match(namespace)):
        raise KubeError.invalid("namespace", f"{namespace!r} is not a valid namespace name",
                                "use a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 characters)")
    seen = set()
    for index, account in enumerate(accounts):
        where = "name" if params.get("service_accounts") is None else f"service_accounts[{index}]"
        name = account["name"]
        if not _is_subdomain(name):
            raise KubeError.invalid(where, f"{name!r} is not a valid service account name",
                                    "use a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.')")
        if name in seen:
            raise KubeError.invalid(where, f"service account {name!r} is listed twice",
                                    "list each account once")
        seen.add(name)
        _validate_labels(where, account.get("labels"))
        for option in ("image_pull_secrets", "secrets"):
            for secret in account.get(option) or []:
                if not _is_subdomain(secret):
                    raise KubeError.invalid(
                        option if where == "name" else f"{where}.{option}",
                        f"{secret!r} is not a valid secret name",
                        "give the name of a secret in the same namespace (a lowercase RFC 1123 subdomain)",
                    )


def _is_subdomain(name):
    return isinstance(name, str) and 0 < len(name) <= 253 and bool(DNS_SUBDOMAIN.match(name))


def _validate_labels(where, labels):
    option = "labels" if where == "name" else f"{where}.labels"
    for key, value in (labels or {}).items():
        prefix, slash, short = key.rpartition("/")
        valid_name = 0 < len(short) <= 63 and QUALIFIED_NAME.match(short)
        if (slash and not _is_subdomain(prefix)) or not valid_name:
            raise KubeError.invalid(option, f"key {key!r} is not a valid label key",
                                    "use [prefix/]name with a DNS subdomain prefix and a name of at most 63 "
                                    "letters, digits, '-', '_' and '.'")
        if not isinstance(value, str):
            raise KubeError.invalid(option, f"the value of {key!r} is {type(value).__name__} {value!r}, "
                                    "not a string", f"quote it in YAML, e.g. {key}: \"{value}\"")
        if not (len(value) <= 63 and LABEL_VALUE.match(value)):
            raise KubeError.invalid(option, f"the value {value!r} of {key!r} is not a valid label value",
                                    "use at most 63 letters, digits, '-', '_' and '.', starting and ending "
                                    "with a letter or digit")


def desired_account(namespace, account):
    """The ServiceAccount to apply; an option left out (or emptied) is not part of it, so server-side
    apply removes what this task set there before."""
    metadata = {"name": account["name"], "namespace": namespace}
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

def read_accounts(service, namespace, names):
    """Live accounts by name, in one request: a GET for one name, a LIST for several."""
    if len(names) == 1:
        live = service.get("v1", "ServiceAccount", names[0], namespace)
        return {names[0]: live} if live is not None else {}
    return {item["metadata"]["name"]: item for item in service.list("v1", "ServiceAccount", namespace)}


def ensure(params, check_mode):
    accounts = accounts_of(params)
    validate(params, accounts)
    service = connect_service(params, check_mode)
    namespace = params["namespace"]
    live = read_accounts(service, namespace, [account["name"] for account in accounts])
    if params["state"] == "absent":
        changes = [_delete(service, namespace, account["name"], live) for account in accounts]
        warnings = []
    else:
        changes, warnings = _apply(service, params, accounts, live)
    result = {"changed": any(change.changed for change in changes), "warnings": warnings}
    if params.get("service_accounts") is None:
        result.update(result=changes[0].result or {}, diff=changes[0].diff())
    else:
        result.update(results=[change.result or {} for change in changes],
                      diff=[change.diff() for change in changes])
    return result


def _apply(service, params, accounts, live):
    from ansible.module_utils.kube_service import Change

    namespace = params["namespace"]
    desired = [desired_account(namespace, account) for account in accounts]
    # With none of ours there yet, the namespace itself may be missing (a LIST does not say).
    if not live and service.get("v1", "Namespace", namespace) is None:
        if not service.check_mode:
            raise KubeError(
                f"Cannot create {object_ref('ServiceAccount', accounts[0]['name'], namespace)}: the "
                f'namespace "{namespace}" does not exist; create it first (module k8s_namespace).'
            )
        warning = (f'Namespace "{namespace}" does not exist (yet): the service accounts are shown as '
                   "they would be sent; a real run needs the namespace created first (k8s_namespace).")
        return [Change(True, None, body) for body in desired], [warning]
    force = params["force_conflicts"]
    changes = []
    for body in desired:
        current = live.get(body["metadata"]["name"])
        if owns_nothing_and_wants_nothing(body, current, service.field_manager):
            changes.append(Change(False, current, current))
        else:
            changes.append(service.apply(body, force_conflicts=force, live=current, live_known=True))
    return changes, []


def owns_nothing_and_wants_nothing(body, live, field_manager):
    """An account with nothing but its name to apply is already as wanted when it exists and we own
    none of its fields. The API server keeps no managedFields entry for an apply that sets no field,
    so the core's no-op test (which looks for our entry) would send that apply on every run."""
    if live is None or set(body) != {"apiVersion", "kind", "metadata"}:
        return False
    if set(body["metadata"]) != {"name", "namespace"}:
        return False
    entries = (live.get("metadata") or {}).get("managedFields") or []
    return not any(entry.get("manager") == field_manager and entry.get("operation") == "Apply"
                   and entry.get("fieldsV1") for entry in entries)


def _delete(service, namespace, name, live):
    from ansible.module_utils.kube_service import Change

    if name not in live:
        return Change(False, None, None)
    return service.delete("v1", "ServiceAccount", name, namespace)


def main():
    run_module(ARGUMENT_SPEC, ensure)


if __name__ == "__main__":
    main()
