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
