"""HTTP in and out for the fake IBM Cloud: parse requests, call the models, render answers and
IBM's error bodies. Rules live in models.py; error shapes in exceptions.py."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import json
import urllib.parse

from aiohttp import web

from emulator.controls import CONTROL_PREFIX, WRITES_SINCE_RESET, Controls
from emulator.ibmcloud import exceptions
from emulator.ibmcloud.models import (
    FaultInjector,
    IAMBackend,
    Identity,
    KubernetesServiceBackend,
    RegistryBackend,
)

BACKEND_KEY = web.AppKey("ibmcloud_backend", object)
# Who a request authenticated as (an IAM id), for the write log.
CALLER_KEY = web.RequestKey("ibmcloud_caller", str)
# POSTs that exchange credentials for a token and store nothing: queries, not writes.
QUERY_PATHS = frozenset({"/identity/token"})


@dataclasses.dataclass
class LoggedRequest:
    service: str
    method: str
    path: str
    status: int


@dataclasses.dataclass
class Backend:
    """Everything the handlers share: the service models, the fault injector, the request log."""

    iam: IAMBackend
    containers: KubernetesServiceBackend
    registry: RegistryBackend
    faults: FaultInjector
    log: list[LoggedRequest] = dataclasses.field(default_factory=list)
    controls: Controls = dataclasses.field(default_factory=Controls)
    control_token: str = ""  # the bearer token /_emulator/ requests must carry


def service_of(path: str) -> str:
    if path.startswith("/identity/"):
        return "iam"
    if path.startswith("/global/"):
        return "containers"
    if path.startswith("/api/"):
        return "registry"
    if path.startswith("/openshift/"):
        return "oauth"
    return "unknown"


def _json_error(error: exceptions.IBMCloudFakeError, request: web.Request) -> web.Response:
    headers = {}
    if error.status == 429:
        headers["Retry-After"] = "0"
    if isinstance(error, exceptions.OAuthError) and error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="openshift"'
    return web.json_response(error.body(str(request.url.origin())), status=error.status, headers=headers)


@web.middleware
async def faults_and_log(request: web.Request, handler):
    backend: Backend = request.app[BACKEND_KEY]
    if request.path.startswith(CONTROL_PREFIX):  # test controls: neither faulted nor logged
        return await handler(request)
    service = service_of(request.path)
    status = backend.faults.take(service)
    if status is not None:
        response = _json_error(exceptions.InjectedFault(status, service), request)
    else:
        try:
            response = await handler(request)
        except exceptions.IBMCloudFakeError as error:
            response = _json_error(error, request)
    backend.log.append(LoggedRequest(service, request.method, request.path, response.status))
    backend.controls.record_write(
        request.method,
        request.path,
        request.get(CALLER_KEY, ""),
        response.status,
        "query" if request.path in QUERY_PATHS else "write",
    )
    return response


async def control(request: web.Request) -> web.Response:
    """`GET /_emulator/writes-since-reset` and `POST /_emulator/reset`, answered as the emulated
    cluster answers them; only with the fake's control token."""
    backend = _backend(request)
    if not backend.control_token or not hmac.compare_digest(
        _bearer(request).encode(), backend.control_token.encode()
    ):
        return web.json_response({"message": "emulator controls need the fake's control token"}, status=401)
    action = request.match_info["action"]
    if action == WRITES_SINCE_RESET and request.method == "GET":
        return web.json_response(backend.controls.writes_since_reset())
    if action == "reset" and request.method == "POST":
        backend.controls.reset()
        return web.json_response({"ok": True})
    return web.json_response({"message": f"no emulator control {request.method} {request.path}"}, status=404)


def _backend(request: web.Request) -> Backend:
    return request.app[BACKEND_KEY]


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else ""


# --- IAM ---------------------------------------------------------------------------------------


async def iam_token(request: web.Request) -> web.Response:
    if not request.content_type == "application/x-www-form-urlencoded":
        raise exceptions.IAMError(
            400, "BXNIM0105E", "Content-Type must be application/x-www-form-urlencoded."
        )
    form = {key: str(value) for key, value in (await request.post()).items()}
    answer = _backend(request).iam.token(form, _basic_credentials(request))
    identity = _backend(request).iam.verify(answer.get("access_token", ""))
    if identity is not None:
        request[CALLER_KEY] = identity.iam_id
    return web.json_response(answer)


# --- Kubernetes Service ------------------------------------------------------------------------


def _caller(request: web.Request) -> Identity:
    token = _bearer(request)
    if not token:
        raise exceptions.token_missing()
    identity = _backend(request).iam.verify(token)
    if identity is None:
        raise exceptions.token_not_verified()
    request[CALLER_KEY] = identity.iam_id
    return identity


def _resource_group(request: web.Request) -> str | None:
    return request.headers.get("X-Auth-Resource-Group") or None


async def get_clusters(request: web.Request) -> web.Response:
    identity = _caller(request)
    clusters = _backend(request).containers.list(identity, _resource_group(request))
    provider = request.query.get("provider")
    return web.json_response([c.info() for c in clusters if not provider or c.provider == provider])


async def get_cluster(request: web.Request) -> web.Response:
    identity = _caller(request)
    name_or_id = request.query.get("cluster", "")
    if not name_or_id:
        raise exceptions.bad_request("The 'cluster' query parameter is required.")
    cluster = _backend(request).containers.find(identity, name_or_id, _resource_group(request))
    return web.json_response(cluster.info())


async def apply_rbac_and_get_kubeconfig(request: web.Request) -> web.Response:
    identity = _caller(request)
    try:
        body = await request.json()
    except json.JSONDecodeError as error:
        raise exceptions.bad_request(f"The request body is not valid JSON: {error}.") from error
    if not isinstance(body, dict) or not body.get("cluster"):
        raise exceptions.bad_request("The 'cluster' field is required in the request body.")
    if body.get("format") == "zip":
        raise exceptions.bad_request("The fake IBM Cloud answers JSON kubeconfigs only; omit 'format'.")
    containers = _backend(request).containers
    cluster = containers.find(identity, str(body["cluster"]), _resource_group(request))
    config = containers.kubeconfig(
        identity, cluster, bool(body.get("admin")), request.headers.get("X-Auth-Refresh-Token", "")
    )
    return web.json_response(config)


# --- OpenShift OAuth server (one per ROKS cluster; real ones live next to the cluster's master) ---


def _openshift_cluster(request: web.Request):
    cluster = _backend(request).containers.by_id(request.match_info["cluster_id"])
    if cluster is None or cluster.type != "openshift":
        raise exceptions.OAuthError(404, "no such OpenShift cluster")
    return cluster


def oauth_base(request: web.Request, cluster_id: str) -> str:
    return f"{request.url.origin()}/openshift/{cluster_id}"


async def oauth_metadata(request: web.Request) -> web.Response:
    cluster = _openshift_cluster(request)
    base = oauth_base(request, cluster.id)
    return web.json_response(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "response_types_supported": ["code", "token"],
            "grant_types_supported": ["authorization_code", "implicit"],
        }
    )


async def oauth_authorize(request: web.Request) -> web.Response:
    cluster = _openshift_cluster(request)
    if (
        request.query.get("client_id") != "openshift-challenging-client"
        or request.query.get("response_type") != "token"
    ):
        raise exceptions.OAuthError(
            400, "client_id must be openshift-challenging-client, response_type token"
        )
    credentials = _basic_credentials(request)
    if credentials is None:
        raise exceptions.OAuthError(401, "Basic credentials are required.")
    token = _backend(request).containers.openshift_token(cluster, *credentials)
    fragment = urllib.parse.urlencode(
        {"access_token": token, "expires_in": "86400", "scope": "user:full", "token_type": "Bearer"}
    )
    location = f"{oauth_base(request, cluster.id)}/oauth/token/implicit#{fragment}"
    return web.Response(status=302, headers={"Location": location})


# --- Container Registry ------------------------------------------------------------------------


def _registry_caller(request: web.Request) -> Identity:
    identity = _backend(request).iam.verify(_bearer(request)) if _bearer(request) else None
    if identity is None:
        raise exceptions.registry_unauthorized()
    request[CALLER_KEY] = identity.iam_id
    if request.headers.get("Account", identity.account_id) != identity.account_id:
        raise exceptions.registry_account_mismatch()
    return identity


async def list_namespaces(request: web.Request) -> web.Response:
    identity = _registry_caller(request)
    return web.json_response(_backend(request).registry.names(identity.account_id))


async def list_namespace_details(request: web.Request) -> web.Response:
    identity = _registry_caller(request)
    return web.json_response(_backend(request).registry.details(identity.account_id))


async def create_namespace(request: web.Request) -> web.Response:
    identity = _registry_caller(request)
    name = request.match_info["name"]
    namespace, created = _backend(request).registry.ensure(
        identity.account_id, name, request.headers.get("X-Auth-Resource-Group", "")
    )
    return web.json_response({"namespace": namespace.name}, status=201 if created else 200)
