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

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_labels,
    is_dns_subdomain,
    is_rfc1123_label,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    connect_service,
)

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

MIN_TOKEN_LIFETIME = 600  # the API server refuses shorter TokenRequests
ANNOTATION_PREFIX = "tekton-cd.io/"
SERVICE_ACCOUNT_ANNOTATION = ANNOTATION_PREFIX + "service-account"
EXPIRES_ANNOTATION = ANNOTATION_PREFIX + "token-expires"
# What the token was asked for: a change of these re-issues it. Recorded rather than read from the
# token, because the API server may grant another lifetime and fill in its own audiences.
REQUEST_ANNOTATION = ANNOTATION_PREFIX + "token-request"
CHECK_MODE_TOKEN = "token-issued-when-not-in-check-mode"


def utc_now():
    """The controller's clock (a seam for tests that need a token near its expiry)."""
    return datetime.datetime.now(datetime.UTC)


# -- input ----------------------------------------------------------------------------------------


def validate(params):
    """Raise KubeError for the first input problem, before any API call."""
    checks = [("name", is_dns_subdomain, "a lowercase DNS subdomain (e.g. deployer-kubeconfig)"),
              ("namespace", is_rfc1123_label, "a lowercase RFC 1123 label (e.g. health-ci)"),
              ("service_account", is_dns_subdomain, "a lowercase DNS subdomain (e.g. deployer)"),
              ("service_account_namespace", is_rfc1123_label, "a lowercase RFC 1123 label"),
              ("target_namespace", is_rfc1123_label, "a lowercase RFC 1123 label (e.g. health)")]
    for option, valid, shape in checks:
        value = params.get(option)
        if value is not None and not valid(value):
            raise KubeError.invalid(option, f"{value!r} is not a valid name", f"use {shape}")
    check_labels("labels", params.get("labels"))
    if params["state"] == "absent":
        return
    if not params.get("service_account"):
        raise KubeError.invalid("service_account", "it is required with state: present",
                                "name the service account the token is for")
    lifetime = params["token_lifetime"]
    if lifetime < MIN_TOKEN_LIFETIME:
        raise KubeError.invalid("token_lifetime", f"{lifetime} seconds is shorter than the API server "
                                f"accepts", f"give at least {MIN_TOKEN_LIFETIME} seconds")
    refresh = refresh_threshold(params)
    if not 0 <= refresh < lifetime:
        raise KubeError.invalid("refresh_before", f"{refresh} is not between 0 and token_lifetime "
                                f"({lifetime}) - 1", "give fewer seconds than token_lifetime, or leave it "
                                "unset for a third of it")
    if params.get("audiences") is not None and not all(params["audiences"]):
        raise KubeError.invalid("audiences", "it holds an empty audience",
                                "list non-empty audience strings, or leave it unset")
    server = params.get("server")
    if server is not None and not server.startswith(("https://", "http://")):
        raise KubeError.invalid("server", f"{server!r} is not a URL", "give a URL such as https://127.0.0.1:6443")
    if params.get("ca_cert_data") is not None:
        ca_pem(params["ca_cert_data"])  # raises when it is neither PEM nor base64 PEM


def refresh_threshold(params):
    if params.get("refresh_before") is not None:
        return params["refresh_before"]
    return params["token_lifetime"] // 3


def ca_pem(text):
    """PEM bytes from PEM text or its base64 encoding (the kubeconfig's certificate-authority-data)."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN CERTIFICATE-----"):
        return (stripped + "\n").encode()
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except ValueError:
        decoded = b""
    if not decoded.lstrip().startswith(b"-----BEGIN CERTIFICATE-----"):
        raise KubeError.invalid("ca_cert_data", "it is neither a PEM certificate nor base64 of one",
                                "give the CA as PEM text (-----BEGIN CERTIFICATE-----...) or base64 of it")
    return decoded


# -- what the connection knows ----------------------------------------------------------------------


def connection_ca(client):
    """The CA bundle the connection trusts (PEM bytes), or None if it uses the system store."""
    credentials = client.credentials
    if credentials.ca_data:
        return credentials.ca_data.encode()
    if not credentials.ca_file:
        return None
    try:
        with open(credentials.ca_file, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise KubeError(f"Could not read the connection's CA bundle {credentials.ca_file}: {exc.strerror}; "
                        "set ca_cert_data to the cluster's CA.") from None


# -- the stored token ---------------------------------------------------------------------------------


def token_claims(token):
    """The claims of a JWT (not verified: only the API server can; we only read what it wrote)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except Exception:  # any malformed token just means "issue a new one"; never echo it
        return None
    return claims if isinstance(claims, dict) else None


def decoded(data, key):
    try:
        return base64.b64decode((data or {}).get(key) or "").decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def duration(seconds):
    seconds = max(0, int(seconds))
    parts = [(seconds // 86400, "day"), (seconds % 86400 // 3600, "hour"), (seconds % 3600 // 60, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return ", ".join(words[:2]) or f"{seconds} seconds"


def reissue_reason(live, account, request_record, kubeconfig_frame, params, now):
    """Why the stored token cannot be kept (a sentence), or None if it can."""
    if live is None:
        return "the Secret does not exist yet"
    data = live.get("data") or {}
    annotations = live["metadata"].get("annotations") or {}
    claims = token_claims(decoded(data, "token"))
    if claims is None or not isinstance(claims.get("exp"), int | float):
        return "the Secret holds no readable token"
    account_ref = f"{account['metadata']['namespace']}/{account['metadata']['name']}"
    bound_account = (claims.get("kubernetes.io") or {}).get("serviceaccount") or {}
    subject = "system:serviceaccount:" + account_ref.replace("/", ":")
    if claims.get("sub") != subject:
        return f"the stored token is not for service account {account_ref}"
    if bound_account.get("uid") and bound_account["uid"] != account["metadata"].get("uid"):
        return f"the stored token was issued to an earlier service account {account_ref} (it was re-created)"
    if annotations.get(REQUEST_ANNOTATION) != request_record:
        return "the token lifetime or audiences asked for changed"
    stored_server, stored_ca = server_and_ca(decoded(data, "kubeconfig"))
    if stored_server != kubeconfig_frame["server"]:
        return "the server URL changed"
    if stored_ca != kubeconfig_frame["ca"]:
        return "the CA changed"
    remaining = claims["exp"] - now.timestamp()
    threshold = refresh_threshold(params)
    if remaining < threshold:
        state = f"expires in {duration(remaining)}" if remaining > 0 else "has expired"
        return f"the stored token {state}, less than the {duration(threshold)} asked for by refresh_before"
    return None


def server_and_ca(kubeconfig_text):
    """(server, base64 CA or None) of the cluster in a kubeconfig we wrote; (None, None) if unreadable."""
    import yaml

    try:
        config = yaml.safe_load(kubeconfig_text)
        cluster = config["clusters"][0]["cluster"]
        return cluster.get("server"), cluster.get("certificate-authority-data")
    except Exception:  # written by someone else, or damaged: treat as different, never echo it
        return None, None


# -- the Secret -----------------------------------------------------------------------------------


def kubeconfig_text(frame, user, token):
    import yaml

    cluster = {"server": frame["server"]}
    if frame["ca"]:
        cluster["certificate-authority-data"] = frame["ca"]
    elif frame["insecure"]:
        cluster["insecure-skip-tls-verify"] = True
    context_name = f"{user}@{frame['cluster_name']}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": frame["cluster_name"], "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context_name, "context": {"cluster": frame["cluster_name"], "user": user,
                                                         "namespace": frame["namespace"]}}],
        "current-context": context_name,
    }
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def desired_secret(params, frame, account_ref, token, expires, request_record):
    user = account_ref.split("/")[1]
    data = {"kubeconfig": b64(kubeconfig_text(frame, user, token)), "token": b64(token),
            "namespace": b64(frame["namespace"])}
    if frame["ca"]:
        data["ca.crt"] = frame["ca"]
    metadata = {
        "name": params["name"],
        "namespace": params["namespace"],
        "annotations": {SERVICE_ACCOUNT_ANNOTATION: account_ref, EXPIRES_ANNOTATION: expires or "",
                        REQUEST_ANNOTATION: request_record},
    }
    if params.get("labels") is not None:
        metadata["labels"] = dict(params["labels"])
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata, "data": data}


def request_token(service, params, account_ref):
    namespace, name = account_ref.split("/")
    spec = {"expirationSeconds": params["token_lifetime"]}
    if params.get("audiences"):
        spec["audiences"] = list(params["audiences"])
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    answer = service.create(body, namespace=namespace, subresource_of=("v1", "ServiceAccount", name, "token"),
                            dry_run=False)
    status = answer.get("status") or {}
    if not status.get("token"):
        raise KubeError(f"The API server issued no token for {object_ref('ServiceAccount', name, namespace)} "
                        "(its TokenRequest answer has no status.token); check the API server's service "
                        "account token settings (--service-account-issuer and signing key).")
    return status["token"], status.get("expirationTimestamp")


# -- the handler ----------------------------------------------------------------------------------


def ensure(params, check_mode):
    validate(params)
    service = connect_service(params, check_mode)
    if params["state"] == "absent":
        change = service.delete("v1", "Secret", params["name"], params["namespace"])
        return {"changed": change.changed, "result": {}, "diff": change.diff()}
    return establish(service, params)


def establish(service, params):
    sa_namespace = params.get("service_account_namespace") or params["namespace"]
    account_ref = f"{sa_namespace}/{params['service_account']}"
    account = read_service_account(service, account_ref)
    if account is None:  # check mode only: the task that creates it may only have pretended to
        account_name = object_ref("ServiceAccount", params["service_account"], sa_namespace)
        missing = f"{account_name} does not exist yet"
        return would_create_later(f"{missing}; its token would be issued once it does.", account_ref, missing)
    frame = kubeconfig_frame(service, params, account_ref)
    warnings = []
    if not frame["ca"] and frame["insecure"]:
        warnings.append("The connection does not verify the API server's certificate and no CA is known, so "
                        "the kubeconfig skips verification too; set ca_cert_data to the cluster's CA.")
    request_record = json.dumps({"lifetime": params["token_lifetime"],
                                 "audiences": sorted(params.get("audiences") or [])}, separators=(",", ":"))
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import named

    secret = named("v1", "Secret", params["name"], params["namespace"])
    known = service.read_all([secret])
    live = known.of(secret)
    if live is None and not service.check_mode and service.missing_namespaces([secret], known):
        # Checked before a token is issued for a Secret that could not be stored.
        raise KubeError(f"Cannot create {object_ref('Secret', params['name'], params['namespace'])}: the "
                        "namespace does not exist; create it first (module k8s_namespace).",
                        status=404, reason="NotFound")
    reason = reissue_reason(live, account, request_record, frame, params, utc_now())
    token, token_info = obtain_token(service, params, account_ref, live, reason)
    desired = desired_secret(params, frame, account_ref, token, token_info["expires"], request_record)
    if token_info["expires"] is None:  # check mode: keep the recorded expiry, invent none
        recorded = (live or {}).get("metadata", {}).get("annotations") or {}
        desired["metadata"]["annotations"][EXPIRES_ANNOTATION] = recorded.get(EXPIRES_ANNOTATION, "")
    try:
        change = service.apply(desired, force_conflicts=params["force_conflicts"], live=live, live_known=True)
    except KubeError as exc:
        if service.check_mode and exc.status == 404:
            return would_create_later(f'Namespace "{params["namespace"]}" does not exist (yet); the Secret '
                                      "would be created once it does.", account_ref, token_info["reason"])
        raise
    # A new token is a change even when check mode's dry run cannot show it.
    changed = change.changed or reason is not None
    return {"changed": changed, "result": change.result, "diff": change.diff(), "token": token_info,
            "warnings": warnings}


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


def would_create_later(warning, account_ref, reason):
    token_info = {"issued": True, "reason": reason, "expires": None, "service_account": account_ref}
    return {"changed": True, "result": {}, "diff": {"before": {}, "after": {}}, "token": token_info,
            "warnings": [warning]}


def kubeconfig_frame(service, params, account_ref):
    """Everything of the kubeconfig but the token: server, CA (base64), cluster name, namespace."""
    ca = ca_pem(params["ca_cert_data"]) if params.get("ca_cert_data") else connection_ca(service.client)
    return {
        "server": (params.get("server") or service.client.server).rstrip("/"),
        "ca": b64(ca) if ca else None,
        "insecure": not service.client.credentials.verify,
        "cluster_name": params["cluster_name"],
        "namespace": params.get("target_namespace") or account_ref.split("/")[0],
    }


def obtain_token(service, params, account_ref, live, reason):
    """(token, facts about it): the stored one, a new one, or (check mode) a placeholder."""
    info = {"issued": reason is not None, "reason": reason, "service_account": account_ref}
    if reason is None:
        token = decoded(live["data"], "token")
        expiry = token_claims(token)["exp"]
        info["reason"] = (f"the stored token is valid for another {duration(expiry - utc_now().timestamp())} "
                          f"(more than {duration(refresh_threshold(params))})")
        # Keep the recorded expiry as written at issue time, so that a kept token rewrites nothing.
        recorded = (live["metadata"].get("annotations") or {}).get(EXPIRES_ANNOTATION)
        info["expires"] = recorded or datetime.datetime.fromtimestamp(expiry, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        return token, info
    if service.check_mode:
        info["expires"] = None
        return CHECK_MODE_TOKEN, info
    token, info["expires"] = request_token(service, params, account_ref)
    return token, info


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
