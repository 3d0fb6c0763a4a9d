"""Shared pytest set-up. Its presence (in the `tests` package) also puts the project root on
sys.path, so test code is imported as `tests.…` from every test directory.

Every integration test gets a cluster from the `cluster` fixture: the emulated cluster by default
(one per test session), or the real cluster whose kubeconfig `TEST_KUBECONFIG` names. Tests that
need the emulator's controls are marked `@pytest.mark.emulator_only` and skipped on a real cluster.
"""

from __future__ import annotations

import base64
import copy
import os
import secrets
from pathlib import Path

import pytest
import yaml

REAL_KUBECONFIG_ENV = "TEST_KUBECONFIG"


def pytest_collection_modifyitems(config, items):
    if not os.environ.get(REAL_KUBECONFIG_ENV):
        return
    skip = pytest.mark.skip(
        reason=f"uses emulator-only test controls; {REAL_KUBECONFIG_ENV} selects a real cluster"
    )
    for item in items:
        if item.get_closest_marker("emulator_only"):
            item.add_marker(skip)


class ClusterUnderTest:
    """One uniform view of the cluster tests run against, emulated or real."""

    def __init__(self, kubeconfig_path: Path, kubeconfig_dict: dict, emulator=None):
        self.kubeconfig_path = kubeconfig_path
        self.kubeconfig_dict = kubeconfig_dict
        self.emulator = emulator

    @property
    def is_emulated(self) -> bool:
        return self.emulator is not None

    @property
    def controls(self):
        """Fault injection and request counting; None on a real cluster."""
        return self.emulator.controls if self.emulator is not None else None

    @property
    def server(self) -> str:
        return self._cluster_entry()["server"]

    @property
    def ca_pem(self) -> str:
        entry = self._cluster_entry()
        if "certificate-authority-data" in entry:
            return base64.b64decode(entry["certificate-authority-data"]).decode()
        return Path(entry["certificate-authority"]).read_text()

    def _cluster_entry(self) -> dict:
        config = self.kubeconfig_dict
        context_name = config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        return next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])

    def kubeconfig_with_token(self, token: str) -> dict:
        """The same server and CA, authenticating with `token` instead of the admin credentials."""
        entry = dict(self._cluster_entry())
        entry.pop("certificate-authority", None)
        entry["certificate-authority-data"] = base64.b64encode(self.ca_pem.encode()).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": "under-test", "cluster": entry}],
            "users": [{"name": "token-user", "user": {"token": token}}],
            "contexts": [{"name": "under-test", "context": {"cluster": "under-test", "user": "token-user"}}],
            "current-context": "under-test",
        }

    def api_client(self, token: str | None = None):
        """A `kubernetes.client.ApiClient` for the admin credentials, or for `token`."""
        from kubernetes import config

        source = self.kubeconfig_with_token(token) if token else copy.deepcopy(self.kubeconfig_dict)
        return config.new_client_from_config_dict(source)

    def dynamic_client(self, token: str | None = None):
        from kubernetes import dynamic

        return dynamic.DynamicClient(self.api_client(token))

    @staticmethod
    def unique_name(prefix: str) -> str:
        return f"{prefix}-{secrets.token_hex(3)}"


def _real_kubeconfig_dict(path: Path) -> dict:
    config = yaml.safe_load(path.read_text())
    # Relative certificate paths in a kubeconfig are relative to the file itself.
    for cluster in config.get("clusters") or []:
        ca = cluster["cluster"].get("certificate-authority")
        if ca and not Path(ca).is_absolute():
            cluster["cluster"]["certificate-authority"] = str(path.parent / ca)
    return config


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """The cluster integration tests run against (see the module docstring)."""
    real = os.environ.get(REAL_KUBECONFIG_ENV)
    if real:
        path = Path(real)
        if not path.is_file():
            pytest.exit(f"{REAL_KUBECONFIG_ENV}={real} is not a readable kubeconfig file; fix or unset it", 2)
        yield ClusterUnderTest(path, _real_kubeconfig_dict(path))
        return
    from emulator import EmulatedCluster

    # Tekton Pipelines v1.15's CRDs and ConfigMaps installed, as on the real test cluster (whose
    # CRDs verify-tekton.sh installs); tests of a cluster without Tekton start one of their own.
    with EmulatedCluster(tekton=True) as emulator:
        path = emulator.write_kubeconfig(tmp_path_factory.mktemp("emulated-cluster") / "kubeconfig")
        yield ClusterUnderTest(path, emulator.kubeconfig_dict(), emulator)


@pytest.fixture
def emulator(cluster):
    """The emulated cluster with fresh controls (no faults, empty request log, no workload failures),
    for emulator_only tests."""
    if not cluster.is_emulated:
        pytest.skip("needs the emulated cluster's controls")
    emulator = cluster.emulator
    cluster.controls.reset()
    emulator.workloads.clear_failures()
    yield emulator
    cluster.controls.reset()
    emulator.workloads.clear_failures()
    emulator.workloads.enabled = True


@pytest.fixture
def namespace(cluster):
    """A fresh namespace, deleted (without waiting) after the test."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    api = client.CoreV1Api(cluster.api_client())
    name = cluster.unique_name("t")
    api.create_namespace({"metadata": {"name": name}})
    yield name
    try:
        api.delete_namespace(name)
    except ApiException as error:
        if error.status not in (404, 409):
            raise


@pytest.fixture(scope="session")
def openshift_emulator(tmp_path_factory):
    """An emulated OpenShift cluster (serves project.openshift.io) with its kubeconfig path, for the
    OpenShift code paths; skipped on a real cluster, which is not OpenShift here."""
    if os.environ.get(REAL_KUBECONFIG_ENV):
        pytest.skip("the OpenShift paths run against the emulator only")
    from emulator import EmulatedCluster

    with EmulatedCluster(openshift=True) as emulator:
        path = emulator.write_kubeconfig(tmp_path_factory.mktemp("emulated-openshift") / "kubeconfig")
        yield ClusterUnderTest(path, emulator.kubeconfig_dict(), emulator)
