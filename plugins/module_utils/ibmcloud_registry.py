"""IBM Cloud Container Registry: region → registry host, and registry namespaces (list, ensure).

API on the regional host (https://<host>): GET /api/v1/namespaces (names of the account's
namespaces), PUT /api/v1/namespaces/<name> (create; a no-op for a namespace the account owns),
with the IAM bearer token and the account id in the `Account` header. Namespace names are unique
per region across all accounts.
"""

from __future__ import annotations

import re
import urllib.parse

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_common import (
    IBMCloudError,
    resolve_endpoint,
)

GLOBAL_REGISTRY = "icr.io"

# Both spellings are accepted: IBM Cloud region names and the registry's own region names.
REGISTRY_HOSTS = {
    "global": GLOBAL_REGISTRY,
    "us-south": "us.icr.io",
    "eu-gb": "uk.icr.io", "uk-south": "uk.icr.io",
    "eu-de": "de.icr.io", "eu-central": "de.icr.io",
    "jp-tok": "jp.icr.io", "ap-north": "jp.icr.io",
    "au-syd": "au.icr.io", "ap-south": "au.icr.io",
    "jp-osa": "jp2.icr.io",
    "ca-tor": "ca.icr.io",
    "ca-mon": "ca2.icr.io",
    "br-sao": "br.icr.io",
    "eu-es": "es.icr.io",
}

HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
NAMESPACE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{2,28}[a-z0-9]$")


def registry_host(region):
    """The registry host of an IBM Cloud region (e.g. us-south → us.icr.io; global → icr.io)."""
    host = REGISTRY_HOSTS.get((region or "").strip().lower())
    if host is None:
        known = ", ".join(sorted(REGISTRY_HOSTS))
        raise IBMCloudError(f"Registry region {region!r} is not known",
                            hint=f"use one of {known}, or set cr_endpoint for another registry")
    return host


def check_registry_host(option, host):
    """KubeError.invalid naming ``option`` unless ``host`` (if given) is a host[:port]."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError

    if host and not HOST.match(host):
        raise KubeError.invalid(option, f"{host!r} is not a host name",
                                "give a host (and port) without scheme or path, e.g. private.us.icr.io")


def registry_api_url(region, endpoint=None):
    """Base URL of the registry API: `endpoint` when given (private endpoints, tests), else the
    region's public host."""
    if endpoint:
        return resolve_endpoint(endpoint, "https://us.icr.io", "cr_endpoint")
    return "https://" + registry_host(region)


def validate_namespace_name(name):
    if not NAMESPACE_NAME.match(name or ""):
        raise IBMCloudError(
            f"Registry namespace name {name!r} is not valid",
            hint="use 4 to 30 lowercase letters, numbers, hyphens or underscores, starting and ending "
                 "with a letter or number",
        )


class ContainerRegistry:
    def __init__(self, iam, base_url, account_id, resource_group=None):
        self.iam = iam
        self.base = base_url.rstrip("/") + "/api/v1"
        self.account_id = account_id
        self.resource_group = resource_group

    def _headers(self):
        headers = {"Account": self.account_id}
        if self.resource_group:
            headers["X-Auth-Resource-Group"] = self.resource_group
        return headers

    def namespaces(self):
        what = f"Listing registry namespaces at {self.base}"
        response = self.iam.authorized("GET", self.base + "/namespaces", what, headers=self._headers())
        if response.status_code != 200:
            raise self.iam.transport.error(what, response)
        try:
            names = response.json()
        except ValueError:
            names = None
        if not isinstance(names, list):
            raise IBMCloudError(f"{what} answered without a list of names",
                                hint="check that cr_endpoint points at IBM Cloud Container Registry")
        return sorted(str(name) for name in names)

    def ensure_namespace(self, name, check_mode=False):
        """True when the namespace had to be created (or would be, in check mode)."""
        validate_namespace_name(name)
        if name in self.namespaces():
            return False
        if check_mode:
            return True
        what = f"Creating registry namespace {name!r} at {self.base}"
        url = f"{self.base}/namespaces/{urllib.parse.quote(name, safe='')}"
        response = self.iam.authorized("PUT", url, what, headers=self._headers())
        if response.status_code == 409:
            raise self.iam.transport.error(
                what, response,
                hint="namespace names are unique per region across all IBM Cloud accounts; "
                     "choose another name",
            )
        if response.status_code not in (200, 201):
            raise self.iam.transport.error(what, response)
        return True


REGISTRY_USER = "iamapikey"
DEFAULT_REGION = "us-south"


def registry_hosts(region=None, host=None, include_global=True):
    """The registry hosts a pull secret names: ``host`` (else the region's), then icr.io."""
    hosts = [host or registry_host(region or DEFAULT_REGION)]
    if include_global and GLOBAL_REGISTRY not in hosts:
        hosts.append(GLOBAL_REGISTRY)
    return hosts


def docker_config(hosts, api_key):
    """The .dockerconfigjson document; serialised the same way every run, so a no-op stays one."""
    import base64
    import json

    auth = base64.b64encode(f"{REGISTRY_USER}:{api_key}".encode()).decode()
    auths = {host: {"username": REGISTRY_USER, "password": api_key, "auth": auth} for host in hosts}
    return json.dumps({"auths": auths}, sort_keys=True, separators=(",", ":"))


def ensure_registry_namespace(transport, *, iam_endpoint, api_key, region, cr_endpoint, name,
                              resource_group=None, check_mode=False):
    """{"name", "created"} after making sure the registry namespace ``name`` exists."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_common import (
        DEFAULT_IAM_ENDPOINT,
    )
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_iam import IAMClient

    validate_namespace_name(name)
    iam = IAMClient(transport, resolve_endpoint(iam_endpoint, DEFAULT_IAM_ENDPOINT, "iam_endpoint"), api_key)
    api_url = registry_api_url(region or DEFAULT_REGION, cr_endpoint)
    registry = ContainerRegistry(iam, api_url, iam.current().account_id, resource_group)
    return {"name": name, "created": registry.ensure_namespace(name, check_mode=check_mode)}
