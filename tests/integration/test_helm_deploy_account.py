"""Least privilege proven with the real tool: the pinned helm (.venv/bin/helm), authenticated only
by the kubeconfig that the pipeline_accounts role stores for the deployer service account (its
cluster-credential Secret), deploys the health chart into the application namespace and is
refused in any other.

Runs against the `cluster` fixture. On the emulator the chart is deployed as the pipeline deploys
it (hooks and `--wait`: the migration Job runs and helm watches the workloads, so the deployer's
watch/list rights are exercised too). On a real cluster (TEST_KUBECONFIG), which has no nodes,
hooks are skipped and helm does not wait: the rights to write every object of the chart and
Helm's release records are still proven there, by the real RBAC authorizer.

The kubeconfig is read from the Secret into memory and written only to a 0600 file under the
test's tmp_path for helm; neither it nor its token is printed.
"""

from __future__ import annotations

import base64
import os
import re

import pytest

from tests.chart.helm import CHART, requires_helm, run_helm, value_args
from tests.playbook import run_tasks

pytestmark = requires_helm

RELEASE = "health"


@pytest.fixture
def stage(cluster, tmp_path):
    """The role applied to fresh pipeline and application namespaces, plus an unrelated namespace:
    (pipeline, app, elsewhere). All three are deleted afterwards."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    pipeline, app, elsewhere = (cluster.unique_name(prefix) for prefix in ("ci", "app", "other"))
    core = client.CoreV1Api(cluster.api_client())
    core.create_namespace({"metadata": {"name": elsewhere}})
    try:
        play = run_tasks(
            [{"name": "accounts", "ansible.builtin.include_role": {"name": "pipeline_accounts"}}],
            tmp_path=tmp_path / "play",
            extra_vars={
                "kube_connection": {"kubeconfig": str(cluster.kubeconfig_path)},
                "pipeline_accounts_pipeline_namespace": pipeline,
                "pipeline_accounts_app_namespace": app,
            },
        )
        assert play.rc == 0, play.stdout
        yield pipeline, app, elsewhere
    finally:
        for name in (pipeline, app, elsewhere):
            try:
                core.delete_namespace(name)
            except ApiException as error:
                if error.status not in (404, 409):
                    raise


@pytest.fixture
def deployer_kubeconfig(cluster, stage, tmp_path):
    """Path of a 0600 file holding the kubeconfig from the deployer's cluster-credential Secret."""
    from kubernetes import client

    pipeline, _app, _elsewhere = stage
    secret = client.CoreV1Api(cluster.api_client()).read_namespaced_secret("deployer-kubeconfig", pipeline)
    path = tmp_path / "deployer.kubeconfig"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(base64.b64decode(secret.data["kubeconfig"]))
    return path


def helm_as_deployer(kubeconfig, tmp_path, *args):
    # A kubeconfig of its own and no KUBECONFIG from the environment: nothing but the deployer's
    # credentials can reach the cluster.
    return run_helm(
        tmp_path / "helm-home", "--kubeconfig", str(kubeconfig), *args, env={"KUBECONFIG": str(kubeconfig)}
    )


def written_objects(cluster, namespace):
    """Names of the Secrets, Services and Deployments in the namespace (its own CA ConfigMap and
    default ServiceAccount are the cluster's, not helm's)."""
    from kubernetes import client

    core, apps = client.CoreV1Api(cluster.api_client()), client.AppsV1Api(cluster.api_client())
    listed = [
        *core.list_namespaced_secret(namespace).items,
        *core.list_namespaced_service(namespace).items,
        *apps.list_namespaced_deployment(namespace).items,
    ]
    return [item.metadata.name for item in listed]


def deploy(cluster, kubeconfig, tmp_path, namespace):
    how = ["--wait", "--timeout", "60s"] if cluster.is_emulated else ["--no-hooks"]
    return helm_as_deployer(
        kubeconfig, tmp_path,
        "upgrade", "--install", RELEASE, str(CHART), "--namespace", namespace, *how,
        *value_args(("digests.yaml",)),
    )  # fmt: skip


def test_the_deployer_account_deploys_the_chart_in_its_namespace_only(
    cluster, stage, deployer_kubeconfig, tmp_path
):
    pipeline, app, elsewhere = stage

    allowed = deploy(cluster, deployer_kubeconfig, tmp_path, app)
    assert allowed.returncode == 0, allowed.stderr
    status = helm_as_deployer(deployer_kubeconfig, tmp_path, "status", RELEASE, "--namespace", app)
    assert status.returncode == 0 and "STATUS: deployed" in status.stdout, status.stderr

    refused = deploy(cluster, deployer_kubeconfig, tmp_path, elsewhere)
    assert refused.returncode != 0
    # helm's first call, reading the release history, is the one refused: nothing was written there.
    denial = re.search(
        r'User "([^"]+)" cannot (\w+) resource "(\w+)" in API group "([^"]*)" in the namespace "([^"]+)"',
        refused.stderr,
    )
    assert "forbidden" in refused.stderr and denial, refused.stderr
    assert denial.groups() == (f"system:serviceaccount:{pipeline}:deployer", "list", "secrets", "", elsewhere)
    assert written_objects(cluster, elsewhere) == []

    removed = helm_as_deployer(
        deployer_kubeconfig, tmp_path, "uninstall", RELEASE, "--namespace", app, "--wait", "--timeout", "60s"
    )
    assert removed.returncode == 0, removed.stderr
