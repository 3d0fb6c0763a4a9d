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
  - The Secret is written by server-side apply with the field manager C(tekton-cd).
  - The token never appears in the module's result, its diff or its messages; Secret values are
    shown as C(<hidden>) (C(<hidden, changed>) in a diff when they change).
version_added: "0.1.0"
author: tekton-cd maintainers
options:
  name:
    description:
      - Name of the Secret.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the Secret, normally the one where the pipeline runs.
    type: str
    required: true
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
  - module: k8s_service_account
  - module: k8s_rbac
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
  returned: always
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
token:
  description: What is known about the token in the Secret, never the token itself.
  returned: with O(state=present)
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
  description: The Secret before and after (with C(--diff)), values hidden.
  returned: always
  type: dict
"""

import base64  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_config import (  # noqa: E402
    EXPIRES_ANNOTATION,
    REQUEST_ANNOTATION,
    cluster_frame,
    obtain_token,
    pem_certificate,
    reissue_reason,
    token_kubeconfig_text,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_labels,
    is_dns_subdomain,
    is_rfc1123_label,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    changes_result,
    connect_service,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import named  # noqa: E402

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "required": True},
    "service_account": {"type": "str"},
    "service_account_namespace": {"type": "str"},
    "target_namespace": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "token_lifetime": {"type": "int", "default": 604800},
    "refresh_before": {"type": "int"},
    "audiences": {"type": "list", "elements": "str"},
    "server": {"type": "str"},
    "ca_cert_data": {"type": "str"},
    "cluster_name": {"type": "str", "default": "kubernetes"},
    "labels": {"type": "dict"},
    "force_conflicts": {"type": "bool", "default": False},
}
NAMES = [("name", is_dns_subdomain, "a lowercase DNS subdomain (e.g. deployer-kubeconfig)"),
         ("namespace", is_rfc1123_label, "a lowercase RFC 1123 label (e.g. health-ci)"),
         ("service_account", is_dns_subdomain, "a lowercase DNS subdomain (e.g. deployer)"),
         ("service_account_namespace", is_rfc1123_label, "a lowercase RFC 1123 label"),
         ("target_namespace", is_rfc1123_label, "a lowercase RFC 1123 label (e.g. health)")]
MIN_TOKEN_LIFETIME = 600  # the API server refuses shorter TokenRequests
SERVICE_ACCOUNT_ANNOTATION = "tekton-cd.io/service-account"


def utc_now():
    """The controller's clock (a seam for tests that need a token near its expiry)."""
    return datetime.datetime.now(datetime.UTC)


def validate(params):
    """Raise KubeError for the first input problem, before any API call."""
    for option, valid, shape in NAMES:
        if params.get(option) is not None and not valid(params[option]):
            raise KubeError.invalid(option, f"{params[option]!r} is not a valid name", f"use {shape}")
    check_labels("labels", params.get("labels"))
    if params["state"] == "absent":
        return
    lifetime, refresh = params["token_lifetime"], refresh_threshold(params)
    if lifetime < MIN_TOKEN_LIFETIME:
        raise KubeError.invalid("token_lifetime", f"{lifetime} seconds is shorter than the API server "
                                f"accepts", f"give at least {MIN_TOKEN_LIFETIME} seconds")
    if not 0 <= refresh < lifetime:
        raise KubeError.invalid("refresh_before", f"{refresh} is not between 0 and token_lifetime "
                                f"({lifetime}) - 1", "give fewer seconds than token_lifetime, or leave it "
                                "unset for a third of it")
    if params.get("audiences") is not None and not all(params["audiences"]):
        raise KubeError.invalid("audiences", "it holds an empty audience",
                                "list non-empty audience strings, or leave it unset")
    if params.get("server") is not None and not params["server"].startswith(("https://", "http://")):
        raise KubeError.invalid("server", f"{params['server']!r} is not a URL",
                                "give a URL such as https://127.0.0.1:6443")
    if params.get("ca_cert_data") is not None:
        pem_certificate(params["ca_cert_data"], "ca_cert_data")


def refresh_threshold(params):
    return params["token_lifetime"] // 3 if params.get("refresh_before") is None else params["refresh_before"]


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def desired_secret(params, frame, account_ref, token, expires, request_record):
    kubeconfig = token_kubeconfig_text(frame, account_ref.split("/")[1], token)
    data = {"kubeconfig": b64(kubeconfig), "token": b64(token), "namespace": b64(frame["namespace"]),
            **({"ca.crt": frame["ca"]} if frame["ca"] else {})}
    annotations = {SERVICE_ACCOUNT_ANNOTATION: account_ref, EXPIRES_ANNOTATION: expires or "",
                   REQUEST_ANNOTATION: request_record}
    metadata = {"name": params["name"], "namespace": params["namespace"], "annotations": annotations,
                **({"labels": dict(params["labels"])} if params.get("labels") is not None else {})}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata, "data": data}


def ensure(params, check_mode):
    validate(params)
    service = connect_service(params, check_mode)
    if params["state"] == "absent":
        return changes_result([service.delete("v1", "Secret", params["name"], params["namespace"])],
                              list_form=False)
    sa_namespace = params.get("service_account_namespace") or params["namespace"]
    account_ref = f"{sa_namespace}/{params['service_account']}"
    account = read_service_account(service, account_ref)
    if account is None:  # check mode only: the task that creates it may only have pretended to
        account_name = object_ref("ServiceAccount", params["service_account"], sa_namespace)
        missing = f"{account_name} does not exist yet"
        token = {"issued": True, "reason": missing, "expires": None, "service_account": account_ref}
        return {"changed": True, "result": {}, "diff": {"before": {}, "after": {}}, "token": token,
                "warnings": [f"{missing}; its token would be issued once it does."]}
    ca_pem = pem_certificate(params["ca_cert_data"], "ca_cert_data") if params.get("ca_cert_data") else None
    frame = cluster_frame(service.client, cluster_name=params["cluster_name"], server=params.get("server"),
                          ca_pem=ca_pem, namespace=params.get("target_namespace") or sa_namespace)
    warnings = [] if frame["ca"] or not frame["insecure"] else [
        "The connection does not verify the API server's certificate and no CA is known, so the kubeconfig "
        "skips verification too; set ca_cert_data to the cluster's CA."]
    request_record = json.dumps({"lifetime": params["token_lifetime"],
                                 "audiences": sorted(params.get("audiences") or [])}, separators=(",", ":"))
    secret = named("v1", "Secret", params["name"], params["namespace"])
    known = service.read_all([secret])
    live = known.of(secret)
    # Checked before a token is issued for a Secret that could not be stored.
    warnings += service.require_namespaces([secret], known, failure=lambda namespace: (
        f"Cannot create {object_ref('Secret', params['name'], namespace)}: the namespace does not exist; "
        "create it first (module k8s_namespace)."))
    now, threshold = utc_now(), refresh_threshold(params)
    reason = reissue_reason(live, account, request_record, frame, threshold, now)
    token, token_info = obtain_token(service, account_ref, live, reason, threshold=threshold, now=now,
                                     lifetime=params["token_lifetime"], audiences=params.get("audiences"))
    desired = desired_secret(params, frame, account_ref, token, token_info["expires"], request_record)
    if token_info["expires"] is None:  # check mode: keep the recorded expiry, invent none
        recorded = (live or {}).get("metadata", {}).get("annotations") or {}
        desired["metadata"]["annotations"][EXPIRES_ANNOTATION] = recorded.get(EXPIRES_ANNOTATION, "")
    change = service.apply(desired, force_conflicts=params["force_conflicts"], live=live, live_known=True)
    # A new token is a change even when check mode's dry run cannot show it.
    return {**changes_result([change], list_form=False), "changed": change.changed or reason is not None,
            "token": token_info, "warnings": warnings}


def read_service_account(service, account_ref):
    """The live service account; None in check mode when it is missing; KubeError otherwise."""
    namespace, name = account_ref.split("/")
    account = service.get("v1", "ServiceAccount", name, namespace)
    if account is not None or service.check_mode:
        return account
    missing = f"{object_ref('ServiceAccount', name, namespace)} does not exist"
    if service.get("v1", "Namespace", namespace) is None:
        missing = f'namespace "{namespace}" of {object_ref("ServiceAccount", name)} does not exist'
    raise KubeError(f"Cannot issue a token for service account {account_ref}: {missing}; create it first "
                    "(modules k8s_namespace, k8s_service_account).", status=404, reason="NotFound")


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure, required_if=[("state", "present", ["service_account"])])


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
