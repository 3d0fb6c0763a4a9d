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

It also holds what every module with a list form (``roles:``, ``service_accounts:``, ...) does with
its options: ``requested`` turns either form into one list of elements, ``option_at`` names an
element's option in messages.
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


def requested(params, list_option, item_options, *, one=None, shared=()):
    """What a task asks for, whichever form it uses, as (where, options) pairs: the elements of
    ``list_option`` (where "roles[0]", "roles[1]", ...), or the single form as one element (where "").

    ``item_options`` is the argument spec of an element's options besides ``name`` (the single form
    takes them at the task level). Options in ``shared`` (e.g. namespace) may also be given at the
    task level with the list form: they are then each element's default. With ``one`` (what one
    element is, for the message) the single form needs a ``name``; without, it has none. Mixing the
    forms, or giving neither, raises KubeError naming the option.
    """
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError

    named = ("name",) if one else ()
    elements = params.get(list_option)
    if elements is not None:
        mixed = [option for option in (*named, *item_options) if option not in shared
                 and params.get(option) != (item_options.get(option) or {}).get("default")]
        if mixed:
            raise KubeError.invalid(
                mixed[0], f"it cannot be combined with {list_option}",
                f"move {mixed[0]} into the elements of {list_option}, or drop {list_option}",
            )
        return [(f"{list_option}[{index}]",
                 {**element, **{option: element.get(option) or params.get(option) for option in shared}})
                for index, element in enumerate(elements)]
    if one and params.get("name") is None:
        raise KubeError.invalid("name", f"neither name nor {list_option} is given",
                                f"give the name of one {one}, or a {list_option} list")
    return [("", {option: params.get(option) for option in (*named, *shared, *item_options)})]


def option_at(where, option):
    """How messages name an option of the element at ``where`` ("roles[0].rules"), or of the task."""
    return f"{where}.{option}" if where else option
