"""IBM Cloud Kubernetes Service (IKS) and Red Hat OpenShift on IBM Cloud (ROKS): find a cluster by
name or id, read its facts, and build a kubeconfig (server, CA, bearer token) for it.

API (v2, global endpoint): GET /global/v2/getClusters, GET /global/v2/getCluster?cluster=NAME_OR_ID,
POST /global/v2/applyRBACAndGetKubeconfig {"cluster": …, "admin": …} (JSON kubeconfig; the IAM
refresh token goes in X-Auth-Refresh-Token so the service can mint the cluster's OIDC id token).
A ROKS cluster does not accept IAM tokens: its OAuth server (discovered at
<master>/.well-known/oauth-authorization-server) trades the API key, as user "apikey", for an
OpenShift token (GET <authorize>?client_id=openshift-challenging-client&response_type=token → 302
whose fragment holds access_token).
"""

from __future__ import annotations

import base64
import os
import tempfile
import urllib.parse

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_common import (
    IBMCloudError,
    describe_error_body,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_config import (
    build_kubeconfig as token_kubeconfig,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_config import current_or_none

OPENSHIFT_CLIENT = "openshift-challenging-client"


def cluster_facts(info):
    """The facts a playbook needs from a v2 getCluster answer (no secrets)."""
    ingress = info.get("ingress") or {}
    endpoints = info.get("serviceEndpoints") or {}
    return {
        "id": info.get("id"),
        "name": info.get("name"),
        "type": info.get("type"),
        "version": info.get("masterKubeVersion"),
        "master_url": info.get("masterURL") or info.get("serverURL"),
        "public_service_endpoint_url": endpoints.get("publicServiceEndpointURL") or None,
        "private_service_endpoint_url": endpoints.get("privateServiceEndpointURL") or None,
        "ingress_hostname": ingress.get("hostname") or info.get("ingressHostname"),
        "ingress_secret": ingress.get("secretName") or info.get("ingressSecretName"),
        "region": info.get("region"),
        "resource_group_id": info.get("resourceGroup"),
        "resource_group_name": info.get("resourceGroupName"),
        "state": info.get("state"),
        "provider": info.get("provider"),
        "crn": info.get("crn"),
    }


class KubernetesService:
    def __init__(self, iam, endpoint, resource_group=None):
        self.iam = iam
        self.base = endpoint + "/global/v2"
        self.resource_group = resource_group

    def _headers(self):
        return {"X-Auth-Resource-Group": self.resource_group} if self.resource_group else {}

    def _get_json(self, response, what, expected=(200,)):
        if response.status_code not in expected:
            raise self.iam.transport.error(what, response)
        try:
            return response.json()
        except ValueError:
            raise IBMCloudError(
                f"{what} answered {response.status_code} with a body that is not JSON",
                hint="check that cs_endpoint points at the IBM Cloud Kubernetes Service API",
            ) from None

    def list_clusters(self):
        what = "Listing clusters at " + self.base
        answer = self._get_json(
            self.iam.authorized("GET", self.base + "/getClusters", what, headers=self._headers()), what
        )
        return answer if isinstance(answer, list) else []

    def get_cluster(self, name_or_id, region=None):
        """The v2 cluster info; a missing cluster fails listing the clusters the key can see."""
        what = f"Looking up cluster {name_or_id!r} at {self.base}"
        response = self.iam.authorized(
            "GET", self.base + "/getCluster", what, headers=self._headers(), params={"cluster": name_or_id}
        )
        if response.status_code == 404:
            raise self._not_found(name_or_id, region, response)
        info = self._get_json(response, what)
        if region and info.get("region") != region:
            raise self._not_found(name_or_id, region, None)
        return info

    def _not_found(self, name_or_id, region, response):
        visible = [c for c in self.list_clusters() if not region or c.get("region") == region]
        names = ", ".join(sorted(f"{c.get('name')} ({c.get('id')}, {c.get('type')}, {c.get('region')})"
                                 for c in visible)) or "none"
        where = []
        if self.resource_group:
            where.append(f"resource group {self.resource_group}")
        if region:
            where.append(f"region {region}")
        scope = f" in {' and '.join(where)}" if where else ""
        code = request_id = None
        if response is not None:
            _, code, request_id = describe_error_body(response)
        return IBMCloudError(
            f"Cluster {name_or_id!r} was not found{scope} for this API key's account",
            status=404 if response is not None else None, code=code, request_id=request_id,
            hint=f"clusters this key can see: {names}",
        )

    def raw_kubeconfig(self, cluster_id, admin):
        what = f"Getting the {'admin ' if admin else ''}kubeconfig of cluster {cluster_id!r}"
        body = {"cluster": cluster_id}
        if admin:
            body["admin"] = True
        response = self.iam.authorized(
            "POST", self.base + "/applyRBACAndGetKubeconfig", what, headers=self._headers(),
            json=body, send_refresh_token=True,
        )
        config = self._get_json(response, what)
        if not isinstance(config, dict) or not config.get("clusters"):
            raise IBMCloudError(f"{what} answered without a kubeconfig",
                                hint="check that cs_endpoint points at the IBM Cloud Kubernetes Service API")
        return config


def kubeconfig_parts(raw):
    """(server, ca_pem, token) from a kubeconfig as the Kubernetes Service returns it: the user
    authenticates with a token, or by OIDC with an id token (its refresh needs the IAM client
    secret, so the id token is used as a bearer token and the module is re-run to renew it)."""
    selected = current_or_none(raw)
    if selected is None or not selected.token:
        raise IBMCloudError(
            "The kubeconfig returned by the Kubernetes Service has no server or no token user",
            hint="for a classic admin configuration (client certificates) use admin: false",
        )
    ca_data = selected.cluster.get("certificate-authority-data")
    return selected.server, base64.b64decode(ca_data).decode() if ca_data else None, selected.token


def build_kubeconfig(cluster_name, server, ca_pem, token, namespace="default", user_name=None):
    """A kubeconfig dict (kube_config.build_kubeconfig) from the parts kubeconfig_parts returns."""
    ca_data = base64.b64encode(ca_pem.encode()).decode() if ca_pem else None
    return token_kubeconfig(cluster_name, server, user=user_name or f"{cluster_name}-user", token=token,
                            namespace=namespace, ca_data=ca_data)


class OpenShiftOAuth:
    """Trade an IBM Cloud API key for an OpenShift access token at a ROKS cluster's OAuth server."""

    def __init__(self, transport, api_key):
        self.transport = transport
        self.api_key = api_key

    def authorize_endpoint(self, master_url, ca_pem):
        url = master_url.rstrip("/") + "/.well-known/oauth-authorization-server"
        what = "Discovering the OpenShift OAuth server at " + url
        with _ca_file(ca_pem) as verify:
            response = self.transport.request("GET", url, what, verify=verify,
                                              headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise self.transport.error(
                what, response,
                hint="if the cluster's OAuth server is elsewhere (private endpoints), set "
                     "openshift_oauth_endpoint",
            )
        try:
            endpoint = response.json().get("authorization_endpoint")
        except (ValueError, AttributeError):
            endpoint = None
        if not endpoint:
            raise IBMCloudError(f"{what} gave no authorization_endpoint",
                                hint="set openshift_oauth_endpoint to the cluster's OAuth server")
        return endpoint

    def token(self, authorize_url):
        """(token, expires_in seconds or None)."""
        what = "Requesting an OpenShift token from " + authorize_url
        response = self.transport.request(
            "GET", authorize_url, what, allow_redirects=False,
            params={"client_id": OPENSHIFT_CLIENT, "response_type": "token"},
            auth=("apikey", self.api_key),
        )
        if response.status_code != 302:
            hint = "the cluster's OAuth server refused the API key" if response.status_code == 401 else None
            raise self.transport.error(what, response, hint)
        fragment = urllib.parse.urlsplit(response.headers.get("Location", "")).fragment
        values = urllib.parse.parse_qs(fragment)
        token = (values.get("access_token") or [None])[0]
        if not token:
            raise IBMCloudError(f"{what} redirected without an access_token",
                                hint="check openshift_oauth_endpoint")
        expires_in = (values.get("expires_in") or [None])[0]
        return token, int(expires_in) if expires_in and expires_in.isdigit() else None


class _ca_file:
    """The cluster CA as a temporary file for `requests` (a public certificate, not a secret),
    removed on exit; True (the system store) when there is no CA."""

    def __init__(self, ca_pem):
        self.ca_pem = ca_pem
        self.path = None

    def __enter__(self):
        if not self.ca_pem:
            return True
        handle, self.path = tempfile.mkstemp(prefix="tekton-cd-ca-", suffix=".crt")
        with os.fdopen(handle, "w") as stream:
            stream.write(self.ca_pem)
        return self.path

    def __exit__(self, *exc_info):
        if self.path:
            os.unlink(self.path)
