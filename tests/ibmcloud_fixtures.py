"""Pytest fixtures for the fake IBM Cloud (`emulator.ibmcloud.fake`).

A test module exposes them with
``from tests.ibmcloud_fixtures import fake_ibmcloud, ibmcloud_target_cluster  # noqa: F401``.
"""

from __future__ import annotations

import os

import pytest

from emulator.ibmcloud.fake import ClusterTarget, FakeIBMCloud

__all__ = ["ClusterTarget", "FakeIBMCloud", "fake_ibmcloud", "ibmcloud_target_cluster"]


@pytest.fixture(scope="session")
def ibmcloud_target_cluster():
    """The Kubernetes API the fake's clusters point at: TEST_KUBECONFIG's cluster when set, else an
    emulated cluster started for the session (a conftest may override this fixture to share one)."""
    if os.environ.get("TEST_KUBECONFIG"):
        yield ClusterTarget.from_kubeconfig(os.environ["TEST_KUBECONFIG"])
        return
    from emulator import EmulatedCluster

    with EmulatedCluster() as cluster:
        yield ClusterTarget.from_emulated(cluster)


@pytest.fixture
def fake_ibmcloud(ibmcloud_target_cluster):
    with FakeIBMCloud(ibmcloud_target_cluster) as fake:
        yield fake
