"""Kubeconfigs and bearer tokens: the one place that builds a kubeconfig, picks its current
context, reads a token's claims and says which of its values are secret.

    config = build_kubeconfig("dev", "https://127.0.0.1:6443", user="deployer", token=token,
                              namespace="health", ca_data=ca_base64)
    context = select_context(config)            # KubeconfigContext: name, context, cluster, user
    jwt_claims(token)                           # claims of a JWT, unverified ({} for an opaque token)
    token_expiry(token)                         # its exp (epoch seconds) or None
    hide_tokens(config)                         # a copy with the token values shown as HIDDEN
    kubeconfig_secrets(config)                  # the secret strings in it, for output masking

Who uses it: kube_client (a kubeconfig option becomes a connection), ibmcloud_clusters (the
Kubernetes Service's kubeconfig becomes server, CA and token), ibmcloud_cluster_config (the file
it writes), k8s_cluster_secret (the kubeconfig it stores in a Secret), kube_runner (masking).
Token signatures are never checked here: only the API server or IAM can; we only read what they
wrote (which account, which identity, when it expires).
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import HIDDEN

SECRET_KEY_WORDS = ("token", "password", "secret", "key-data", "client-key", "credential")


def build_kubeconfig(cluster_name, server, *, user, token, namespace, ca_data=None, insecure=False,
                     context_name=None):
    """A kubeconfig dict as kubectl writes it: one cluster, one token user, one context (named
    ``context_name``, by default the cluster's name) that is current. ``ca_data`` is base64 PEM;
    without it, ``insecure`` writes insecure-skip-tls-verify."""
    cluster = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    elif insecure:
        cluster["insecure-skip-tls-verify"] = True
    context_name = context_name or cluster_name
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context_name,
                      "context": {"cluster": cluster_name, "user": user, "namespace": namespace}}],
        "current-context": context_name,
    }


class KubeconfigProblem(ValueError):
    """What is wrong with a kubeconfig; ``what`` is "context", "no-current-context" or "cluster"."""

    def __init__(self, what, message, choices=(), cluster=None):
        super().__init__(message)
        self.what = what
        self.choices = choices
        self.cluster = cluster


@dataclass(frozen=True)
class KubeconfigContext:
    """The entries a context of a kubeconfig names (empty dicts for what it leaves out)."""

    name: str
    context: dict
    cluster: dict
    user: dict

    @property
    def server(self):
        return self.cluster.get("server")

    @property
    def token(self):
        """The user's bearer token: ``token``, or an OIDC provider's id token."""
        provider = (self.user.get("auth-provider") or {}).get("config") or {}
        return self.user.get("token") or provider.get("id-token")


def select_context(config, context_name=None):
    """KubeconfigContext for ``context_name`` (default: current-context) of a kubeconfig dict;
    KubeconfigProblem when there is no such context or its cluster has no server."""
    named = {key: {e.get("name"): e for e in config.get(key) or [] if isinstance(e, dict)}
             for key in ("contexts", "clusters", "users")}
    wanted = context_name or config.get("current-context")
    choices = sorted(str(n) for n in named["contexts"] if n)
    if not wanted:
        raise KubeconfigProblem("no-current-context", "it has no current-context", choices)
    if wanted not in named["contexts"]:
        raise KubeconfigProblem("context", f"it has no context named {wanted!r}", choices)
    context = named["contexts"][wanted].get("context") or {}
    cluster = (named["clusters"].get(context.get("cluster")) or {}).get("cluster")
    if not isinstance(cluster, dict) or not cluster.get("server"):
        raise KubeconfigProblem("cluster", f"the cluster {context.get('cluster')!r} named by context "
                                f"{wanted!r} is missing or has no server",
                                cluster=context.get("cluster"))
    user = (named["users"].get(context.get("user")) or {}).get("user") or {}
    return KubeconfigContext(wanted, context, cluster, user if isinstance(user, dict) else {})


def current_or_none(config):
    """select_context for a kubeconfig we wrote or were given; None when it is not one."""
    try:
        return select_context(config) if isinstance(config, dict) else None
    except (KubeconfigProblem, AttributeError, TypeError):
        return None


def jwt_claims(token):
    """The claims of a JWT, unverified; {} when the token is not a JWT (opaque, damaged)."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_expiry(token):
    """Expiry (epoch seconds) of a JWT bearer token, or None for opaque tokens."""
    exp = jwt_claims(token).get("exp")
    return int(exp) if isinstance(exp, int | float) else None


def hide_tokens(config):
    """A copy of a kubeconfig dict with every user's token shown as HIDDEN (for diffs, and to
    compare two kubeconfigs apart from their tokens)."""
    if not isinstance(config, dict):
        return config
    hidden = dict(config)
    hidden["users"] = [
        {**user, "user": {key: (HIDDEN if key == "token" else value)
                          for key, value in (user.get("user") or {}).items()}}
        for user in config.get("users") or [] if isinstance(user, dict)
    ]
    return hidden


def kubeconfig_secrets(value, key=""):
    """The secret strings of a kubeconfig dict: tokens, passwords, key data, exec env values."""
    if isinstance(value, dict):
        if key == "env" or set(value) == {"name", "value"}:
            return {value["value"]} if isinstance(value.get("value"), str) and value["value"] else set()
        found = set()
        for child_key, child in value.items():
            found |= kubeconfig_secrets(child, str(child_key).lower())
        return found
    if isinstance(value, list):
        return set().union(*(kubeconfig_secrets(item, key) for item in value)) if value else set()
    if isinstance(value, str) and value and any(word in key for word in SECRET_KEY_WORDS):
        return {value}
    return set()


def pem_certificate(text, option):
    """PEM bytes from PEM text or its base64 encoding (a kubeconfig's certificate-authority-data);
    KubeError.invalid naming ``option`` when it is neither."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN CERTIFICATE-----"):
        return (stripped + "\n").encode()
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except ValueError:
        decoded = b""
    if not decoded.lstrip().startswith(b"-----BEGIN CERTIFICATE-----"):
        from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError

        raise KubeError.invalid(option, "it is neither a PEM certificate nor base64 of one",
                                "give the CA as PEM text (-----BEGIN CERTIFICATE-----...) or base64 of it")
    return decoded


def duration(seconds):
    """'2 days, 3 hours': how messages say how long a token is still valid."""
    seconds = max(0, int(seconds))
    parts = [(seconds // 86400, "day"), (seconds % 86400 // 3600, "hour"), (seconds % 3600 // 60, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return ", ".join(words[:2]) or f"{seconds} seconds"


# -- a kubeconfig for a service account's bound token, on the cluster of a connection ------------

def cluster_frame(client, *, cluster_name, namespace, server=None, ca_pem=None):
    """Everything of a kubeconfig for ``client``'s cluster but the user: server (``server``, else
    the connection's), CA as base64 (``ca_pem``, else the CA the connection trusts), whether it
    skips verification (no CA and the connection does not verify), cluster name, namespace."""
    ca = ca_pem or client.ca_bundle()
    return {"server": (server or client.server).rstrip("/"),
            "ca": base64.b64encode(ca).decode() if ca else None,
            "insecure": not client.credentials.verify, "cluster_name": cluster_name, "namespace": namespace}


def token_kubeconfig_text(frame, user, token):
    """The kubeconfig (YAML text) for ``token`` of ``user`` on the cluster ``frame`` describes."""
    import yaml

    config = build_kubeconfig(frame["cluster_name"], frame["server"], user=user, token=token,
                              namespace=frame["namespace"], ca_data=frame["ca"], insecure=frame["insecure"],
                              context_name=f"{user}@{frame['cluster_name']}")
    # libyaml's dumper when PyYAML has it: the same text, ten times faster (a Secret per tenant)
    return yaml.dump(config, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                     default_flow_style=False)


def frame_change(kubeconfig_text, frame):
    """Why a kubeconfig written by token_kubeconfig_text is not for ``frame`` any more (a sentence),
    or None; an unreadable one counts as another server (and is never echoed)."""
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        stored = current_or_none(yaml.load(kubeconfig_text, Loader=loader))
    except yaml.YAMLError:
        stored = None
    if stored is None or stored.server != frame["server"]:
        return "the server URL changed"
    if stored.cluster.get("certificate-authority-data") != frame["ca"]:
        return "the CA changed"
    return None


def bound_token_problem(claims, namespace, name, uid):
    """Why the claims of a stored token are not those of service account namespace/name (with
    ``uid``) as the API server issues them, or None."""
    account_ref = f"{namespace}/{name}"
    if not isinstance(claims.get("exp"), int | float):
        return "the Secret holds no readable token"
    bound_uid = ((claims.get("kubernetes.io") or {}).get("serviceaccount") or {}).get("uid")
    if claims.get("sub") != f"system:serviceaccount:{namespace}:{name}":
        return f"the stored token is not for service account {account_ref}"
    if bound_uid and bound_uid != uid:
        return f"the stored token was issued to an earlier service account {account_ref} (it was re-created)"
    return None


# -- a bound token stored in a Secret: keep it, or ask for a new one ------------------------------

EXPIRES_ANNOTATION = "tekton-cd.io/token-expires"
# What the token was asked for: a change of these re-issues it. Recorded rather than read from the
# token, because the API server may grant another lifetime and fill in its own audiences.
REQUEST_ANNOTATION = "tekton-cd.io/token-request"
CHECK_MODE_TOKEN = "token-issued-when-not-in-check-mode"


def decoded(data, key):
    """The text of a Secret's ``data`` entry ("" when missing or not text)."""
    try:
        return base64.b64decode((data or {}).get(key) or "").decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def reissue_reason(live, account, request_record, frame, threshold, now):
    """Why the stored token cannot be kept (a sentence), or None if it can."""
    if live is None:
        return "the Secret does not exist yet"
    data, metadata = live.get("data") or {}, account["metadata"]
    claims = jwt_claims(decoded(data, "token"))
    problem = bound_token_problem(claims, metadata["namespace"], metadata["name"], metadata.get("uid"))
    recorded = (live["metadata"].get("annotations") or {}).get(REQUEST_ANNOTATION)
    if problem is None and recorded != request_record:
        problem = "the token lifetime or audiences asked for changed"
    problem = problem or frame_change(decoded(data, "kubeconfig"), frame)
    if problem:
        return problem
    remaining = claims["exp"] - now.timestamp()
    if remaining < threshold:
        state = f"expires in {duration(remaining)}" if remaining > 0 else "has expired"
        return f"the stored token {state}, less than the {duration(threshold)} asked for by refresh_before"
    return None


def obtain_token(service, account_ref, live, reason, *, threshold, now, lifetime, audiences):
    """(token, facts about it): the stored one, a new one, or (check mode) a placeholder."""
    info = {"issued": reason is not None, "reason": reason, "service_account": account_ref, "expires": None}
    if reason is None:
        token = decoded(live["data"], "token")
        expiry = jwt_claims(token)["exp"]
        info["reason"] = (f"the stored token is valid for another {duration(expiry - now.timestamp())} "
                          f"(more than {duration(threshold)})")
        # Keep the recorded expiry as written at issue time, so that a kept token rewrites nothing.
        recorded = (live["metadata"].get("annotations") or {}).get(EXPIRES_ANNOTATION)
        info["expires"] = recorded or datetime.datetime.fromtimestamp(expiry, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        return token, info
    if service.check_mode:
        return CHECK_MODE_TOKEN, info
    namespace, name = account_ref.split("/")
    token, info["expires"] = service.request_token(name, namespace, lifetime=lifetime, audiences=audiences)
    return token, info
