#!/usr/bin/python
"""Ansible module ibmcloud_cluster_config: an IKS / ROKS cluster → its facts and a kubeconfig."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ibmcloud_cluster_config
short_description: Get the facts and a kubeconfig of an IBM Cloud Kubernetes Service or OpenShift cluster
description:
  - Finds a cluster of IBM Cloud Kubernetes Service (IKS) or Red Hat OpenShift on IBM Cloud (ROKS)
    by name or id, with only an API key (no C(ibmcloud) CLI), and returns its facts (type, version,
    master URL, Ingress subdomain and secret) and a kubeconfig as a dict.
  - The kubeconfig has one cluster (server and CA), one user authenticated by a bearer token, and
    one context. It can be passed as it is to the C(kubeconfig) option of the project's Kubernetes
    modules, or written to O(dest).
  - For IKS the token is the cluster's IAM id token from the Kubernetes Service API; for ROKS the
    API key is traded for an OpenShift token at the cluster's OAuth server. Both expire (see
    RV(token_expiration)); run the module again for a fresh one.
  - The kubeconfig holds a secret, so it is returned only when the task sets C(no_log=true);
    without C(no_log) the module warns and leaves it out (the cluster facts are still returned).
  - It is written to disk only when O(dest) is given, with mode 0600.
  - Supports check mode (nothing is written) and diff (secret values are never shown).
  - A cluster that is not found fails with the list of clusters the API key can see.
version_added: "0.1.0"
options:
  cluster:
    description: Name or id of the cluster.
    type: str
    required: true
    aliases: [name]
  resource_group:
    description:
      - Id of the resource group to look for the cluster in (sent as C(X-Auth-Resource-Group)).
        By default all resource groups the key can see.
    type: str
  region:
    description:
      - Region the cluster must be in (for example C(us-south)). By default any region.
    type: str
  admin:
    description:
      - Get the admin configuration instead of one for the API key's own identity and IAM roles.
    type: bool
    default: false
  namespace:
    description: Namespace of the kubeconfig's context.
    type: str
    default: default
  dest:
    description:
      - Write the kubeconfig to this file (YAML, mode 0600). A file holding the same cluster and
        user with a token still valid for 10 minutes or more is left as it is.
    type: path
  cs_endpoint:
    description:
      - Base URL of the IBM Cloud Kubernetes Service API (a trailing C(/global) is accepted), for
        example the private endpoint C(https://private.containers.cloud.ibm.com).
      - Defaults to E(IBMCLOUD_CS_API_ENDPOINT), then C(https://containers.cloud.ibm.com).
    type: str
  openshift_oauth_endpoint:
    description:
      - Base URL (or C(.../oauth/authorize) URL) of the ROKS cluster's OAuth server. By default it
        is discovered from the cluster's master URL (C(/.well-known/oauth-authorization-server));
        set it when that URL is not reachable, for example with private service endpoints.
      - Defaults to E(IBMCLOUD_OPENSHIFT_OAUTH_ENDPOINT).
    type: str
extends_documentation_fragment:
  - tekton_cd.pipeline.ibmcloud_connection
notes:
  - Uses the Python libraries C(requests) and C(PyYAML) on the controller.
  - O(ca_cert) is for the IBM Cloud endpoints only; the cluster's own CA comes from the Kubernetes
    Service.
  - See docs/ibmcloud.md for endpoints, private endpoints and keeping the kubeconfig out of output.
author:
  - tekton-cd maintainers
"""

EXAMPLES = r"""
- name: Get a kubeconfig for the cluster (kept in memory, out of the output)
  tekton_cd.pipeline.ibmcloud_cluster_config:
    cluster: my-iks-cluster
  no_log: true
  register: cluster_login

- name: Use it with a Kubernetes module of this project
  tekton_cd.pipeline.k8s_namespace:
    kubeconfig: "{{ cluster_login.kubeconfig }}"
    name: tekton-pipelines

- name: Read only the facts (Ingress subdomain for the application's routes)
  tekton_cd.pipeline.ibmcloud_cluster_config:
    cluster: my-roks-cluster
    region: eu-de
  register: cluster_facts

- name: Write an admin kubeconfig for kubectl
  tekton_cd.pipeline.ibmcloud_cluster_config:
    cluster: my-iks-cluster
    admin: true
    dest: "{{ playbook_dir }}/.kube/admin.yml"
"""

RETURN = r"""
cluster:
  description: Facts of the cluster (no secrets).
  returned: success
  type: dict
  contains:
    id: {description: Cluster id., type: str, sample: bq1mb5nd0ijml1dqr3sg}
    name: {description: Cluster name., type: str, sample: my-iks-cluster}
    type: {description: C(kubernetes) (IKS) or C(openshift) (ROKS)., type: str, sample: kubernetes}
    version: {description: Master version., type: str, sample: 1.33.5_1534}
    master_url: {description: URL of the cluster's API server., type: str}
    ingress_hostname: {description: Ingress subdomain of the cluster., type: str,
                       sample: my-iks-cluster-a1b2c3-0000.us-south.containers.appdomain.cloud}
    ingress_secret: {description: Name of the Ingress TLS secret., type: str}
    region: {description: Region., type: str, sample: us-south}
    resource_group_id: {description: Resource group id., type: str}
    resource_group_name: {description: Resource group name., type: str}
    state: {description: Cluster state., type: str, sample: normal}
    provider: {description: Infrastructure provider., type: str, sample: vpc-gen2}
    crn: {description: Cloud resource name of the cluster., type: str}
    public_service_endpoint_url: {description: Public service endpoint URL (null when disabled)., type: str}
    private_service_endpoint_url: {description: Private service endpoint URL (null when disabled)., type: str}
kubeconfig:
  description:
    - The kubeconfig (as kubectl's file, as a dict) with a bearer token. Only when the task has
      C(no_log=true).
  returned: success and the task is no_log
  type: dict
token_expiration:
  description: Expiry of the kubeconfig's token (seconds since the epoch), when it is known.
  returned: success
  type: int
dest:
  description: Path of the written kubeconfig.
  returned: when O(dest) is given
  type: str
"""

import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import yaml  # noqa: E402
from ansible.module_utils.basic import env_fallback  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_clusters import (  # noqa: E402
    KubernetesService,
    OpenShiftOAuth,
    build_kubeconfig,
    cluster_facts,
    kubeconfig_parts,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_common import (  # noqa: E402
    COMMON_ARGUMENT_SPEC,
    DEFAULT_CS_ENDPOINT,
    DEFAULT_IAM_ENDPOINT,
    IBMCloudError,
    require_api_key,
    resolve_endpoint,
    transport_from_params,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_iam import IAMClient  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_config import (  # noqa: E402
    current_or_none,
    hide_tokens,
    token_expiry,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import ModuleDeclaration  # noqa: E402

KEEP_TOKEN_MARGIN = 600  # seconds a token on disk must still be valid to be kept
ARGUMENT_SPEC = {
    **COMMON_ARGUMENT_SPEC,
    "cluster": {"type": "str", "required": True, "aliases": ["name"]},
    "resource_group": {"type": "str"},
    "region": {"type": "str"},
    "admin": {"type": "bool", "default": False},
    "namespace": {"type": "str", "default": "default"},
    "dest": {"type": "path"},
    "cs_endpoint": {"type": "str", "fallback": (env_fallback, ["IBMCLOUD_CS_API_ENDPOINT"])},
    "openshift_oauth_endpoint": {"type": "str",
                                 "fallback": (env_fallback, ["IBMCLOUD_OPENSHIFT_OAUTH_ENDPOINT"])},
}


def argument_spec():
    return ARGUMENT_SPEC


def fetch(params):
    """(facts, kubeconfig, token expiry) for the cluster the parameters name."""
    transport = transport_from_params(params)
    api_key = require_api_key(params)
    iam = IAMClient(transport, resolve_endpoint(params["iam_endpoint"], DEFAULT_IAM_ENDPOINT, "iam_endpoint"),
                    api_key)
    cs_endpoint = resolve_endpoint(params["cs_endpoint"], DEFAULT_CS_ENDPOINT, "cs_endpoint",
                                   strip_suffix="/global")
    service = KubernetesService(iam, cs_endpoint, params["resource_group"])
    facts = cluster_facts(service.get_cluster(params["cluster"], params["region"]))
    server, ca_pem, token = kubeconfig_parts(service.raw_kubeconfig(facts["id"], params["admin"]))
    expiry = token_expiry(token)
    if facts["type"] == "openshift" and not params["admin"]:
        oauth = OpenShiftOAuth(transport, api_key)
        endpoint = params["openshift_oauth_endpoint"]
        if endpoint:
            endpoint = resolve_endpoint(endpoint, "https://OAUTH-HOST:PORT", "openshift_oauth_endpoint")
            if not endpoint.endswith("/oauth/authorize"):
                endpoint += "/oauth/authorize"
        else:
            endpoint = oauth.authorize_endpoint(facts["master_url"] or server, ca_pem)
        token, lifetime = oauth.token(endpoint)
        expiry = int(time.time()) + lifetime if lifetime else None
    kubeconfig = build_kubeconfig(facts["name"], server, ca_pem, token, params["namespace"],
                                  user_name=f"{facts['name']}-{'admin' if params['admin'] else 'iam'}")
    return facts, kubeconfig, expiry


def token_of(config):
    return getattr(current_or_none(config), "token", None)


def plan_write(dest, kubeconfig):
    """(needs_write, existing config or None, kubeconfig to keep in the file)."""
    try:
        with open(dest) as stream:
            existing = yaml.safe_load(stream)
        mode = os.stat(dest).st_mode & 0o777
    except (OSError, yaml.YAMLError):
        return True, None, kubeconfig
    if hide_tokens(existing) != hide_tokens(kubeconfig):
        return True, existing, kubeconfig
    old_token = token_of(existing)
    old_expiry = token_expiry(old_token)
    keep = old_token == token_of(kubeconfig) or (old_expiry is not None
                                                 and old_expiry - time.time() >= KEEP_TOKEN_MARGIN)
    if keep:
        return mode != 0o600, existing, existing
    return True, existing, kubeconfig


def write_private(dest, kubeconfig):
    directory = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(directory):
        raise IBMCloudError(f"The directory of dest {dest!r} does not exist", hint="create it first")
    handle, temporary = tempfile.mkstemp(prefix=".kubeconfig-", dir=directory)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w") as stream:
            yaml.safe_dump(kubeconfig, stream, default_flow_style=False, sort_keys=False)
        os.replace(temporary, dest)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def ensure(params, check_mode):
    facts, kubeconfig, expiry = fetch(params)
    result = {"changed": False, "cluster": facts, "token_expiration": expiry}
    dest = params["dest"]
    if dest:
        needs_write, existing, kubeconfig = plan_write(dest, kubeconfig)
        result.update(dest=dest, token_expiration=token_expiry(token_of(kubeconfig)) or expiry)
        if needs_write:
            result["changed"] = True
            result["diff"] = {"before": hide_tokens(existing) or {}, "after": hide_tokens(kubeconfig),
                              "before_header": dest, "after_header": dest}
            if not check_mode:
                try:
                    write_private(dest, kubeconfig)
                except OSError as error:
                    raise IBMCloudError(f"Could not write dest {dest!r}: {error.strerror}",
                                        hint="check the path and its permissions") from error
    result["kubeconfig"] = kubeconfig
    return result


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure, kube_connection=False,
                           secret_results={"kubeconfig": "kubeconfig (it holds a token)"})


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
