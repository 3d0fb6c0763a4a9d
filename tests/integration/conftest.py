"""Fixtures the module tests share: a discovery cache per test file (so a file's runs after its
first find discovery warm, as a user's would), in-process admin access to the cluster to arrange and
check what the tasks did, and `play`, ansible-playbook runs bound to the cluster fixture."""

from __future__ import annotations

import pytest

from tests.integration.support import kube_service
from tests.playbook import task_runner


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def kube(cluster, cache_home, monkeypatch):
    """In-process admin access to the cluster (tests.integration.support.kube_service)."""
    monkeypatch.setenv("XDG_CACHE_HOME", cache_home)
    return kube_service(cluster.kubeconfig_path)


@pytest.fixture
def play(cluster, cache_home, tmp_path):
    """play([task, ...], check=..., diff=..., env=..., kubeconfig=...): the tasks in one play against
    the cluster fixture (tests.playbook.task_runner)."""
    return task_runner(tmp_path, kubeconfig=cluster.kubeconfig_path, env={"XDG_CACHE_HOME": cache_home})
