"""The connection options every tekton-cd Kubernetes module accepts.

A module merges ``CONNECTION_ARGS`` into its own argument spec (kube_runner does that for it) and
documents them with ``extends_documentation_fragment: [kube_connection]``
(plugins/doc_fragments/kube_connection.py). Names and environment variables are those of
kubernetes.core, so existing inventories keep working:

    kubeconfig      path (or several, joined with ':') or a kubeconfig dict   K8S_AUTH_KUBECONFIG
    context         context name in the kubeconfig                             K8S_AUTH_CONTEXT
    host            API server URL, overrides the kubeconfig's                 K8S_AUTH_HOST
    api_key         bearer token (no_log), overrides the kubeconfig's          K8S_AUTH_API_KEY
    validate_certs  verify the server's certificate                            K8S_AUTH_VERIFY_SSL
    ca_cert         CA bundle file for the server's certificate                K8S_AUTH_SSL_CA_CERT

With none of them set, kube_client uses the pod's service account when running in a cluster,
else ``$KUBECONFIG`` or ``~/.kube/config``.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

CONNECTION_ARGS = {
    # no_log: a kubeconfig dict holds tokens and keys. kube_runner then unmasks its harmless parts
    # (paths, server URLs, names) so that output stays readable; see kube_runner.
    "kubeconfig": {"type": "raw", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "validate_certs": {
        "type": "bool",
        "aliases": ["verify_ssl"],
        "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"]),
    },
    "ca_cert": {
        "type": "path",
        "aliases": ["ssl_ca_cert"],
        "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"]),
    },
}

CONNECTION_OPTION_NAMES = frozenset(CONNECTION_ARGS)


def with_connection_args(module_args):
    """The module's own argument spec plus the connection options (the module's spec wins)."""
    spec = {name: dict(option) for name, option in CONNECTION_ARGS.items()}
    spec.update(module_args)
    return spec
