"""kube_client against a scripted HTTP server on 127.0.0.1: credentials, discovery cache, retries,
watch streams, and the errors a person sees."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils import kube_client  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_client import (  # noqa: E402
    KubeClient,
    connect,
    load_credentials,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_retry import RetryPolicy  # noqa: E402

CORE_V1 = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "namespaces", "kind": "Namespace", "namespaced": False, "verbs": ["get"]},
    {"name": "namespaces/status", "kind": "Namespace", "namespaced": False, "verbs": ["get"]},
    {"name": "secrets", "kind": "Secret", "namespaced": True, "verbs": ["get"]},
    {"name": "pods", "kind": "Pod", "namespaced": True, "verbs": ["get"]},
    {"name": "pods/log", "kind": "Pod", "namespaced": True, "verbs": ["get"]},
]}
GROUPS = {"kind": "APIGroupList", "groups": [
    {"name": "rbac.authorization.k8s.io", "versions": [{"groupVersion": "rbac.authorization.k8s.io/v1"}]}]}


class FakeApi:
    """Routes (method, path) to scripted answers and records every request."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_one(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                fake.requests.append({"method": method, "path": self.path, "headers": dict(self.headers),
                                      "body": body})
                answers = fake.routes.get((method, path))
                if not answers:
                    status, headers, payload = 404, {}, b"404 page not found"
                else:
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    if callable(answer):
                        answer(self)
                        return
                    status, headers, payload = answer
                if not isinstance(payload, bytes):
                    payload = json.dumps(payload).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self.handle_one("GET")

            def do_PATCH(self):
                self.handle_one("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def on(self, method, path, *answers):
        self.routes[(method, path)] = list(answers)

    def count(self, path_prefix=""):
        return sum(1 for r in self.requests if r["path"].startswith(path_prefix))


@pytest.fixture
def api(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fast = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)
    monkeypatch.setattr(kube_client, "DEFAULT_POLICY", fast)
    fake = FakeApi()
    fake.on("GET", "/api/v1", (200, {}, CORE_V1))
    fake.on("GET", "/apis", (200, {}, GROUPS))
    yield fake
    fake.server.shutdown()


def client_for(api, token="t0ken"):
    return connect({"host": api.url, "api_key": token})


def test_bearer_token_is_sent_and_resources_are_discovered_once(api):
    client = client_for(api)
    namespace = client.resource("v1", "Namespace")
    assert (namespace.plural, namespace.namespaced) == ("namespaces", False)
    assert client.resource("v1", "Secret").path("s", "ci") == "/api/v1/namespaces/ci/secrets/s"
    assert api.count("/api/v1") == 1
    assert api.requests[0]["headers"]["Authorization"] == "Bearer t0ken"

    warm = client_for(api)  # a new process: only the cache file carries over
    warm.resource("v1", "Secret")
    assert api.count("/api/v1") == 1 and warm.request_count == 0


def test_the_calls_of_one_stage_share_a_client_per_connection_in_their_thread(api):
    """shared_connections: the same options give the same client (one connection, reused), other
    options and other threads their own; outside the block every connect is a new client."""
    assert client_for(api) is not client_for(api)
    with kube_client.shared_connections():
        first, again = client_for(api), client_for(api)
        assert first is again and client_for(api, token="other") is not first
        elsewhere = []
        thread = threading.Thread(target=lambda: elsewhere.append(client_for(api)))
        thread.start()
        thread.join()
        assert elsewhere[0] is not first
        first.resource("v1", "Secret")
        again.request_json("GET", "/api/v1", action="read", target="the core API")
        assert first._connection is not None
        connection = first._connection
    assert connection.sock is None  # closed when the block ended
    assert client_for(api) is not first


def test_a_kind_missing_from_the_cache_is_fetched_again(api):
    client_for(api).resource("v1", "Namespace")
    api.on("GET", "/api/v1", (200, {}, {**CORE_V1, "resources": [
        *CORE_V1["resources"], {"name": "configmaps", "kind": "ConfigMap", "namespaced": True}]}))
    assert client_for(api).resource("v1", "ConfigMap").namespaced
    assert api.count("/api/v1") == 2


def test_an_api_that_is_not_served_names_the_component(api):
    with pytest.raises(KubeError) as error:
        client_for(api).resource("tekton.dev/v1", "Pipeline")
    assert "does not serve Pipeline in tekton.dev/v1; install Tekton Pipelines" in error.value.msg


def outdate(cache_file, stamp):
    """Make one part of a discovery cache file older than it is trusted."""
    with open(cache_file) as handle:
        data = json.load(handle)
    data[stamp] -= kube_client.DISCOVERY_TRUST_SECONDS + 1
    with open(cache_file, "w") as handle:
        json.dump(data, handle)


def test_served_groups_are_trusted_while_fresh(api):
    client = client_for(api)
    assert client.serves("rbac.authorization.k8s.io/v1")
    assert not client.serves("project.openshift.io/v1")
    assert api.count("/apis") == 1
    assert not client_for(api).serves("project.openshift.io/v1")
    assert api.count("/apis") == 1
    outdate(client.discovery_cache_file, "served_at")
    client_for(api).serves("project.openshift.io/v1")
    assert api.count("/apis") == 2


def test_the_server_version_is_kept_with_discovery_while_it_is_trusted(api):
    api.on("GET", "/version", (200, {}, {"major": "1", "minor": "28", "gitVersion": "v1.28.7"}))
    assert client_for(api).server_version()["gitVersion"] == "v1.28.7"
    again = client_for(api)  # a later run: only the cache file carries over
    assert again.server_version()["gitVersion"] == "v1.28.7" and again.request_count == 0
    outdate(again.discovery_cache_file, "version_at")
    api.on("GET", "/version", (200, {}, {"major": "1", "minor": "29", "gitVersion": "v1.29.2"}))
    assert client_for(api).server_version()["gitVersion"] == "v1.29.2"
    assert api.count("/version") == 2


def test_twin_connections_share_the_discovery_and_close_with_their_client(api):
    client = client_for(api)
    client.resource("v1", "Secret")
    first, *twins = client.connections(3)
    assert first is client and len(twins) == 2 and client.connections(3)[1:] == twins
    for twin in twins:
        assert twin.resource("v1", "Secret").plural == "secrets" and twin.request_count == 0
        twin.request_json("GET", "/api/v1", action="read", target="the core API")
    assert all(twin._connection is not None for twin in twins)
    client.close()
    assert all(twin._connection is None for twin in twins)


def test_a_resource_is_found_by_group_and_plural_as_rbac_names_it(api):
    api.on("GET", "/apis/rbac.authorization.k8s.io/v1", (200, {}, {"kind": "APIResourceList", "resources": [
        {"name": "clusterroles", "kind": "ClusterRole", "namespaced": False},
        {"name": "roles", "kind": "Role", "namespaced": True}]}))
    client = client_for(api)
    cluster_roles = client.resource_named("rbac.authorization.k8s.io", "clusterroles")
    assert (cluster_roles.api_version, cluster_roles.kind, cluster_roles.namespaced) == (
        "rbac.authorization.k8s.io/v1", "ClusterRole", False)
    assert client.resource_named("", "namespaces").namespaced is False
    assert client.resource_named("", "secrets").namespaced is True
    warm = client_for(api)  # from the cache file alone
    assert warm.resource_named("rbac.authorization.k8s.io", "roles").namespaced
    # A subresource as RBAC names it has its parent's scope, known without asking again.
    assert warm.resource_named("", "pods/log").namespaced is True
    assert warm.resource_named("", "namespaces/status").namespaced is False
    assert warm.request_count == 0


def test_a_resource_not_served_is_none_after_one_more_look(api):
    client = client_for(api)
    assert client.resource_named("tekton.dev", "pipelines") is None
    assert client.resource_named("", "widgets") is None
    assert api.count("/api/v1") == 2  # looked up again on the server once: it may be new
    assert [r["path"] for r in api.requests].count("/apis") == 2


def test_429_and_503_are_retried_then_answered(api):
    api.on("GET", "/api/v1/namespaces/ci",
           (429, {"Retry-After": "0"}, b""), (503, {}, b""), (200, {}, {"kind": "Namespace"}))
    client = client_for(api)
    path = client.resource("v1", "Namespace").path("ci")
    assert client.request_json("GET", path, action="read", target="x") == {"kind": "Namespace"}
    assert api.count("/api/v1/namespaces/ci") == 3


def test_persistent_5xx_fails_with_the_attempt_count(api):
    api.on("GET", "/api/v1/namespaces/ci", (500, {}, b""))
    client = client_for(api)
    with pytest.raises(KubeError) as error:
        client.request_json("GET", "/api/v1/namespaces/ci", action="read", target='Namespace "ci"')
    assert "500 Internal Server Error 4 times in a row" in error.value.msg
    assert api.count("/api/v1/namespaces/ci") == 4


def test_missing_ok_distinguishes_a_missing_object_from_a_missing_api(api):
    not_found = {"kind": "Status", "code": 404, "reason": "NotFound", "message": 'namespaces "ci" not found'}
    api.on("GET", "/api/v1/namespaces/ci", (404, {}, not_found))
    client = client_for(api)
    path = "/api/v1/namespaces/ci"
    assert client.request_json("GET", path, action="read", target="x", missing_ok=True) is None
    with pytest.raises(KubeError, match="does not serve Task"):
        client.request_json("GET", "/apis/tekton.dev/v1/tasks", action="list", target="x", missing_ok=True,
                            api_version="tekton.dev/v1", kind="Task")


def test_connection_refused_names_the_url(api):
    url = api.url
    api.server.shutdown()
    api.server.server_close()
    with pytest.raises(KubeError) as error:
        connect({"host": url}).request_json("GET", "/version", action="read", target="the version")
    assert f"the connection to {url} was refused" in error.value.msg


def test_watch_yields_events_line_by_line(api):
    events = [{"type": "ADDED", "object": {"metadata": {"name": "a"}}},
              {"type": "DELETED", "object": {"metadata": {"name": "a"}}}]

    def stream(handler):
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for event in events:
            line = json.dumps(event).encode() + b"\n"
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            handler.wfile.flush()
            time.sleep(0.01)  # separate chunks, as a real watch sends them
        handler.wfile.write(b"0\r\n\r\n")

    api.on("GET", "/api/v1/namespaces", stream)
    client = client_for(api)
    seen = list(client.watch_events("/api/v1/namespaces", query=[("fieldSelector", "metadata.name=a")],
                                    timeout=5, action="watch", target="x"))
    assert seen == events
    assert "watch=true" in api.requests[-1]["path"] and "timeoutSeconds=5" in api.requests[-1]["path"]


def test_a_torn_watch_line_ends_the_watch_instead_of_raising(api):
    """A line that does not decode (a stream cut mid-read) ends the watch like a broken stream: the
    caller lists again and re-watches, where an exception would kill the thread that follows a run."""
    good = {"type": "ADDED", "object": {"metadata": {"name": "a"}}}

    def stream(handler):
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for line in (json.dumps(good).encode() + b"\n", b'{"type": "MODIFIED", "obj\xae\n'):
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")

    api.on("GET", "/api/v1/namespaces", stream)
    seen = list(client_for(api).watch_events("/api/v1/namespaces", query=[], timeout=5, action="watch",
                                             target="x"))
    assert seen == [good]


# -- credentials ------------------------------------------------------------------------------


def kubeconfig(server="https://127.0.0.1:6443", **user):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "main",
            "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": "ca.pem"}}],
            "users": [{"name": "u", "user": user or {"token": "abc"}}],
            "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}},
                         {"name": "other", "context": {"cluster": "c", "user": "u"}}]}


def test_kubeconfig_file_relative_paths_and_token(tmp_path):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig()))
    creds = load_credentials({"kubeconfig": str(path)})
    assert creds.server == "https://127.0.0.1:6443"
    assert creds.ca_file == str(tmp_path / "ca.pem")
    assert creds.authorization() == "Bearer abc"
    assert creds.source == f"context 'main' of kubeconfig {path}"


def test_kubeconfig_files_merge_first_one_wins(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text(yaml.safe_dump({**kubeconfig(), "users": [{"name": "u", "user": {"token": "first"}}]}))
    second.write_text(yaml.safe_dump(kubeconfig(server="https://127.0.0.1:7443", token="second")))
    creds = load_credentials({"kubeconfig": f"{first}{os.pathsep}{second}"})
    assert creds.authorization() == "Bearer first" and creds.server.endswith(":6443")


def test_kubeconfig_dict_context_and_overrides(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    creds = load_credentials({"kubeconfig": kubeconfig(), "context": "other", "host": "https://127.0.0.1:9443",
                              "api_key": "override", "ca_cert": str(ca), "validate_certs": False})
    assert (creds.server, creds.authorization(), creds.ca_file, creds.verify) == (
        "https://127.0.0.1:9443", "Bearer override", str(ca), False)


def test_unknown_context_lists_the_known_ones():
    with pytest.raises(KubeError) as error:
        load_credentials({"kubeconfig": kubeconfig(), "context": "prod"})
    assert error.value.msg == ("Invalid value for option 'context': the kubeconfig given as a dict has no "
                               "context named 'prod'; use one of ['main', 'other'].")


def test_missing_kubeconfig_file_and_not_a_url(tmp_path):
    with pytest.raises(KubeError, match="no kubeconfig file at"):
        load_credentials({"kubeconfig": str(tmp_path / "absent")})
    with pytest.raises(KubeError, match="is not a URL"):
        load_credentials({"host": "127.0.0.1:6443"})


def test_no_cluster_at_all(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    with pytest.raises(KubeError, match="No cluster to talk to"):
        load_credentials({})


def test_in_cluster_service_account(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("pod-token\n")
    (tmp_path / "ca.crt").write_text("ca")
    monkeypatch.setattr(kube_client, "SERVICE_ACCOUNT_DIR", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    creds = load_credentials({})
    assert creds.server == "https://127.0.0.1:6443" and creds.ca_file == str(tmp_path / "ca.crt")
    (tmp_path / "token").write_text("rotated\n")
    assert creds.authorization() == "Bearer rotated"  # bound tokens rotate: read at use


def test_inline_client_key_stays_in_memory(tmp_path, monkeypatch):
    import base64
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    secret = b"-----BEGIN PRIVATE KEY-----\nnot really\n"
    creds = load_credentials({"kubeconfig": kubeconfig(**{
        "client-certificate-data": base64.b64encode(b"cert").decode(),
        "client-key-data": base64.b64encode(secret).decode()})})
    assert creds.key_file.startswith("/proc/self/fd/")
    with open(creds.key_file, "rb") as handle:
        assert handle.read() == secret
    assert list(tmp_path.iterdir()) == []


def test_basic_auth_header():
    creds = load_credentials({"kubeconfig": kubeconfig(username="admin", password="pw")})
    assert creds.authorization() == "Basic YWRtaW46cHc="


def test_client_is_reusable_for_the_kubernetes_package(api):
    client = KubeClient(load_credentials({"host": api.url, "api_key": "t0ken"}))
    api_client = client.kubernetes_api_client()
    assert api_client.configuration.host == api.url
    assert api_client.configuration.api_key == {"authorization": "Bearer t0ken"}


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on 127.0.0.1 that records what it was asked."""

    def __init__(self):
        import socket

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://user:pw@127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += client.recv(4096)
            self.requests.append(head.decode())
            target = head.split(b" ")[1].decode()
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()


def test_kubeconfig_proxy_url_tunnels_with_credentials(api):
    proxy = ConnectProxy()
    config = kubeconfig(server=api.url)
    config["clusters"][0]["cluster"]["proxy-url"] = proxy.url
    client = connect({"kubeconfig": config})
    assert client.resource("v1", "Namespace").plural == "namespaces"
    port = api.url.rsplit(":", 1)[1]
    assert proxy.requests[0].startswith(f"CONNECT 127.0.0.1:{port} HTTP/1.")
    assert "Proxy-Authorization: Basic dXNlcjpwdw==" in proxy.requests[0]
    proxy.listener.close()


def test_environment_proxy_is_used_except_for_loopback_and_no_proxy(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "internal.invalid")
    assert connect({"host": "https://127.0.0.1:6443"})._proxy() is None
    assert connect({"host": "https://api.internal.invalid:6443"})._proxy() is None
    proxy = connect({"host": "https://cluster.invalid:30000"})._proxy()
    assert (proxy.hostname, proxy.port) == ("127.0.0.1", 3128)
