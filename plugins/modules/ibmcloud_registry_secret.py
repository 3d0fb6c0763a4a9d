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
import copy  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

from ansible.module_utils.basic import env_fallback  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_labels,
    check_namespace_name,
    is_dns_subdomain,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import ModuleDeclaration  # noqa: E402

REGISTRY_USER = "iamapikey"
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
    "ibmcloud_api_key": {"type": "str", "no_log": True,
                         "fallback": (env_fallback, ["IC_API_KEY", "IBMCLOUD_API_KEY"])},
    "iam_endpoint": {"type": "str", "fallback": (env_fallback, ["IBMCLOUD_IAM_API_ENDPOINT"])},
    "cr_endpoint": {"type": "str", "fallback": (env_fallback, ["IBMCLOUD_CR_API_ENDPOINT"])},
    "ibmcloud_ca_cert": {"type": "path", "fallback": (env_fallback, ["IBMCLOUD_CA_CERT"])},
    "ibmcloud_validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 30},
    "retries": {"type": "int", "default": 4},
}

DEFAULT_REGION = "us-south"
HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
MISSING_NAMESPACE = object()  # read_secrets' mark for a namespace that does not exist (check mode)


# -- input -------------------------------------------------------------------------------------

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
    if params["registry_host"] and not HOST.match(params["registry_host"]):
        raise KubeError.invalid("registry_host", f"{params['registry_host']!r} is not a host name",
                                "give a host (and port) without scheme or path, e.g. private.us.icr.io")


def linked_accounts(params):
    """(namespace, name) of every service account to attach to, in order, without repeats."""
    targets = []
    for account in params["service_accounts"]:
        for namespace in [account["namespace"]] if account.get("namespace") else params["namespaces"]:
            if (namespace, account["name"]) not in targets:
                targets.append((namespace, account["name"]))
    return targets


def registry_hosts(params):
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_registry import (
        GLOBAL_REGISTRY,
        registry_host,
    )

    region = params["region"] or DEFAULT_REGION
    host = params["registry_host"] or registry_host(region)
    hosts = [host]
    if params["include_global_registry"] and GLOBAL_REGISTRY not in hosts:
        hosts.append(GLOBAL_REGISTRY)
    return hosts


def docker_config(hosts, api_key):
    """The .dockerconfigjson document; serialised the same way every run, so a no-op stays one."""
    auth = base64.b64encode(f"{REGISTRY_USER}:{api_key}".encode()).decode()
    auths = {host: {"username": REGISTRY_USER, "password": api_key, "auth": auth} for host in hosts}
    return json.dumps({"auths": auths}, sort_keys=True, separators=(",", ":"))


def desired_secret(params, namespace, config):
    metadata = {"name": params["name"], "namespace": namespace}
    if params["labels"]:
        metadata["labels"] = dict(params["labels"])
    return {
        "apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": SECRET_TYPE,
        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
    }


# -- IBM Cloud ---------------------------------------------------------------------------------

def ensure_registry_namespace(params, api_key, check_mode):
    """{"name", "created"} after making sure the registry namespace exists."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_common import (
        DEFAULT_IAM_ENDPOINT,
        Transport,
        resolve_endpoint,
    )
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_iam import IAMClient
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_registry import (
        ContainerRegistry,
        registry_api_url,
        validate_namespace_name,
    )

    name = params["registry_namespace"]
    validate_namespace_name(name)
    transport = Transport(validate_certs=params["ibmcloud_validate_certs"],
                          ca_cert=params["ibmcloud_ca_cert"], timeout=params["timeout"],
                          retries=params["retries"])
    iam_url = resolve_endpoint(params["iam_endpoint"], DEFAULT_IAM_ENDPOINT, "iam_endpoint")
    iam = IAMClient(transport, iam_url, api_key)
    api_url = registry_api_url(params["region"] or DEFAULT_REGION, params["cr_endpoint"])
    registry = ContainerRegistry(iam, api_url, iam.current().account_id, params["resource_group"])
    return {"name": name, "created": registry.ensure_namespace(name, check_mode=check_mode)}


def require_api_key(params):
    if not params["ibmcloud_api_key"]:
        raise KubeError.invalid("ibmcloud_api_key", "no IBM Cloud API key was given",
                                "set ibmcloud_api_key or the IC_API_KEY / IBMCLOUD_API_KEY environment "
                                "variable")
    return params["ibmcloud_api_key"]


# -- Kubernetes --------------------------------------------------------------------------------

def _link(fields, secret):
    def mutate(account):
        for field in fields:
            entries = account.get(field) or []
            if not any(entry.get("name") == secret for entry in entries):
                account[field] = [*entries, {"name": secret}]
    return mutate


def _unlink(fields, secret):
    def mutate(account):
        for field in fields:
            entries = account.get(field) or []
            kept = [entry for entry in entries if entry.get("name") != secret]
            if len(kept) != len(entries):
                account[field] = kept
    return mutate


def read_accounts(service, params):
    """Live service accounts by (namespace, name), read before anything is written; a missing one
    fails a real run (with state=present) and is a warning in check mode."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import named

    wanted = [named("v1", "ServiceAccount", name, namespace) for namespace, name in linked_accounts(params)]
    found = service.read_all(wanted)  # a GET per namespace with one account, else a LIST
    live, warnings = {}, []
    for stub in wanted:
        namespace, name = stub["metadata"]["namespace"], stub["metadata"]["name"]
        account = found.of(stub)
        if account is not None:
            live[(namespace, name)] = account
        elif params["state"] == "absent":
            continue
        elif service.check_mode:
            warnings.append(f"{object_ref('ServiceAccount', name, namespace)} does not exist (yet): "
                            "a real run needs it created first (k8s_service_account or the "
                            "pipeline_accounts role).")
        else:
            target = object_ref("ServiceAccount", name, namespace)
            raise KubeError(f"Cannot attach Secret \"{params['name']}\" to {target}: the account "
                            "does not exist; create it first (k8s_service_account or the "
                            "pipeline_accounts role), or drop it from service_accounts.",
                            status=404, reason="NotFound")
    return live, warnings


def edit_accounts(service, params, live, mutate):
    """[((namespace, name), Change)] after applying `mutate` to each linked account; only an
    account that `mutate` really changes is written (read again and PUT, re-read on 409)."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import Change

    changes = []
    for target in linked_accounts(params):
        account = live.get(target)
        if account is None:  # absent already, or (check mode) not created yet
            changes.append((target, Change(params["state"] == "present", None, None)))
            continue
        wanted = copy.deepcopy(account)
        mutate(wanted)
        if wanted == account:
            changes.append((target, Change(False, account, account)))
        else:
            namespace, name = target
            changes.append((target, service.update("v1", "ServiceAccount", name, namespace, mutate)))
    return changes


def read_secrets(service, params):
    """Live Secrets by namespace, read before anything is written; a missing namespace fails a
    real run (with state=present) and is a warning in check mode."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import named

    wanted = [named("v1", "Secret", params["name"], namespace) for namespace in params["namespaces"]]
    found = service.read_all(wanted)
    live = {stub["metadata"]["namespace"]: found.of(stub) for stub in wanted}
    if params["state"] == "absent":
        return live, []
    warnings = []
    for namespace in service.missing_namespaces(wanted, found):
        target = object_ref("Secret", params["name"], namespace)
        if not service.check_mode:
            raise KubeError(f"Cannot create {target}: the namespace \"{namespace}\" does not exist; "
                            "create it first (k8s_namespace or the pipeline_accounts role).")
        warnings.append(f"Namespace \"{namespace}\" does not exist (yet): {target} is shown as it would "
                        "be sent; a real run needs the namespace created first.")
        live[namespace] = MISSING_NAMESPACE
    return live, warnings


def apply_secrets(service, params, live, config):
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import Change

    changes = []
    for namespace in params["namespaces"]:
        desired = desired_secret(params, namespace, config)
        if live[namespace] is MISSING_NAMESPACE:
            changes.append(Change(True, None, desired))
        else:
            changes.append(service.apply(desired, live=live[namespace], live_known=True))
    return changes


def ensure(params, check_mode):
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_client import connect
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import KubeService

    validate(params)
    hosts = registry_hosts(params)
    api_key = require_api_key(params) if params["state"] == "present" else None
    result = {"registry_host": hosts[0], "registry_hosts": hosts}
    if params["registry_namespace"]:
        result["image_prefix"] = f"{hosts[0]}/{params['registry_namespace']}"

    # Everything that could stop the run is found before the first write, on either side.
    client = connect(params)
    secrets_service = KubeService(client, check_mode=check_mode)
    accounts_service = KubeService(client, check_mode=check_mode, field_manager=LINK_FIELD_MANAGER)
    live_secrets, warnings = read_secrets(secrets_service, params)
    live_accounts, account_warnings = read_accounts(accounts_service, params)

    if params["state"] == "present":
        if params["registry_namespace"]:
            result["registry_namespace"] = ensure_registry_namespace(params, api_key, check_mode)
        secret_changes = apply_secrets(secrets_service, params, live_secrets, docker_config(hosts, api_key))
        account_changes = edit_accounts(accounts_service, params, live_accounts,
                                        _link(params["link_fields"], params["name"]))
    else:
        # Detach first, so no account is left naming a Secret that is gone.
        account_changes = edit_accounts(accounts_service, params, live_accounts,
                                        _unlink(params["link_fields"], params["name"]))
        secret_changes = [secrets_service.delete("v1", "Secret", params["name"], namespace)
                          for namespace in params["namespaces"]]
    changes = secret_changes + [change for _target, change in account_changes]
    result.update(
        changed=any(change.changed for change in changes),
        secrets=[change.result for change in secret_changes if change.result is not None],
        service_accounts=[{"name": name, "namespace": namespace, "changed": change.changed}
                          for (namespace, name), change in account_changes],
        diff=[change.diff() for change in changes if change.changed],
        warnings=warnings + account_warnings,
    )
    return result


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
