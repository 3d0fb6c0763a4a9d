"""What k8s_cluster_secret does for each Secret it keeps, in either of its forms (one Secret, or a
``secrets`` list): check the entries, read every Secret and service account of the task with the
reads of KubeService.read_all (one label-selected LIST per kind on a re-run, however many tenants),
then, per entry, decide whether the stored token can be kept and ask a TokenRequest only where it
cannot, and apply the Secret.

    entries = requested(params, "secrets", ENTRY_OPTIONS, one="secret", shared=SHARED_OPTIONS)
    for where, entry in entries: validate(where, entry, state)
    outcomes = ensure_present(service, entries, cluster_name=..., force_conflicts=..., now=now)
    # one dict per entry: {"change": Change or None, "reason": ..., "token": {...}, "warnings": [...]}
"""

from __future__ import annotations

import base64
import json

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import option_at
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_config import (
    EXPIRES_ANNOTATION,
    REQUEST_ANNOTATION,
    cluster_frame,
    obtain_token,
    pem_certificate,
    reissue_reason,
    token_kubeconfig_text,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (
    check_labels,
    is_dns_subdomain,
    is_rfc1123_label,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import named

# The options of one Secret (besides name): the single form takes them at the task level, each
# element of ``secrets`` its own. No defaults here: a task-level value is each element's default.
ENTRY_OPTIONS = {
    "namespace": {"type": "str"},
    "service_account": {"type": "str"},
    "service_account_namespace": {"type": "str"},
    "target_namespace": {"type": "str"},
    "token_lifetime": {"type": "int", "no_log": False},  # a duration, not a secret
    "refresh_before": {"type": "int"},
    "audiences": {"type": "list", "elements": "str"},
    "server": {"type": "str"},
    "ca_cert_data": {"type": "str"},
    "labels": {"type": "dict"},
}
# Options a task may give once for all elements of ``secrets`` (an element's own value wins).
SHARED_OPTIONS = ("namespace", "token_lifetime", "refresh_before", "audiences", "server", "ca_cert_data",
                  "labels")
DEFAULT_TOKEN_LIFETIME = 604800
NAMES = [("name", is_dns_subdomain, "a lowercase DNS subdomain (e.g. deployer-kubeconfig)"),
         ("namespace", is_rfc1123_label, "a lowercase RFC 1123 label (e.g. health-ci)"),
         ("service_account", is_dns_subdomain, "a lowercase DNS subdomain (e.g. deployer)"),
         ("service_account_namespace", is_rfc1123_label, "a lowercase RFC 1123 label"),
         ("target_namespace", is_rfc1123_label, "a lowercase RFC 1123 label (e.g. health)")]
MIN_TOKEN_LIFETIME = 600  # the API server refuses shorter TokenRequests
SERVICE_ACCOUNT_ANNOTATION = "tekton-cd.io/service-account"


def validate(where, entry, state):
    """Raise KubeError for the first input problem of one Secret entry, before any API call."""
    for option, valid, shape in NAMES:
        if entry.get(option) is not None and not valid(entry[option]):
            raise KubeError.invalid(option_at(where, option), f"{entry[option]!r} is not a valid name",
                                    f"use {shape}")
    if entry.get("namespace") is None:
        raise KubeError.invalid(option_at(where, "namespace"), "no namespace is given",
                                "give namespace (the task's default, or this secret's own)")
    check_labels(option_at(where, "labels"), entry.get("labels"))
    if state == "absent":
        return
    if entry.get("service_account") is None:
        raise KubeError.invalid(option_at(where, "service_account"), "no service account is given",
                                "name the service account the token is issued for")
    lifetime, refresh = token_lifetime(entry), refresh_threshold(entry)
    if lifetime < MIN_TOKEN_LIFETIME:
        raise KubeError.invalid(option_at(where, "token_lifetime"), f"{lifetime} seconds is shorter than "
                                "the API server accepts", f"give at least {MIN_TOKEN_LIFETIME} seconds")
    if not 0 <= refresh < lifetime:
        raise KubeError.invalid(option_at(where, "refresh_before"), f"{refresh} is not between 0 and "
                                f"token_lifetime ({lifetime}) - 1", "give fewer seconds than token_lifetime, "
                                "or leave it unset for a third of it")
    if entry.get("audiences") is not None and not all(entry["audiences"]):
        raise KubeError.invalid(option_at(where, "audiences"), "it holds an empty audience",
                                "list non-empty audience strings, or leave it unset")
    if entry.get("server") is not None and not entry["server"].startswith(("https://", "http://")):
        raise KubeError.invalid(option_at(where, "server"), f"{entry['server']!r} is not a URL",
                                "give a URL such as https://127.0.0.1:6443")
    if entry.get("ca_cert_data") is not None:
        pem_certificate(entry["ca_cert_data"], option_at(where, "ca_cert_data"))


def check_unique(entries):
    """KubeError for a Secret listed twice (two entries would fight over one object)."""
    seen = set()
    for where, entry in entries:
        key = (entry["name"], entry["namespace"])
        if key in seen:
            raise KubeError.invalid(option_at(where, "name"), f"Secret {key[0]!r} is listed twice in "
                                    f"namespace {key[1]!r}", "list each Secret once")
        seen.add(key)


def token_lifetime(entry):
    lifetime = entry.get("token_lifetime")
    return DEFAULT_TOKEN_LIFETIME if lifetime is None else lifetime


def refresh_threshold(entry):
    refresh = entry.get("refresh_before")
    return token_lifetime(entry) // 3 if refresh is None else refresh


def secret_ref(entry):
    return named("v1", "Secret", entry["name"], entry["namespace"], labels=entry.get("labels"))


def account_ref_of(entry):
    """``namespace/name`` of the service account an entry's token is for."""
    return f"{entry.get('service_account_namespace') or entry['namespace']}/{entry['service_account']}"


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def desired_secret(entry, frame, account_ref, token, expires, request_record):
    kubeconfig = token_kubeconfig_text(frame, account_ref.split("/")[1], token)
    data = {"kubeconfig": b64(kubeconfig), "token": b64(token), "namespace": b64(frame["namespace"]),
            **({"ca.crt": frame["ca"]} if frame["ca"] else {})}
    annotations = {SERVICE_ACCOUNT_ANNOTATION: account_ref, EXPIRES_ANNOTATION: expires or "",
                   REQUEST_ANNOTATION: request_record}
    metadata = {"name": entry["name"], "namespace": entry["namespace"], "annotations": annotations,
                **({"labels": dict(entry["labels"])} if entry.get("labels") is not None else {})}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata, "data": data}


def read_live(service, entries):
    """The live Secrets and service accounts of every entry, in the reads of read_all. A service
    account is looked for with the labels of its Secret (the accounts tekton-cd's roles create carry
    the same ones); one without them costs a GET of its own, never a wrong answer."""
    accounts = []
    for _where, entry in entries:
        namespace, name = account_ref_of(entry).split("/")
        accounts.append(named("v1", "ServiceAccount", name, namespace, labels=entry.get("labels")))
    return service.read_all([*(secret_ref(entry) for _where, entry in entries), *accounts])


def missing_account(service, account_ref, live):
    """The service account of ``account_ref`` when ``live`` holds it; None in check mode when it is
    missing; KubeError in a real run."""
    namespace, name = account_ref.split("/")
    account = live.of(named("v1", "ServiceAccount", name, namespace))
    if account is not None or service.check_mode:
        return account
    missing = f"{object_ref('ServiceAccount', name, namespace)} does not exist"
    if service.get("v1", "Namespace", namespace) is None:
        missing = f'namespace "{namespace}" of {object_ref("ServiceAccount", name)} does not exist'
    raise KubeError(f"Cannot issue a token for service account {account_ref}: {missing}; create it first "
                    "(modules k8s_namespace, k8s_service_account).", status=404, reason="NotFound")


def ensure_present(service, entries, *, cluster_name, force_conflicts, now):
    """One outcome per entry, in order: the Secret applied (a token requested only where the stored
    one cannot be kept), or, in check mode for a service account that does not exist yet, what
    would happen. Every missing service account and Secret namespace fails a real run before any
    token is issued."""
    live = read_live(service, entries)
    accounts = [missing_account(service, account_ref_of(entry), live) for _where, entry in entries]
    present = [entry for (_where, entry), account in zip(entries, accounts, strict=True) if account]
    warnings = service.require_namespaces([secret_ref(entry) for entry in present], live, failure=lambda ns: (
        f"Cannot create {object_ref('Secret', next(e['name'] for e in present if e['namespace'] == ns), ns)}"
        ": the namespace does not exist; create it first (module k8s_namespace)."))

    def ensure(on, pair):
        (_where, entry), account = pair
        if account is None:
            return _awaiting_account(entry)
        return _ensure_one(on, entry, account, live.of(secret_ref(entry)), cluster_name=cluster_name,
                           force_conflicts=force_conflicts, now=now)

    outcomes = service.map_concurrently(ensure, zip(entries, accounts, strict=True))
    if warnings and outcomes:
        outcomes[0]["warnings"] = warnings + outcomes[0]["warnings"]
    return outcomes


def _awaiting_account(entry):
    account_ref = account_ref_of(entry)
    namespace, name = account_ref.split("/")
    missing = f"{object_ref('ServiceAccount', name, namespace)} does not exist yet"
    return {"change": None, "changed": True,
            "token": {"issued": True, "reason": missing, "expires": None, "service_account": account_ref},
            "warnings": [f"{missing}; its token would be issued once it does."]}


def _ensure_one(service, entry, account, live, *, cluster_name, force_conflicts, now):
    account_ref = account_ref_of(entry)
    ca_pem = pem_certificate(entry["ca_cert_data"], "ca_cert_data") if entry.get("ca_cert_data") else None
    account_namespace = account_ref.split("/", maxsplit=1)[0]
    frame = cluster_frame(service.client, cluster_name=cluster_name, server=entry.get("server"),
                          ca_pem=ca_pem, namespace=entry.get("target_namespace") or account_namespace)
    warnings = [] if frame["ca"] or not frame["insecure"] else [
        "The connection does not verify the API server's certificate and no CA is known, so the kubeconfig "
        "skips verification too; set ca_cert_data to the cluster's CA."]
    lifetime = token_lifetime(entry)
    request_record = json.dumps({"lifetime": lifetime, "audiences": sorted(entry.get("audiences") or [])},
                                separators=(",", ":"))
    threshold = refresh_threshold(entry)
    reason = reissue_reason(live, account, request_record, frame, threshold, now)
    token, token_info = obtain_token(service, account_ref, live, reason, threshold=threshold, now=now,
                                     lifetime=lifetime, audiences=entry.get("audiences"))
    desired = desired_secret(entry, frame, account_ref, token, token_info["expires"], request_record)
    if token_info["expires"] is None:  # check mode: keep the recorded expiry, invent none
        recorded = (live or {}).get("metadata", {}).get("annotations") or {}
        desired["metadata"]["annotations"][EXPIRES_ANNOTATION] = recorded.get(EXPIRES_ANNOTATION, "")
    change = service.apply(desired, force_conflicts=force_conflicts, live=live, live_known=True)
    # A new token is a change even when check mode's dry run cannot show it.
    return {"change": change, "changed": change.changed or reason is not None, "token": token_info,
            "warnings": warnings}
