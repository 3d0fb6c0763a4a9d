"""Documentation of the connection options in plugins/module_utils/kube_args.py.

Modules pull it in with ``extends_documentation_fragment: [kube_connection]``; the unit test
tests/unit/test_module_docs.py checks that these entries and kube_args.CONNECTION_ARGS agree.
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - The kubeconfig to use, either the path of a file (several paths joined with C(:) are merged
        like C($KUBECONFIG)) or the kubeconfig itself as a dictionary, for example the C(kubeconfig)
        returned by M(tekton_cd.pipeline.ibmcloud_cluster_config).
      - When neither O(kubeconfig) nor O(host) is set, the pod's service account is used inside a
        cluster, and C($KUBECONFIG) or C(~/.kube/config) elsewhere.
      - Can be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
  context:
    description:
      - The context of the kubeconfig to use; its current context by default.
      - Can be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example C(https://127.0.0.1:6443). Overrides the
        kubeconfig's server.
      - Can be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token to authenticate with. Overrides the kubeconfig's credentials.
      - Can be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. By default the kubeconfig decides
        (C(insecure-skip-tls-verify)), and certificates are verified otherwise.
      - Can be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path of a CA bundle to verify the API server's certificate with. Overrides the kubeconfig's
        certificate authority.
      - Can be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
notes:
  - Modules run on the controller and talk to the API server directly; no C(kubectl) is needed.
  - API discovery is cached per API server under C($XDG_CACHE_HOME/tekton-cd) (by default
    C(~/.cache/tekton-cd)) and refreshed when a kind is missing from it.
requirements:
  - kubernetes (Python package)
"""
