"""An authenticated connection to one Kubernetes API server, with cached discovery.

    client = connect(params)                      # params: the options of kube_args.CONNECTION_ARGS
    ns = client.resource("v1", "Namespace")       # ApiResource: plural, namespaced, path()
    data = client.request_json("GET", ns.path("ci"), action="read", target='Namespace "ci"',
                               missing_ok=True)   # None on 404
    client.serves("project.openshift.io/v1")      # is that API group/version served?
    client.kubernetes_api_client()                # a kubernetes.client.ApiClient on the same
                                                  # credentials, for code that needs the package

Where the credentials come from, in order: ``kubeconfig`` (path(s) or dict; ``context``), else
``host`` (+ ``api_key``/``ca_cert``), else the pod's service account inside a cluster, else
``$KUBECONFIG`` / ``~/.kube/config``. ``host``, ``api_key``, ``ca_cert`` and ``validate_certs``
override what the kubeconfig says. Client certificates and keys given inline (``*-data``) reach
TLS through anonymous in-memory files (memfd), never through files on disk.

Why not kubernetes.client / kubernetes.dynamic underneath: importing the kubernetes package costs
~0.4-0.7 s, paid by every task (each module is a new process), several times what the requests
themselves take. So the common cases (token, token file, client certificate, basic auth,
in-cluster) speak HTTP with the standard library (~0.05 s to import); only exec plugins and auth
providers, whose protocols the package implements, load it (``kubernetes.config``) to get a token
or certificate. Discovery keeps the same model as kubernetes.dynamic's LazyDiscoverer: one cache
file per API server in ``$XDG_CACHE_HOME/tekton-cd`` (``~/.cache/tekton-cd``), resources listed
per group/version on first use, a miss re-fetched (one GET of that group/version), written
atomically; with a warm cache, discovery sends nothing.

Every request goes through kube_retry (429/5xx/connection reset) and every failure leaves as a
KubeError sentence (kube_errors).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import CONNECTION_OPTION_NAMES
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_config import (
    KubeconfigProblem,
    select_context,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import (
    KubeError,
    describe_api_answer,
    describe_transport_failure,
    not_served,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_retry import (
    DEFAULT_POLICY,
    RetriesExhausted,
    send_with_retries,
)

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
DISCOVERY_TRUST_SECONDS = 600  # how long the cached list of served API groups is believed
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
USER_AGENT = "tekton-cd"


@dataclass(frozen=True)
class ApiResource:
    """One kind as the API server serves it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self):
        return self.api_version.rpartition("/")[0]

    def path(self, name=None, namespace=None, subresource=None):
        base = "/apis/" + self.api_version if "/" in self.api_version else "/api/" + self.api_version
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        path = f"{base}/{self.plural}"
        if name:
            path += f"/{name}"
            if subresource:
                path += f"/{subresource}"
        return path


@dataclass
class Credentials:
    """Everything needed to reach and authenticate to one API server."""

    server: str
    source: str  # where it came from, for messages
    verify: bool = True
    ca_file: str | None = None
    ca_data: str | None = None  # PEM text
    cert_file: str | None = None
    key_file: str | None = None
    token: str | None = None
    token_file: str | None = None  # re-read per connection: bound tokens rotate
    username: str | None = None
    password: str | None = None
    proxy_url: str | None = None
    token_provider: object = field(default=None, repr=False)  # () -> token, for exec/auth providers
    kubeconfig: object = field(default=None, repr=False)  # the kubeconfig used: path(s) or dict
    context: str | None = None  # its context, when one was named
    # Twin connections (KubeClient.connections) ask from several threads; an exec plugin runs once.
    _provider_lock: object = field(default_factory=threading.Lock, repr=False, compare=False)

    def authorization(self):
        if self.token_provider is not None:
            with self._provider_lock:
                token = self.token_provider()
        elif self.token_file:
            with open(self.token_file) as handle:
                token = handle.read().strip()
        else:
            token = self.token
        if token:
            return "Bearer " + token
        if self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return None


def connect(params):
    """KubeClient for the connection options in ``params`` (the module's params are fine). Inside
    ``shared_connections()``, the same options give the same client in this thread."""
    clients = getattr(_shared, "clients", None)
    if clients is None:
        return KubeClient(load_credentials(params))
    key = json.dumps({name: params.get(name) for name in sorted(CONNECTION_OPTION_NAMES)}, sort_keys=True,
                     default=str)
    if key not in clients:
        clients[key] = KubeClient(load_credentials(params))
    return clients[key]


_shared = threading.local()


@contextlib.contextmanager
def shared_connections():
    """The module calls of one stage task (tekton_cd.pipeline.stage) share one client per set of
    connection options: one kubeconfig read, one TLS handshake and one discovery cache instead of
    one per call. Only this thread shares (the access review's worker threads make their own, as a
    connection is not thread-safe); the connections are closed when the block ends."""
    if getattr(_shared, "clients", None) is not None:
        yield
        return
    _shared.clients = {}
    try:
        yield
    finally:
        clients, _shared.clients = _shared.clients, None
        for client in clients.values():
            client.close()


class KubeClient:
    def __init__(self, credentials):
        self.credentials = credentials
        self.server = credentials.server.rstrip("/")
        self.source = credentials.source
        self.request_count = 0
        self._connection = None
        self._ssl_context = None
        self._discovery = None
        self._api_client = None
        self._twins = []

    def connections(self, count):
        """This client and ``count - 1`` twins (the same credentials, TLS context and discovery
        cache, each its own connection) for work spread over threads, one client per thread. The
        twins are kept for the next call and closed with this client."""
        tls = self._tls_context() if urlsplit(self.server).scheme == "https" else None
        while len(self._twins) < count - 1:
            twin = KubeClient(self.credentials)
            twin._ssl_context, twin._discovery = tls, self._discovery_cache()
            self._twins.append(twin)
        return [self, *self._twins[: count - 1]]

    def close(self):
        for client in (self, *self._twins):
            if client._connection is not None:
                client._connection.close()
                client._connection = None

    # -- HTTP ---------------------------------------------------------------------------------

    def _new_connection(self, timeout):
        import http.client

        parts = urlsplit(self.server)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        proxy = self._proxy()
        # Through a proxy: connect to it and tunnel (CONNECT) to the API server.
        target_host, target_port = (proxy.hostname, proxy.port or 80) if proxy else (host, port)
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(target_host, target_port, timeout=timeout,
                                                     context=self._tls_context())
        else:
            connection = http.client.HTTPConnection(target_host, target_port, timeout=timeout)
        if proxy:
            headers = {}
            if proxy.username:
                pair = f"{proxy.username}:{proxy.password or ''}".encode()
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair).decode()
            connection.set_tunnel(host, port, headers=headers)
        return connection

    def _proxy(self):
        """The proxy to tunnel through: the kubeconfig's proxy-url, else HTTPS_PROXY/NO_PROXY as
        kubectl reads them (never for loopback addresses)."""
        if self.credentials.proxy_url:
            return urlsplit(self.credentials.proxy_url)
        if not any(k.lower() in ("https_proxy", "http_proxy", "all_proxy") for k in os.environ):
            return None
        from urllib.request import getproxies_environment, proxy_bypass_environment

        parts = urlsplit(self.server)
        if parts.hostname in ("localhost", "127.0.0.1", "::1") or proxy_bypass_environment(parts.hostname):
            return None
        proxies = getproxies_environment()
        proxy = proxies.get(parts.scheme) or proxies.get("all")
        return urlsplit(proxy if "://" in (proxy or "://") else f"http://{proxy}") if proxy else None

    def _tls_context(self):
        if self._ssl_context is None:
            self._ssl_context = self._make_ssl_context()
        return self._ssl_context

    def _make_ssl_context(self):
        import ssl

        creds = self.credentials
        context = ssl.create_default_context(cafile=creds.ca_file, cadata=creds.ca_data)
        if not creds.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if creds.cert_file:
            context.load_cert_chain(creds.cert_file, creds.key_file)
        return context

    def send(self, method, path, *, query=None, body=None, content_type=None, timeout=READ_TIMEOUT,
             stream=False):
        """One HTTP exchange with retries: (status, headers, body bytes), or for ``stream`` a 2xx
        answer's open response object to read lines from (on its own connection)."""
        url = urlsplit(self.server).path.rstrip("/") + path
        if query:
            url += "?" + urlencode(list(query))
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type or "application/json"
        authorization = self.credentials.authorization()
        if authorization:
            headers["Authorization"] = authorization

        def send_once():
            self.request_count += 1
            if stream:
                connection = self._new_connection(timeout)
            else:
                if self._connection is None:
                    self._connection = self._new_connection(timeout)
                connection = self._connection
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
            try:
                connection.request(method, url, body=payload, headers=headers)
                response = connection.getresponse()
                if stream and 200 <= response.status < 300:
                    return response.status, dict(response.getheaders()), OpenStream(response, connection)
                data = response.read()
            except Exception:
                connection.close()
                if not stream:
                    self._connection = None
                raise
            if stream:
                connection.close()
            return response.status, dict(response.getheaders()), data

        return send_with_retries(send_once, DEFAULT_POLICY)

    def request_json(self, method, path, *, action, target, query=None, body=None, content_type=None,
                     missing_ok=False, api_version=None, kind=None, timeout=READ_TIMEOUT):
        """Send and decode; a non-2xx answer raises KubeError (404 gives None if ``missing_ok``)."""
        try:
            status, _headers, data = self.send(
                method, path, query=query, body=body, content_type=content_type, timeout=timeout
            )
        except RetriesExhausted as exc:
            if exc.error is not None:
                raise self.transport_failure(exc.error, action, target, exc.attempts) from None
            raise describe_api_answer(
                exc.status, exc.body, action=action, target=target, api_version=api_version, kind=kind,
                attempts=exc.attempts,
            ) from None
        except KubeError:
            raise
        except Exception as exc:
            raise self.transport_failure(exc, action, target) from None
        if 200 <= status < 300:
            return json.loads(data) if data else {}
        is_status = _is_status_body(data)
        if status == 404 and missing_ok and is_status:
            return None
        if status == 404 and not is_status and api_version:
            self._discovery_cache().forget(api_version)  # the cache was stale: that API went away
        raise describe_api_answer(status, data, action=action, target=target, api_version=api_version,
                                  kind=kind)

    def transport_failure(self, exc, action, target, attempts=1):
        return describe_transport_failure(exc, action=action, target=target, url=self.server,
                                          attempts=attempts)

    def request_text(self, method, path, *, action, target, query=None, timeout=READ_TIMEOUT):
        """Send and return the body as text (a pod's log); a non-2xx answer raises KubeError."""
        try:
            status, _headers, data = self.send(method, path, query=query, timeout=timeout)
        except RetriesExhausted as exc:
            if exc.error is not None:
                raise self.transport_failure(exc.error, action, target, exc.attempts) from None
            raise describe_api_answer(exc.status, exc.body, action=action, target=target,
                                      attempts=exc.attempts) from None
        except Exception as exc:
            raise self.transport_failure(exc, action, target) from None
        if not 200 <= status < 300:
            raise describe_api_answer(status, data, action=action, target=target)
        return data.decode("utf-8", errors="replace")

    def watch_events(self, path, *, query, timeout, action, target, on_open=None):
        """Yield the events of one WATCH request (dicts with type/object) until the server ends it.

        The server ends a watch after ``timeoutSeconds``; a read timeout on our side ends it too.
        ``on_open(stream)`` receives the open stream, whose ``interrupt()`` ends the watch from another
        thread (a reader blocked on the socket returns at once).
        """
        query = [*query, ("watch", "true"), ("timeoutSeconds", str(max(1, int(timeout))))]
        try:
            status, _headers, response = self.send("GET", path, query=query, timeout=timeout + 5, stream=True)
        except RetriesExhausted as exc:
            if exc.error is not None:
                raise self.transport_failure(exc.error, action, target, exc.attempts) from None
            raise describe_api_answer(exc.status, exc.body, action=action, target=target) from None
        except Exception as exc:
            raise self.transport_failure(exc, action, target) from None
        if not 200 <= status < 300:
            raise describe_api_answer(status, response, action=action, target=target)
        if on_open is not None:
            on_open(response)
        import http.client

        try:
            while True:
                try:
                    line = response.readline()
                except (TimeoutError, OSError, ValueError, http.client.HTTPException):
                    return  # the stream broke off (or was closed); the caller lists again and re-watches
                if not line:
                    return
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:  # also UnicodeDecodeError: a line torn as the stream was cut
                    return  # the caller lists again and re-watches, as for any broken stream
                yield event
        finally:
            response.close()

    # -- discovery ----------------------------------------------------------------------------

    def _discovery_cache(self):
        if self._discovery is None:
            self._discovery = DiscoveryCache(self.discovery_cache_file)
        return self._discovery

    @property
    def discovery_cache_file(self):
        digest = hashlib.sha256(self.server.encode()).hexdigest()[:20]
        return os.path.join(cache_dir(), f"discovery-{digest}.json")

    def resource(self, api_version, kind):
        """ApiResource for apiVersion/kind; KubeError naming the missing component if not served."""
        cache = self._discovery_cache()
        found = cache.lookup(api_version, kind)
        if found is None:
            resources = self._fetch_group_version(api_version)
            cache.store(api_version, resources)
            found = cache.lookup(api_version, kind)
            if found is None:
                raise not_served(api_version, kind)
        return ApiResource(api_version, kind, found["plural"], found["namespaced"])

    def _fetch_group_version(self, api_version):
        path = ("/apis/" if "/" in api_version else "/api/") + api_version
        try:
            answer = self.request_json("GET", path, action="list the resources of",
                                       target=f"API {api_version}")
        except KubeError as exc:
            if exc.status == 404:
                return {}  # that group/version is not served (any more)
            raise
        if not isinstance(answer.get("resources"), list):
            return {}
        return {
            item["kind"]: {"plural": item["name"], "namespaced": bool(item.get("namespaced"))}
            for item in answer["resources"]
            if "/" not in item.get("name", "/") and item.get("kind")
        }

    def server_version(self):
        """The API server's /version answer ({gitVersion, ...}), from the discovery cache while it is
        trusted (DISCOVERY_TRUST_SECONDS), else one GET: a re-run soon after asks nothing."""
        cache = self._discovery_cache()
        version = cache.server_version(max_age=DISCOVERY_TRUST_SECONDS)
        if version is None:
            version = self.request_json("GET", "/version", action="read", target="the API server's version")
            cache.store_server_version(version)
        return version

    def serves(self, api_version):
        """Whether the server serves this group/version; a recent list of groups is trusted."""
        cache = self._discovery_cache()
        if "/" not in api_version or cache.has_resources(api_version):
            return True  # the core API is always there
        return api_version in self._served_group_versions()

    def _served_group_versions(self, *, refetch=False):
        cache = self._discovery_cache()
        served = None if refetch else cache.served_group_versions(max_age=DISCOVERY_TRUST_SECONDS)
        if served is None:
            answer = self.request_json("GET", "/apis", action="list", target="the served API groups")
            served = [version["groupVersion"] for group in answer.get("groups") or []
                      for version in group.get("versions") or []]
            cache.store_served(served)
        return served

    def resource_named(self, group, plural):
        """ApiResource for a resource as RBAC names it (API group and plural name, no version), from
        any served version of the group; None when the server serves no such resource. A miss in
        the cache is looked up again on the server once, as for ``resource``. A subresource
        (``pods/log``) is its parent's: discovery lists it apart, but its scope is the parent's."""
        cache = self._discovery_cache()
        plural = plural.partition("/")[0]
        for refetch in (False, True):
            versions = (["v1"] if not group else
                        [version for version in self._served_group_versions(refetch=refetch and bool(group))
                         if version.rpartition("/")[0] == group])
            for api_version in versions:
                if refetch or not cache.has_resources(api_version):
                    cache.store(api_version, self._fetch_group_version(api_version))
                found = cache.lookup_plural(api_version, plural)
                if found is not None:
                    kind, entry = found
                    return ApiResource(api_version, kind, plural, entry["namespaced"])
        return None

    def ca_bundle(self):
        """The CA bundle this connection trusts (PEM bytes), or None if it uses the system store."""
        credentials = self.credentials
        if credentials.ca_data:
            return credentials.ca_data.encode()
        if not credentials.ca_file:
            return None
        try:
            with open(credentials.ca_file, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise KubeError(f"Could not read the connection's CA bundle {credentials.ca_file}: "
                            f"{exc.strerror}; set ca_cert_data to the cluster's CA.") from None

    # -- the kubernetes package, for code that needs it ----------------------------------------

    def kubernetes_api_client(self):
        """kubernetes.client.ApiClient on these credentials (imports the package: ~0.5 s)."""
        if self._api_client is None:
            from kubernetes.client import ApiClient, Configuration

            creds = self.credentials
            configuration = Configuration(host=self.server)
            configuration.retries = False  # kube_retry decides what is retried
            configuration.verify_ssl = creds.verify
            configuration.ssl_ca_cert = creds.ca_file
            if creds.ca_data:
                configuration.ssl_ca_cert = _memory_file(creds.ca_data.encode(), "ca")
            configuration.cert_file, configuration.key_file = creds.cert_file, creds.key_file
            authorization = creds.authorization()
            if authorization:
                configuration.api_key = {"authorization": authorization}
            self._api_client = ApiClient(configuration)
        return self._api_client


class OpenStream:
    """A streaming answer (a watch) on a connection of its own: ``readline`` reads it and ``close``
    ends it (from the reading thread); ``interrupt`` may be called from any other thread and makes a
    reader waiting on the socket see the end of the stream at once."""

    def __init__(self, response, connection):
        self.response = response
        self.connection = connection

    def readline(self):
        return self.response.readline()

    def interrupt(self):
        import socket

        sock = self.connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the server or by the reader
                sock.shutdown(socket.SHUT_RDWR)

    def close(self):
        self.response.close()
        self.connection.close()


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tekton-cd")


def _is_status_body(data):
    try:
        return json.loads(data).get("kind") == "Status"
    except (ValueError, AttributeError, TypeError):
        return False


class DiscoveryCache:
    """Per-server discovery on disk: {"resources": {apiVersion: {kind: {plural, namespaced}}},
    "served": [groupVersion, ...], "served_at": epoch seconds}."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path) as handle:
                self.data = json.load(handle)
            if not isinstance(self.data.get("resources"), dict):
                raise ValueError("no resources")
        except (OSError, ValueError, AttributeError):
            self.data = {"resources": {}}

    def lookup(self, api_version, kind):
        return (self.data["resources"].get(api_version) or {}).get(kind)

    def lookup_plural(self, api_version, plural):
        """(kind, {plural, namespaced}) of the resource of that plural name, or None."""
        for kind, entry in (self.data["resources"].get(api_version) or {}).items():
            if entry.get("plural") == plural:
                return kind, entry
        return None

    def has_resources(self, api_version):
        return bool(self.data["resources"].get(api_version))

    def store(self, api_version, resources):
        if resources:
            self.data["resources"][api_version] = resources
        else:
            self.data["resources"].pop(api_version, None)
        self._save()

    def forget(self, api_version):
        if self.data["resources"].pop(api_version, None) is not None:
            self.data.pop("served_at", None)
            self._save()

    def served_group_versions(self, max_age):
        if time.time() - self.data.get("served_at", 0) > max_age:
            return None
        return self.data.get("served") or []

    def server_version(self, max_age):
        """The cached /version answer, or None when there is none this recent."""
        if time.time() - self.data.get("version_at", 0) > max_age:
            return None
        return self.data.get("version")

    def store_server_version(self, version):
        self.data["version"], self.data["version_at"] = version, time.time()
        self._save()

    def store_served(self, served):
        self.data["served"], self.data["served_at"] = sorted(served), time.time()
        self._save()

    def _save(self):
        # Parallel forks and threads (access reviews ask in parallel) share the file: write a
        # temp file private to this process and thread, then rename it over.
        temp = f"{self.path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            with open(temp, "w") as handle:
                json.dump(self.data, handle)
            os.replace(temp, self.path)
        except OSError:
            # A cache that cannot be written only costs the next run a discovery request.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)


# -- credentials ------------------------------------------------------------------------------


class NoClusterConfigured(KubeError):
    """None of the connection options, the pod's service account or a default kubeconfig is there."""


class MissingKubeconfig(KubeError):
    """The kubeconfig named (option, K8S_AUTH_KUBECONFIG or KUBECONFIG) is not a file."""

    def __init__(self, paths, msg=None):
        super().__init__(msg or KubeError.invalid("kubeconfig", f"no kubeconfig file at {paths}",
                                                  "give the path of an existing kubeconfig file").msg)
        self.paths = paths


def load_credentials(params):
    """Credentials for the connection options (kubeconfig, context, host, api_key, ...)."""
    kubeconfig = params.get("kubeconfig")
    if isinstance(kubeconfig, str) and not kubeconfig.strip():
        kubeconfig = None  # an empty K8S_AUTH_KUBECONFIG (or option) means "not set", as for KUBECONFIG
    host = params.get("host")
    if kubeconfig is not None:
        credentials = _from_kubeconfig(kubeconfig, params.get("context"))
    elif host:
        credentials = Credentials(server=host, source="the host option")
    elif os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(
            os.path.join(SERVICE_ACCOUNT_DIR, "token")):
        credentials = _in_cluster()
    else:
        named = os.environ.get("KUBECONFIG", "").strip()
        default = named or os.path.join(os.path.expanduser("~"), ".kube", "config")
        if not named and not os.path.exists(default):
            raise NoClusterConfigured(
                "No cluster to talk to: set the kubeconfig option (or K8S_AUTH_KUBECONFIG/KUBECONFIG), "
                "or host and api_key, or run inside a pod with a service account."
            )
        try:
            credentials = _from_kubeconfig(default, params.get("context"))
        except MissingKubeconfig:
            # A KUBECONFIG that names no file is an error about that file (as with the option);
            # only when nothing at all is configured is there "no cluster".
            raise MissingKubeconfig(named, f"No cluster to talk to: KUBECONFIG names {named}, which is not a "
                                           "kubeconfig file; correct KUBECONFIG, or set the kubeconfig "
                                           "option (K8S_AUTH_KUBECONFIG), or host and api_key.") from None
    _apply_overrides(credentials, params)
    server = credentials.server or ""
    if not urlsplit(server).hostname or not server.startswith(("https://", "http://")):
        raise KubeError(
            f"The API server address {credentials.server!r} from {credentials.source} is not a URL; "
            "set host (or the kubeconfig's cluster server) to e.g. https://127.0.0.1:6443."
        )
    return credentials


def _apply_overrides(credentials, params):
    if params.get("host"):
        credentials.server = params["host"]
    if params.get("api_key"):
        credentials.token, credentials.token_file, credentials.token_provider = params["api_key"], None, None
    if params.get("ca_cert"):
        if not os.path.isfile(params["ca_cert"]):
            raise KubeError.invalid("ca_cert", f"{params['ca_cert']} is not a readable file",
                                    "give the path of the cluster's CA bundle (PEM)")
        credentials.ca_file, credentials.ca_data = params["ca_cert"], None
    if params.get("validate_certs") is not None:
        credentials.verify = bool(params["validate_certs"])


def _in_cluster():
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    ca_file = os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt")
    return Credentials(server=f"https://{host}:{port}", source="the pod's service account",
                       ca_file=ca_file if os.path.exists(ca_file) else None,
                       token_file=os.path.join(SERVICE_ACCOUNT_DIR, "token"))


def _from_kubeconfig(kubeconfig, context_name):
    if isinstance(kubeconfig, dict):
        config, source = _absolute_paths(dict(kubeconfig), os.getcwd()), "the kubeconfig given as a dict"
    elif isinstance(kubeconfig, str) and kubeconfig.strip():
        config, source = _read_kubeconfig_files(kubeconfig), f"kubeconfig {kubeconfig}"
    else:
        raise KubeError.invalid("kubeconfig", f"{type(kubeconfig).__name__} given",
                                "give a file path or a kubeconfig dictionary")
    try:
        selected = select_context(config, context_name)
    except KubeconfigProblem as problem:
        if problem.what == "cluster":
            raise KubeError(f"The cluster {problem.cluster!r} named by context "
                            f"{context_name or config.get('current-context')!r} of {source} is missing "
                            "or has no server; fix that kubeconfig.") from None
        fix = "set context to one of" if problem.what == "no-current-context" else "use one of"
        raise KubeError.invalid("context", f"{source} has {str(problem).removeprefix('it has ')}",
                                f"{fix} {list(problem.choices)}") from None
    wanted, cluster, user = selected.name, selected.cluster, selected.user
    where = f"context {wanted!r} of {source}"
    credentials = Credentials(server=cluster["server"], source=where,
                              verify=not cluster.get("insecure-skip-tls-verify", False),
                              proxy_url=cluster.get("proxy-url"), kubeconfig=kubeconfig, context=context_name)
    if cluster.get("certificate-authority-data"):
        credentials.ca_data = _decode(cluster["certificate-authority-data"], where).decode()
    elif cluster.get("certificate-authority"):
        credentials.ca_file = cluster["certificate-authority"]
    if user.get("exec") or user.get("auth-provider"):
        _use_kubernetes_package(credentials, config, wanted)
        return credentials
    if user.get("client-certificate-data"):
        certificate = _decode(user["client-certificate-data"], where)
        credentials.cert_file = _memory_file(certificate, "client-certificate")
    elif user.get("client-certificate"):
        credentials.cert_file = user["client-certificate"]
    if user.get("client-key-data"):
        credentials.key_file = _memory_file(_decode(user["client-key-data"], where), "client-key")
    elif user.get("client-key"):
        credentials.key_file = user["client-key"]
    credentials.token = user.get("token")
    credentials.token_file = user.get("tokenFile")
    credentials.username, credentials.password = user.get("username"), user.get("password")
    return credentials


def _decode(data, where):
    try:
        return base64.b64decode(data, validate=True)
    except (ValueError, TypeError):
        raise KubeError(f"A *-data field of {where} is not valid base64; fix that kubeconfig.") from None


def _use_kubernetes_package(credentials, config, context_name):
    """exec plugins and auth providers: let kubernetes.config run them, then use what they give."""
    from kubernetes.client import Configuration
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import load_kube_config_from_dict

    configuration = Configuration()
    try:
        load_kube_config_from_dict(config, context=context_name, client_configuration=configuration,
                                   persist_config=False)
    except ConfigException as exc:
        raise KubeError(f"Could not get credentials from {credentials.source}: {exc}; "
                        "fix that kubeconfig's user entry.") from None
    credentials.cert_file, credentials.key_file = configuration.cert_file, configuration.key_file

    def token():
        if configuration.refresh_api_key_hook is not None:
            configuration.refresh_api_key_hook(configuration)
        value = (configuration.api_key or {}).get("authorization", "")
        return value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value or None

    credentials.token_provider = token


def _read_kubeconfig_files(paths):
    """Merge kubeconfig files like kubectl: the first file to define a name or current-context wins."""
    import yaml

    merged = {"clusters": [], "users": [], "contexts": []}
    seen = {key: set() for key in merged}
    files = [os.path.expanduser(p) for p in paths.split(os.pathsep) if p]
    readable = [p for p in files if os.path.isfile(p)]
    if not readable:
        raise MissingKubeconfig(paths)
    for path in readable:
        try:
            with open(path) as handle:
                data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise KubeError.invalid("kubeconfig", f"{path} cannot be read as YAML ({exc})",
                                    "fix or replace that file") from None
        if not isinstance(data, dict):
            raise KubeError.invalid("kubeconfig", f"{path} is not a kubeconfig mapping",
                                    "give a kubeconfig file")
        data = _absolute_paths(data, os.path.dirname(os.path.abspath(path)))
        for key in merged:
            for entry in data.get(key) or []:
                if isinstance(entry, dict) and entry.get("name") not in seen[key]:
                    seen[key].add(entry.get("name"))
                    merged[key].append(entry)
        if not merged.get("current-context") and data.get("current-context"):
            merged["current-context"] = data["current-context"]
    return merged


_PATH_FIELDS = {
    "clusters": ("cluster", ("certificate-authority",)),
    "users": ("user", ("client-certificate", "client-key", "tokenFile")),
}


def _absolute_paths(config, base):
    """Relative file references in a kubeconfig are relative to the file that holds them."""
    for section, (inner, fields) in _PATH_FIELDS.items():
        entries = []
        for entry in config.get(section) or []:
            if isinstance(entry, dict) and isinstance(entry.get(inner), dict):
                body = dict(entry[inner])
                for name in fields:
                    value = body.get(name)
                    if isinstance(value, str) and value and not os.path.isabs(os.path.expanduser(value)):
                        body[name] = os.path.join(base, value)
                    elif isinstance(value, str) and value:
                        body[name] = os.path.expanduser(value)
                entry = {**entry, inner: body}
            entries.append(entry)
        if section in config:
            config[section] = entries
    return config


_open_memory_files = []  # kept open for the life of the process: TLS may re-read them


def _memory_file(content, label):
    """A path to ``content`` that lives in memory only (Linux memfd); a private temp file elsewhere."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(f"tekton-cd-{label}", os.MFD_CLOEXEC)
        os.write(fd, content)
        _open_memory_files.append(fd)
        return f"/proc/self/fd/{fd}"
    import atexit
    import tempfile

    fd, path = tempfile.mkstemp(prefix="tekton-cd-")  # mode 0600, removed at exit
    os.write(fd, content)
    os.close(fd)
    atexit.register(os.unlink, path)
    return path
