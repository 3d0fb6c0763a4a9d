"""A thin raw-HTTP client for conformance tests: exact status codes and bodies, nothing interpreted."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import requests


class RawApi:
    def __init__(self, server: str, ca_pem: str, token: str | None, user_agent: str = "conformance/1.0"):
        self.server = server.rstrip("/")
        self._ca_dir = tempfile.TemporaryDirectory(prefix="conformance-ca-")
        self.ca_file = Path(self._ca_dir.name) / "ca.crt"
        self.ca_file.write_text(ca_pem)
        self.session = requests.Session()
        self.session.verify = str(self.ca_file)
        self.session.headers["User-Agent"] = user_agent
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body=None, content_type: str = "application/json", **params):
        data = None
        if body is not None:
            data = body if isinstance(body, str | bytes) else json.dumps(body)
        # verify= per request: a session-level setting loses to REQUESTS_CA_BUNDLE in the environment.
        answer = self.session.request(
            method,
            self.server + path,
            data=data,
            params=params or None,
            headers={"Content-Type": content_type},
            timeout=30,
            verify=str(self.ca_file),
        )
        try:
            payload = answer.json()
        except ValueError:
            payload = answer.text
        return answer.status_code, payload

    def get(self, path, **params):
        return self.call("GET", path, **params)

    def post(self, path, body, **params):
        return self.call("POST", path, body, **params)

    def put(self, path, body, **params):
        return self.call("PUT", path, body, **params)

    def delete(self, path, body=None, **params):
        return self.call("DELETE", path, body, **params)

    def merge_patch(self, path, body, **params):
        return self.call("PATCH", path, body, "application/merge-patch+json", **params)

    def json_patch(self, path, body, **params):
        return self.call("PATCH", path, body, "application/json-patch+json", **params)

    def strategic_patch(self, path, body, **params):
        return self.call("PATCH", path, body, "application/strategic-merge-patch+json", **params)

    def apply(self, path, body, manager="tekton-cd", **params):
        return self.call(
            "PATCH", path, json.dumps(body), "application/apply-patch+yaml", fieldManager=manager, **params
        )

    def watch(self, path, timeout: float = 5.0, stop=None, **params):
        """Events of a watch until `stop(events)` is true or the server ends it (timeoutSeconds)."""
        params = {"watch": "true", "timeoutSeconds": str(int(timeout)), **params}
        events = []
        with self.session.get(
            self.server + path, params=params, stream=True, timeout=timeout + 10, verify=str(self.ca_file)
        ) as answer:
            assert answer.status_code == 200, answer.text
            for line in answer.iter_lines():
                if line:
                    events.append(json.loads(line))
                    if stop is not None and stop(events):
                        break
        return events

    def wait_until(self, predicate, timeout: float = 10.0, interval: float = 0.05):
        """Poll `predicate()` until true (bounded); returns its last value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(interval)


ROOT_CA_CONFIGMAP = "kube-root-ca.crt"


def wait_for_root_ca(api: RawApi, namespace: str, timeout: float = 30.0) -> dict:
    """The `kube-root-ca.crt` ConfigMap of a new namespace, once published. A real cluster's
    controller-manager publishes it asynchronously, shortly after the namespace is created: a watch
    without a resourceVersion reports it as ADDED whether it exists already or appears later."""
    events = api.watch(
        f"/api/v1/namespaces/{namespace}/configmaps",
        timeout=timeout,
        stop=lambda seen: any(e["type"] == "ADDED" for e in seen),
        fieldSelector=f"metadata.name={ROOT_CA_CONFIGMAP}",
    )
    added = [e["object"] for e in events if e["type"] == "ADDED"]
    assert added, f"{ROOT_CA_CONFIGMAP} was not published in namespace {namespace} within {timeout:.0f} s"
    return added[0]


def token_of(kubeconfig: dict) -> str | None:
    context_name = kubeconfig.get("current-context")
    context = next(c["context"] for c in kubeconfig["contexts"] if c["name"] == context_name)
    user = next(u["user"] for u in kubeconfig["users"] if u["name"] == context["user"])
    return user.get("token")


def strip_volatile(entry: dict) -> dict:
    """A managedFields entry without its timestamp."""
    return {k: v for k, v in entry.items() if k != "time"}
