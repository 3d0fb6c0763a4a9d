#!/usr/bin/python
"""Ansible module ibmcloud_registry_secret: IBM Container Registry credentials in Kubernetes."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ibmcloud_registry_secret
short_description: Give Kubernetes service accounts push and pull access to IBM Cloud Container Registry
description:
  - Finds the registry host of an IBM Cloud Container Registry region (for example C(us-south) →
    C(us.icr.io)), and optionally the global host C(icr.io) too.
  - Ensures the registry namespace O(registry_namespace) exists in the API key's account (created
    when missing; nothing is created in check mode).
  - Creates or updates a C(kubernetes.io/dockerconfigjson) Secret named O(name) in each of
    O(namespaces), holding the user C(iamapikey) and the API key as password for each registry
    host, by server-side apply with the field manager C(tekton-cd).
  - Attaches the Secret to the service accounts in O(service_accounts), as an image pull secret
    (C(imagePullSecrets)) and as a mountable secret (C(secrets)), which is where Tekton looks for
    the credentials a build pushes with. Entries others put there are kept.
  - A run that would change nothing sends no write to the API server. Check mode sends every write
    with C(dryRun=All). The diff shows the Secret with its values replaced by C(<hidden>).
  - O(state=absent) deletes the Secrets and removes them from the service accounts; the registry
    namespace and its images are left alone.
version_added: "0.1.0"
author: tekton-cd maintainers
options:
  name:
    description: Name of the Secret, a lowercase RFC 1123 subdomain.
    type: str
    required: true
  namespaces:
    description: Kubernetes namespaces to create the Secret in. They must exist.
    type: list
    elements: str
    required: true
  service_accounts:
    description:
      - Service accounts to attach the Secret to. They must exist (in check mode a missing one is
        only a warning, since an earlier task of the same run may create it).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the service account.
        type: str
        required: true
      namespace:
        description:
          - Its namespace, one of O(namespaces). Omitted, the account of that name in every one of
            O(namespaces).
        type: str
  link_fields:
    description:
      - Which fields of the service accounts list the Secret. C(imagePullSecrets) lets pods pull
        with it; C(secrets) is what Tekton reads the push credentials from.
    type: list
    elements: str
    choices: [imagePullSecrets, secrets]
    default: [imagePullSecrets, secrets]
  region:
    description:
      - IBM Cloud region (C(us-south), C(eu-de), ...) or registry region (C(eu-central), ...) whose
        registry host the Secret is for; C(global) for C(icr.io) only.
      - Defaults to E(IBMCLOUD_REGION), then E(IC_REGION), then C(us-south).
    type: str
  registry_host:
    description:
      - Registry host to write into the Secret instead of the region's (for example a private
        registry endpoint). The region still selects the registry API unless O(cr_endpoint) is set.
    type: str
  include_global_registry:
    description: Also put credentials for the global registry C(icr.io) into the Secret.
    type: bool
    default: true
  registry_namespace:
    description:
      - Registry namespace the pipeline pushes its images to; ensured to exist in the API key's
        account. Omitted, no registry API call is made.
      - 4 to 30 lowercase letters, digits, C(-) and C(_); unique per region across all accounts.
    type: str
  resource_group:
    description: Id of the resource group a new registry namespace is created in (C(X-Auth-Resource-Group)).
    type: str
  labels:
    description: Labels of the Secret.
    type: dict
    default: {}
  state:
    description: Whether the Secret should exist (and be attached) or be removed (and detached).
    type: str
    choices: [present, absent]
    default: present
  ibmcloud_api_key:
    description:
      - IBM Cloud API key; the Secret's password and, with O(registry_namespace), the key the
        registry API is called with.
      - Defaults to E(IC_API_KEY), then E(IBMCLOUD_API_KEY). Not needed for O(state=absent).
    type: str
  iam_endpoint:
    description:
      - Base URL of IBM Cloud IAM. Defaults to E(IBMCLOUD_IAM_API_ENDPOINT), then
        C(https://iam.cloud.ibm.com).
    type: str
  cr_endpoint:
    description:
      - Base URL of the Container Registry API, for example the private endpoint
        C(https://private.us.icr.io). Defaults to E(IBMCLOUD_CR_API_ENDPOINT), then the region's host.
    type: str
  ibmcloud_ca_cert:
    description:
      - CA bundle (PEM file) for the IBM Cloud endpoints' certificates. Defaults to E(IBMCLOUD_CA_CERT).
        O(ca_cert) is the Kubernetes API server's.
    type: path
  ibmcloud_validate_certs:
    description: Verify the TLS certificates of the IBM Cloud endpoints.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each IBM Cloud HTTP answer.
    type: int
    default: 30
  retries:
    description: How many times an IBM Cloud call answered 429 or 5xx (or cut off) is retried.
    type: int
    default: 4
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
notes:
  - The IBM Cloud options carry an C(ibmcloud_) prefix where the Kubernetes connection options
    (O(api_key), O(validate_certs), O(ca_cert)) already use the plain name.
  - Use an API key that may only read and write the registry (a service ID with the Container
    Registry Writer role), since it is stored in the cluster.
attributes:
  check_mode:
    support: full
    description:
      - Lists registry namespaces without creating one; Kubernetes writes are sent with C(dryRun=All).
  diff_mode:
    support: full
    description: Shows each Secret and service account before and after, without Secret values.
"""

EXAMPLES = r"""
- name: Let the builder push to us.icr.io/health-images with the key from IC_API_KEY
  tekton_cd.pipeline.ibmcloud_registry_secret:
    kubeconfig: "{{ kube_connection.kubeconfig }}"
    name: icr-credentials
    namespaces: [health-ci]
    service_accounts:
      - name: builder
    region: us-south
    registry_namespace: health-images

- name: Pull secret for the application namespace only, for the private registry endpoint
  tekton_cd.pipeline.ibmcloud_registry_secret:
    name: icr-pull
    namespaces: [health]
    service_accounts:
      - name: default
    link_fields: [imagePullSecrets]
    region: eu-de
    registry_host: private.de.icr.io
    include_global_registry: false

- name: Remove the registry credentials
  tekton_cd.pipeline.ibmcloud_registry_secret:
    name: icr-credentials
    namespaces: [health-ci]
    service_accounts:
      - name: builder
    state: absent
"""

RETURN = r"""
registry_host:
  description: The registry host the Secret holds credentials for (region's host or O(registry_host)).
  returned: always
  type: str
  sample: us.icr.io
registry_hosts:
  description: Every host in the Secret's docker config.
  returned: always
  type: list
  elements: str
  sample: [us.icr.io, icr.io]
registry_namespace:
  description: The registry namespace, and whether it was (or in check mode would be) created.
  returned: when O(registry_namespace) is given and O(state=present)
  type: dict
  sample: {name: health-images, created: false}
image_prefix:
  description: Where the pipeline's images go, C(<registry host>/<registry namespace>).
  returned: when O(registry_namespace) is given
  type: str
  sample: us.icr.io/health-images
secrets:
  description: The Secrets as the API server returned them, values replaced by C(<hidden>); one per namespace.
  returned: always
  type: list
  elements: dict
service_accounts:
  description: The service accounts attached to (or detached from), with what changed.
  returned: always
  type: list
  elements: dict
  sample: [{name: builder, namespace: health-ci, changed: true}]
diff:
  description: Before and after of each Secret and changed service account, without Secret values.
  returned: always
  type: list
"""

import base64  # noqa: E402

from ansible.module_utils.basic import env_fallback  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_common import (  # noqa: E402
    BESIDE_KUBE_ARGUMENT_SPEC,
    transport_from_params,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_registry import (  # noqa: E402
    check_registry_host,
    docker_config,
    ensure_registry_namespace,
    registry_hosts,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_labels,
    check_namespace_name,
    is_dns_subdomain,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    connect_service,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import (  # noqa: E402
    Change,
    linking,
    named,
    unlinking,
)

SECRET_TYPE = "kubernetes.io/dockerconfigjson"
# Service-account edits go through read-modify-write under their own manager: imagePullSecrets is
# one atomic value for server-side apply, so applying it would take over the whole list.
LINK_FIELD_MANAGER = "tekton-cd-registry-secret"

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "namespaces": {"type": "list", "elements": "str", "required": True},
    "service_accounts": {
        "type": "list", "elements": "dict", "default": [],
        "options": {"name": {"type": "str", "required": True}, "namespace": {"type": "str"}},
    },
    "link_fields": {"type": "list", "elements": "str", "choices": ["imagePullSecrets", "secrets"],
                    "default": ["imagePullSecrets", "secrets"]},
    "region": {"type": "str", "fallback": (env_fallback, ["IBMCLOUD_REGION", "IC_REGION"])},
    "registry_host": {"type": "str"},
    "include_global_registry": {"type": "bool", "default": True},
    "registry_namespace": {"type": "str"},
    "resource_group": {"type": "str"},
    "labels": {"type": "dict", "default": {}},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    **BESIDE_KUBE_ARGUMENT_SPEC,
    "cr_endpoint": {"type": "str", "fallback": (env_fallback, ["IBMCLOUD_CR_API_ENDPOINT"])},
}



def validate(params):
    """Every input problem, before any call; raises KubeError with the first."""
    if not is_dns_subdomain(params["name"]):
        raise KubeError.invalid("name", f"{params['name']!r} is not a valid Secret name",
                                "use a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.')")
    if not params["namespaces"]:
        raise KubeError.invalid("namespaces", "the list is empty", "name at least one namespace")
    for namespace in params["namespaces"]:
        check_namespace_name("namespaces", namespace)
    for index, account in enumerate(params["service_accounts"]):
        if not is_dns_subdomain(account["name"]):
            raise KubeError.invalid(f"service_accounts[{index}].name",
                                    f"{account['name']!r} is not a valid service account name",
                                    "use a lowercase RFC 1123 subdomain")
        if account.get("namespace") and account["namespace"] not in params["namespaces"]:
            raise KubeError.invalid(f"service_accounts[{index}].namespace",
                                    f"{account['namespace']!r} is not one of namespaces "
                                    f"{params['namespaces']}",
                                    "add it to namespaces, since the Secret must exist where the account is")
    check_labels("labels", params["labels"])
    check_registry_host("registry_host", params["registry_host"])
    if params["state"] == "present" and not params["ibmcloud_api_key"]:
        raise KubeError.invalid("ibmcloud_api_key", "no IBM Cloud API key was given",
                                "set ibmcloud_api_key or the IC_API_KEY / IBMCLOUD_API_KEY environment "
                                "variable")


def linked_accounts(params):
    """The service accounts to attach to (named objects), in order, without repeats."""
    targets = []
    for account in params["service_accounts"]:
        for namespace in [account["namespace"]] if account.get("namespace") else params["namespaces"]:
            target = named("v1", "ServiceAccount", account["name"], namespace)
            targets += [target] if target not in targets else []
    return targets


def desired_secret(params, namespace, config):
    metadata = {"name": params["name"], "namespace": namespace,
                **({"labels": dict(params["labels"])} if params["labels"] else {})}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": SECRET_TYPE,
            "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()}}


def edit_accounts(service, params, accounts, live, mutate):
    """One Change per linked account; only an account that ``mutate`` really changes is written."""
    return [service.update("v1", "ServiceAccount", *named_in(account), mutate, live=live.of(account))
            if live.of(account) is not None else Change(params["state"] == "present", None, None)
            for account in accounts]


def named_in(obj):
    return obj["metadata"]["name"], obj["metadata"]["namespace"]


def ensure(params, check_mode):
    validate(params)
    hosts = registry_hosts(params["region"], params["registry_host"], params["include_global_registry"])
    result = {"registry_host": hosts[0], "registry_hosts": hosts}
    if params["registry_namespace"]:
        result["image_prefix"] = f"{hosts[0]}/{params['registry_namespace']}"
    # Everything that could stop the run is found before the first write, on either side.
    secrets_service = connect_service(params, check_mode)
    accounts_service = secrets_service.with_field_manager(LINK_FIELD_MANAGER)
    secrets = [named("v1", "Secret", params["name"], namespace) for namespace in params["namespaces"]]
    accounts = linked_accounts(params)
    live = secrets_service.read_all(secrets + accounts)  # a GET per namespace and kind with one name
    warnings = [] if params["state"] == "absent" else secrets_service.require_namespaces(
        secrets, live, fix="create it first (k8s_namespace or the pipeline_accounts role)")
    warnings += [] if params["state"] == "absent" else secrets_service.require_existing(
        accounts, live, warning=lambda target: f"{target} does not exist (yet): a real run needs it created "
        "first (k8s_service_account or the pipeline_accounts role).",
        failure=lambda target: f"Cannot attach Secret \"{params['name']}\" to {target}: the account does not "
        "exist; create it first (k8s_service_account or the pipeline_accounts role), or drop it from "
        "service_accounts.")
    link_fields = params["link_fields"]
    if params["state"] == "present":
        if params["registry_namespace"]:
            where = {option: params[option]
                     for option in ("iam_endpoint", "region", "cr_endpoint", "resource_group")}
            result["registry_namespace"] = ensure_registry_namespace(
                transport_from_params(params, prefix="ibmcloud_"), api_key=params["ibmcloud_api_key"],
                name=params["registry_namespace"], check_mode=check_mode, **where)
        config = docker_config(hosts, params["ibmcloud_api_key"])
        secret_changes = [secrets_service.apply(desired_secret(params, named_in(secret)[1], config),
                                                live=live.of(secret), live_known=True) for secret in secrets]
        account_changes = edit_accounts(accounts_service, params, accounts, live,
                                        linking(link_fields, params["name"]))
    else:
        # Detach first, so no account is left naming a Secret that is gone.
        account_changes = edit_accounts(accounts_service, params, accounts, live,
                                        unlinking(link_fields, params["name"]))
        secret_changes = secrets_service.delete_all(secrets, live)
    changes = secret_changes + account_changes
    return {**result, "changed": any(change.changed for change in changes),
            "secrets": [change.result for change in secret_changes if change.result is not None],
            "service_accounts": [dict(zip(("name", "namespace"), named_in(account), strict=True),
                                      changed=change.changed)
                                 for account, change in zip(accounts, account_changes, strict=True)],
            "diff": [change.diff() for change in changes if change.changed], "warnings": warnings}


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
