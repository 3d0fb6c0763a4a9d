"""The project's pinned kubectl (1.28, in .venv/bin) against the cluster under test."""

import json
import subprocess
from pathlib import Path

import pytest

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"
pytestmark = pytest.mark.skipif(
    not KUBECTL.exists(), reason="kubectl is not installed in .venv/bin yet (make setup installs it)"
)


def kubectl(cluster, *args, kubeconfig=None, check=True):
    result = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(kubeconfig or cluster.kubeconfig_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_get_namespaces(cluster):
    names = kubectl(cluster, "get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/default" in names and "namespace/kube-system" in names
    table = kubectl(cluster, "get", "namespace", "default").stdout
    assert table.splitlines()[0].split()[0] == "NAME" and "default" in table


def test_api_resources(cluster):
    output = kubectl(cluster, "api-resources", "-o", "name").stdout.split()
    for name in (
        "configmaps",
        "serviceaccounts",
        "roles.rbac.authorization.k8s.io",
        "customresourcedefinitions.apiextensions.k8s.io",
        "deployments.apps",
        "jobs.batch",
        "ingresses.networking.k8s.io",
        "subjectaccessreviews.authorization.k8s.io",
    ):
        assert name in output


def test_apply_server_side(cluster, namespace, tmp_path):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "from-kubectl", "namespace": namespace},
                "data": {"a": "1"},
            }
        )
    )
    # No OpenAPI document is served by the emulator, so client-side validation is off.
    first = kubectl(cluster, "apply", "--server-side", "--validate=false", "-f", str(manifest))
    assert first.stdout.strip() == "configmap/from-kubectl serverside-applied"
    kubectl(cluster, "apply", "--server-side", "--validate=false", "-f", str(manifest))
    live = json.loads(
        kubectl(
            cluster,
            "get",
            "configmap",
            "from-kubectl",
            "-n",
            namespace,
            "-o",
            "json",
            "--show-managed-fields",
        ).stdout
    )
    assert live["data"] == {"a": "1"}
    assert [(e["manager"], e["operation"], e["fieldsV1"]) for e in live["metadata"]["managedFields"]] == [
        ("kubectl", "Apply", {"f:data": {"f:a": {}}})
    ]


def test_auth_can_i(cluster, namespace, tmp_path):
    assert kubectl(cluster, "auth", "can-i", "create", "pods", "-n", namespace).stdout.strip() == "yes"
    kubectl(cluster, "create", "serviceaccount", "limited", "-n", namespace)
    token = kubectl(cluster, "create", "token", "limited", "-n", namespace).stdout.strip()
    limited = tmp_path / "limited.kubeconfig"
    limited.write_text(json.dumps(cluster.kubeconfig_with_token(token)))
    denied = kubectl(
        cluster, "auth", "can-i", "create", "pods", "-n", namespace, kubeconfig=limited, check=False
    )
    assert denied.returncode == 1 and denied.stdout.strip() == "no"
    own = kubectl(
        cluster,
        "auth",
        "can-i",
        "create",
        "selfsubjectaccessreviews.authorization.k8s.io",
        kubeconfig=limited,
    )
    assert own.stdout.strip() == "yes"
