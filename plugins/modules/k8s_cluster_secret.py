#!/usr/bin/python
"""Ansible module k8s_cluster_secret: a Secret holding a kubeconfig for a service account, built
from a bound, expiring TokenRequest token and re-issued only when it is about to expire."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_cluster_secret
short_description: Keep a Secret with a ready kubeconfig for a service account, from a bound, expiring token
description:
  - Ensures a Secret that lets a pipeline step talk to the cluster as a service account. It holds
    the keys C(kubeconfig) (server URL, CA, token and default namespace in one file), C(token),
    C(ca.crt) (when a CA is known) and C(namespace).
  - The token comes from the service account's TokenRequest API (C(serviceaccounts/NAME/token)),
    a bound token with a lifetime (O(token_lifetime)) and audiences (O(audiences)), not a
    long-lived service-account token Secret.
  - A new token is requested only when the stored one has less than O(refresh_before) seconds
    left (read from the C(exp) claim of the stored token), was issued for another service account
    (or for an earlier service account of the same name), or when the server URL, the CA, the
    audiences or the lifetime asked for changed. Otherwise the stored token is kept, and a run that
    changes nothing sends no write to the API server.
  - Several Secrets (for several service accounts or tenants) are kept by one task with
    O(secrets). Their Secrets and service accounts are read together, on a re-run with one LIST per
    kind narrowed to the Secrets' labels (cluster-wide when they span several namespaces, one LIST
    per namespace where the credentials may not list across namespaces), so the requests do not
    grow with the number of Secrets; a Secret or account that LIST misses is read on its own. One
    TokenRequest is sent per Secret whose token must be issued or refreshed, none for the others.
  - The Secret is written by server-side apply with the field manager C(tekton-cd).
  - The token never appears in the module's result, its diff or its messages; Secret values are
    shown as C(<hidden>) (C(<hidden, changed>) in a diff when they change).
version_added: "0.1.0"
author: tekton-cd maintainers (@tekton-cd)
options:
  name:
    description:
      - Name of the Secret.
      - Exactly one of O(name) and O(secrets) is required.
    type: str
  namespace:
    description:
      - Namespace of the Secret, normally the one where the pipeline runs; with O(secrets), the
        namespace of every element that does not give its own.
      - Required, unless every element of O(secrets) gives its namespace.
    type: str
  service_account:
    description:
      - Name of the service account the token is issued for. Required with O(state=present).
    type: str
  service_account_namespace:
    description:
      - Namespace of the service account; O(namespace) by default.
    type: str
  target_namespace:
    description:
      - The default namespace of the kubeconfig's context, also stored under the Secret's
        C(namespace) key; the service account's namespace by default.
      - Set it to the namespace the consumer works in (for example where Helm deploys), so that
        tools that use the context's namespace need no C(--namespace).
    type: str
  state:
    description:
      - Whether the Secret should exist. O(state=absent) deletes it; an issued token stays valid
        until it expires (delete or re-create the service account to invalidate it earlier).
    type: str
    choices: [present, absent]
    default: present
  token_lifetime:
    description:
      - Lifetime in seconds asked for the token (C(spec.expirationSeconds) of the TokenRequest);
        at least 600. The API server may shorten it (C(--service-account-max-token-expiration)).
    type: int
    default: 604800
  refresh_before:
    description:
      - Re-issue the token when fewer than this many seconds of its lifetime remain.
      - One third of O(token_lifetime) by default. Must be smaller than O(token_lifetime).
    type: int
  audiences:
    description:
      - Audiences of the token. By default the API server's own audiences, which is what a token
        for talking to the API server needs.
    type: list
    elements: str
  server:
    description:
      - API server URL written into the kubeconfig. By default the URL of the connection this task
        uses; set it when the consumer reaches the API server at another address, for example the
        in-cluster address of the C(kubernetes) Service in namespace C(default), from pods.
    type: str
  ca_cert_data:
    description:
      - PEM text (or its base64 encoding) of the CA that signed the API server's certificate,
        written into the kubeconfig and under C(ca.crt).
      - By default the CA of the connection this task uses. When neither is known, the kubeconfig
        relies on the consumer's system trust store and C(ca.crt) is left out.
    type: str
  cluster_name:
    description:
      - Name of the cluster entry in the kubeconfig; its context is named C(SERVICE_ACCOUNT@CLUSTER_NAME).
    type: str
    default: kubernetes
  labels:
    description:
      - Labels of the Secret.
      - With O(secrets), the labels of every element that gives none. The service accounts are
        looked for with the same labels (as the accounts created by this collection's roles carry
        them), so that a re-run reads them with one LIST too.
    type: dict
  secrets:
    description:
      - Several Secrets in one task; each element takes the single form's options (O(name),
        O(namespace), O(service_account), ...).
      - O(namespace), O(token_lifetime), O(refresh_before), O(audiences), O(server),
        O(ca_cert_data) and O(labels) given at the task level are the default of every element;
        O(service_account), O(service_account_namespace) and O(target_namespace) cannot be.
        O(state), O(cluster_name) and O(force_conflicts) apply to all elements.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the Secret, as O(name).
        type: str
        required: true
      namespace:
        description: Namespace of the Secret, as O(namespace); the task's O(namespace) by default.
        type: str
      service_account:
        description: The service account, as O(service_account). Required with O(state=present).
        type: str
      service_account_namespace:
        description: Namespace of the service account, as O(service_account_namespace).
        type: str
      target_namespace:
        description: Default namespace of the kubeconfig, as O(target_namespace).
        type: str
      token_lifetime:
        description: Token lifetime in seconds, as O(token_lifetime); the task's by default.
        type: int
      refresh_before:
        description: Refresh threshold in seconds, as O(refresh_before); the task's by default.
        type: int
      audiences:
        description: Token audiences, as O(audiences); the task's by default.
        type: list
        elements: str
      server:
        description: API server URL for the kubeconfig, as O(server); the task's by default.
        type: str
      ca_cert_data:
        description: CA of the API server, as O(ca_cert_data); the task's by default.
        type: str
      labels:
        description: Labels of the Secret, as O(labels); the task's by default.
        type: dict
  force_conflicts:
    description:
      - Take over keys or labels of the Secret that another field manager set, instead of failing.
    type: bool
    default: false
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description:
      - Requests no token (a TokenRequest creates a credential) and writes nothing; reports whether
        the Secret would be created or its token re-issued, and why.
      - When the Secret would change, its new form is sent with C(dryRun=All) so the API server
        validates it; the token in it is a placeholder.
  diff_mode:
    support: full
    description: Shows the Secret before and after, with every value hidden.
notes:
  - The connection's credentials must allow C(create) on C(serviceaccounts/token) in the service
    account's namespace, and C(get), C(patch) on the Secret.
  - If the service account is deleted and created again, its old tokens stop working; the next
    run notices (the token names the old account's uid) and issues a new one.
seealso:
  - module: tekton_cd.pipeline.k8s_service_account
  - module: tekton_cd.pipeline.k8s_rbac
"""

EXAMPLES = r"""
- name: Give the deploy step a kubeconfig for the deployer service account
  tekton_cd.pipeline.k8s_cluster_secret:
    name: deployer-kubeconfig
    namespace: health-ci
    service_account: deployer
    target_namespace: health
    token_lifetime: 86400

- name: Same, for consumers inside the cluster (internal API server address)
  tekton_cd.pipeline.k8s_cluster_secret:
    name: deployer-kubeconfig
    namespace: health-ci
    service_account: deployer
    target_namespace: health
    server: "{{ in_cluster_api_server_url }}"

- name: Give each tenant's deploy step its kubeconfig, in one task
  tekton_cd.pipeline.k8s_cluster_secret:
    labels:
      app.kubernetes.io/part-of: tekton-cd
    token_lifetime: 86400
    secrets:
      - name: deployer-kubeconfig
        namespace: tenant-a-ci
        service_account: deployer
        target_namespace: tenant-a
      - name: deployer-kubeconfig
        namespace: tenant-b-ci
        service_account: deployer
        target_namespace: tenant-b

- name: Remove the credential secret
  tekton_cd.pipeline.k8s_cluster_secret:
    name: deployer-kubeconfig
    namespace: health-ci
    state: absent
"""

RETURN = r"""
result:
  description:
    - The Secret as the API server returned it, without C(metadata.managedFields), every value
      replaced by C(<hidden>). Empty after O(state=absent).
  returned: when O(name) is given
  type: dict
  sample:
    apiVersion: v1
    kind: Secret
    type: Opaque
    metadata:
      name: deployer-kubeconfig
      namespace: health-ci
      annotations:
        tekton-cd.io/service-account: health-ci/deployer
        tekton-cd.io/token-expires: "2026-12-04T05:00:00Z"
    data: {kubeconfig: <hidden>, token: <hidden>, ca.crt: <hidden>, namespace: <hidden>}
results:
  description: One entry per element of O(secrets), in order, each like RV(result).
  returned: when O(secrets) is given
  type: list
  elements: dict
tokens:
  description: One entry per element of O(secrets), in order, each like RV(token).
  returned: when O(secrets) is given, with O(state=present)
  type: list
  elements: dict
token:
  description: What is known about the token in the Secret, never the token itself.
  returned: when O(name) is given, with O(state=present)
  type: dict
  contains:
    issued:
      description: Whether this run requested a new token (in check mode, whether it would).
      type: bool
    reason:
      description: Why a new token was (or would be) requested, or why the stored one was kept.
      type: str
    expires:
      description: Expiry time of the token in the Secret (UTC, RFC 3339); null in check mode when
        a new token would be issued.
      type: str
    service_account:
      description: C(namespace/name) of the service account the token authenticates as.
      type: str
  sample:
    issued: false
    reason: the stored token is valid for another 5 days, 23 hours (more than 2 days, 8 hours)
    expires: "2026-12-04T05:00:00Z"
    service_account: health-ci/deployer
diff:
  description:
    - The Secret before and after (with C(--diff)), values hidden; a list with one entry per
      Secret when O(secrets) is given.
  returned: always
  type: raw
"""

import datetime  # noqa: E402

from ansible_collections.tekton_cd.pipeline.plugins.module_utils import kube_cluster_secret as secrets  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import requested  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    changes_result,
    connect_service,
    one_or_list,
)

desired_secret = secrets.desired_secret  # what benchmarks/manifests.py has the other tools apply
ENTRY_OPTIONS = {key: spec for key, spec in secrets.ENTRY_OPTIONS.items() if key != "namespace"}
ARGUMENT_SPEC = {
    "name": {"type": "str"},
    "namespace": {"type": "str"},
    **ENTRY_OPTIONS,
    "token_lifetime": {"type": "int", "default": secrets.DEFAULT_TOKEN_LIFETIME, "no_log": False},
    "secrets": {"type": "list", "elements": "dict", "no_log": False,  # Secret names, never their values
                "options": {"name": {"type": "str", "required": True}, "namespace": {"type": "str"},
                            **ENTRY_OPTIONS}},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "cluster_name": {"type": "str", "default": "kubernetes"},
    "force_conflicts": {"type": "bool", "default": False},
}


def utc_now():
    """The controller's clock (a seam for tests that need a token near its expiry)."""
    return datetime.datetime.now(datetime.UTC)


def entries_of(params):
    """The Secrets asked for, either form, as (option path for messages, options) pairs, checked."""
    entries = requested(params, "secrets", ENTRY_OPTIONS, one="secret", shared=secrets.SHARED_OPTIONS)
    for where, entry in entries:
        secrets.validate(where, entry, params["state"])
    secrets.check_unique(entries)
    return entries


def ensure(params, check_mode):
    entries = entries_of(params)
    list_form = params["secrets"] is not None
    service = connect_service(params, check_mode)
    if params["state"] == "absent":
        wanted = [secrets.secret_ref(entry) for _where, entry in entries]
        return changes_result(service.delete_all(wanted, service.read_all(wanted)), list_form=list_form)
    outcomes = secrets.ensure_present(service, entries, cluster_name=params["cluster_name"],
                                      force_conflicts=params["force_conflicts"], now=utc_now())
    warnings = list(dict.fromkeys(warning for outcome in outcomes for warning in outcome["warnings"]))
    shown = [outcome["change"] for outcome in outcomes]
    result = {"changed": any(outcome["changed"] for outcome in outcomes),
              **one_or_list(list_form, [change.result or {} if change else {} for change in shown]),
              **one_or_list(list_form, [outcome["token"] for outcome in outcomes], key="token")}
    diffs = [change.diff() if change else {"before": {}, "after": {}} for change in shown]
    return {**result, "diff": diffs if list_form else diffs[0], "warnings": warnings}


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
