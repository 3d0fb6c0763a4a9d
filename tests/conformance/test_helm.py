"""Real Helm (the project's pinned binary in .venv/bin) against the cluster under test: install,
upgrade, rollback and uninstall of the chart `helm create` writes, without waiting for readiness."""

import json
import subprocess
from pathlib import Path

import pytest

HELM = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "helm"
pytestmark = pytest.mark.skipif(
    not HELM.exists(), reason="helm is not installed in .venv/bin yet (make setup)"
)


def helm(cluster, *args, check=True):
    result = subprocess.run(
        [str(HELM), "--kubeconfig", str(cluster.kubeconfig_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def chart(tmp_path_factory):
    root = tmp_path_factory.mktemp("helm")
    subprocess.run([str(HELM), "create", str(root / "demo")], check=True, capture_output=True, timeout=60)
    return root / "demo"


def test_install_upgrade_rollback_uninstall(cluster, namespace, chart, api):
    helm(cluster, "upgrade", "--install", "demo", str(chart), "-n", namespace)
    deployment = f"/apis/apps/v1/namespaces/{namespace}/deployments/demo"
    status, body = api.get(deployment)
    assert status == 200 and body["spec"]["replicas"] == 1
    assert {e["manager"] for e in body["metadata"]["managedFields"]} >= {"helm"}
    helm(cluster, "upgrade", "demo", str(chart), "-n", namespace, "--set", "replicaCount=2")
    assert api.get(deployment)[1]["spec"]["replicas"] == 2
    helm(cluster, "rollback", "demo", "1", "-n", namespace)
    assert api.get(deployment)[1]["spec"]["replicas"] == 1
    history = json.loads(helm(cluster, "history", "demo", "-n", namespace, "-o", "json").stdout)
    assert [(h["revision"], h["status"]) for h in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]
    releases = api.get(f"/api/v1/namespaces/{namespace}/secrets", labelSelector="owner=helm")[1]["items"]
    assert sorted(s["metadata"]["name"] for s in releases) == [
        f"sh.helm.release.v1.demo.v{n}" for n in (1, 2, 3)
    ]
    assert all(s["type"] == "helm.sh/release.v1" for s in releases)
    helm(cluster, "uninstall", "demo", "-n", namespace)
    assert api.get(deployment)[0] == 404
    assert api.get(f"/api/v1/namespaces/{namespace}/secrets", labelSelector="owner=helm")[1]["items"] == []


HOOKED_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: hooked\nversion: 0.1.0\n",
    "values.yaml": "image: nginx:1\n",
    "templates/workloads.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate-{{ .Release.Revision }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: {{ .Values.image }}
""",
}


@pytest.mark.emulator_only
def test_wait_and_rollback_on_a_failing_hook(cluster, namespace, emulator, api, tmp_path):
    """The workload simulator makes workloads ready so `--wait` returns; a failing hook Job makes
    `--rollback-on-failure` (Helm 4's --atomic) roll back, as on a real cluster with nodes."""
    for name, text in HOOKED_CHART.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    install = ["upgrade", "--install", "h", str(tmp_path), "-n", namespace, "--wait", "--timeout", "30s"]
    helm(cluster, *install)
    deployment = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")[1]
    assert deployment["status"]["readyReplicas"] == 2
    assert (
        api.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data")[1]["status"]["phase"]
        == "Bound"
    )
    emulator.workloads.fail("Job", "migrate-.*")
    failed = helm(cluster, *install, "--rollback-on-failure", "--set", "image=nginx:2", check=False)
    assert failed.returncode == 1
    assert "has been rolled back" in failed.stderr and "Job/" + namespace + "/migrate-2" in failed.stderr
    history = json.loads(helm(cluster, "history", "h", "-n", namespace, "-o", "json").stdout)
    assert [h["status"] for h in history] == ["superseded", "failed", "deployed"]
    live = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")[1]
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
