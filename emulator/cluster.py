"""`EmulatedCluster`: the emulated Kubernetes API server on 127.0.0.1, as a context manager."""

from __future__ import annotations

import base64
import copy
import secrets
from pathlib import Path

import yaml

from emulator.controls import Controls
from emulator.kube import openshift as openshift_projects
from emulator.kube.models import ClusterState
from emulator.kube.responses import KubeApi
from emulator.kube.workloads import WorkloadSimulator
from emulator.server import BackgroundServer
from emulator.tekton.controller import TektonController

CLUSTER_NAME = "emulated"


class EmulatedCluster:
    """A stateful Kubernetes API server over HTTPS on 127.0.0.1 (random port unless `port`);
    with `openshift=True` it also serves OpenShift's project API; with `tekton=True` (or "v1") it has
    Tekton Pipelines v1.15.0's CRDs and ConfigMaps installed, with `tekton="v1beta1"` an older Tekton
    that serves only tekton.dev/v1beta1 (emulator/tekton/install.py). Its Tekton controller
    (`cluster.tekton`) runs PipelineRuns when the Tekton CRDs are served; `tekton_controller=False`
    switches it off.

    with EmulatedCluster() as cluster:
        cluster.url, cluster.ca_file, cluster.admin_token, cluster.kubeconfig_dict()
        cluster.controls.fail_next(verb="PATCH", path=r"/configmaps/", status=429)
    """

    def __init__(
        self,
        port: int = 0,
        admin_token: str | None = None,
        state_dir: Path | None = None,
        openshift: bool = False,
        tekton: bool | str = False,
        tekton_controller: bool = True,
    ):
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.controls = Controls()
        self.state = ClusterState(admin_token=self.admin_token)
        if openshift:  # play an OpenShift cluster: serve project.openshift.io as well
            for rtype in openshift_projects.resource_types():
                self.state.registry.add(rtype)
        if tekton:  # a Tekton release's CRDs, namespace and ConfigMaps, as if installed before
            from emulator.tekton.install import install as install_tekton

            install_tekton(self.state, api="v1" if tekton is True else tekton)
        self.workloads = WorkloadSimulator()
        self.state.controllers.append(self.workloads)
        # Runs PipelineRuns once the Tekton CRDs are served; idle otherwise.
        self.tekton = TektonController(enabled=tekton_controller)
        self.state.controllers.append(self.tekton)
        self._api = KubeApi(self.state, self.controls, self.workloads, tekton=self.tekton)
        self._server = BackgroundServer(self._api.application(), tls=True, port=port, state_dir=state_dir)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> EmulatedCluster:
        self._server.start()
        self.state.server_url = self.url
        self.call(self._install_ca)
        return self

    def _install_ca(self, state: ClusterState) -> None:
        state.ca_pem = self.ca_pem
        state.mark_dirty()
        state.reconcile()

    def stop(self) -> None:
        self._server.stop()
        self.tekton.close()

    def __enter__(self) -> EmulatedCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------------ connection details

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def ca_file(self) -> str:
        return self._server.ca_file

    @property
    def ca_pem(self) -> str:
        return self._server.ca_pem

    def kubeconfig_dict(self, token: str | None = None, namespace: str | None = None) -> dict:
        """A kubeconfig for this cluster (CA embedded), authenticating with `token` (admin by default)."""
        context = {"cluster": CLUSTER_NAME, "user": "user"}
        if namespace:
            context["namespace"] = namespace
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [
                {
                    "name": CLUSTER_NAME,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem.encode()).decode(),
                    },
                }
            ],
            "users": [{"name": "user", "user": {"token": token or self.admin_token}}],
            "contexts": [{"name": CLUSTER_NAME, "context": context}],
            "current-context": CLUSTER_NAME,
        }

    def write_kubeconfig(self, path, token: str | None = None, namespace: str | None = None) -> Path:
        """Write the kubeconfig (mode 0600: it holds a token) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(yaml.safe_dump(self.kubeconfig_dict(token, namespace), sort_keys=False))
        return path

    # ------------------------------------------------------------------ in-process access to the state

    def call(self, function, timeout: float = 10.0):
        """Run `function(state)` on the server's event loop (where the state lives) and return its result."""

        async def run():
            result = function(self.state)
            self._api._reconcile()
            return result

        return self._server.run_coroutine(run(), timeout)

    def add_token(self, user: str, groups: list[str] | None = None) -> str:
        """A bearer token for a plain user identity (never expires); returns the token."""
        token = secrets.token_urlsafe(24)
        self.call(lambda state: state.add_static_token(token, user, groups))
        return token

    def set_pod_log(self, namespace: str, pod: str, text: str, container: str | None = None) -> None:
        def store(state: ClusterState):
            name = container
            if name is None:
                found = state.get(state.rtype("", "v1", "pods"), namespace, pod)
                name = found["spec"]["containers"][0]["name"]
            state.pod_logs[(namespace, pod, name)] = text

        self.call(store)

    def advance_time(self, seconds: float) -> None:
        """Move the cluster's clock forward (token expiry, timestamps); real time is untouched."""
        self.call(lambda state: state.clock.advance(seconds))

    def objects(self, group: str, version: str, plural: str, namespace: str = "") -> list[dict]:
        """A snapshot of stored objects, for assertions that must not go through the API."""
        return self.call(
            lambda state: copy.deepcopy(state.list(state.rtype(group, version, plural), namespace)["items"])
        )
