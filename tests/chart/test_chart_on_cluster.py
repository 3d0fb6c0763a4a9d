"""The health chart installed with the pinned helm on a real cluster (TEST_KUBECONFIG): the API
server accepts every object, the generated password survives an upgrade, and a service account
whose Role covers only the release namespace can install there and nowhere else.

Hooks are skipped (--no-hooks) because a bare control plane runs no pods, so the migration Job
would never complete; everything else is what `helm upgrade --install` sends. Each test works in
namespaces of its own and deletes them.
"""

import base64
import json
import os
import subprocess
import uuid

import pytest

from tests.chart.helm import CHART, ROOT, requires_helm, run_helm, value_args

KUBECONFIG = os.environ.get("TEST_KUBECONFIG")
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"

pytestmark = [
    requires_helm,
    pytest.mark.skipif(not KUBECONFIG, reason="TEST_KUBECONFIG is not set: no real cluster to install on"),
]

# What the chart creates, plus what helm reads and writes for its release records (Secrets).
DEPLOYER_RULES = [
    {"apiGroups": [""], "resources": ["secrets", "services"], "verbs": ["*"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["*"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["*"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["*"]},
]


def kubectl(*args, stdin=None):
    result = subprocess.run(
        [str(KUBECTL), "--kubeconfig", KUBECONFIG, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args[:3])}: {result.stderr}"
    return result.stdout


@pytest.fixture
def helm_home(tmp_path):
    return tmp_path / "helm-home"


@pytest.fixture
def namespaces():
    """new() makes a namespace with a unique name; all are deleted afterwards."""
    made = []

    def new():
        name = f"health-chart-{uuid.uuid4().hex[:8]}"
        kubectl("create", "namespace", name)
        made.append(name)
        return name

    yield new
    for name in made:
        kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def install(helm_home, namespace, sets=None, env=None):
    return run_helm(
        helm_home,
        "upgrade", "--install", "health", str(CHART),
        "--namespace", namespace,
        "--no-hooks",
        *value_args(("digests.yaml",), sets),
        env=env or {"KUBECONFIG": KUBECONFIG},
    )  # fmt: skip


def password(namespace):
    encoded = kubectl("-n", namespace, "get", "secret", "health-postgres", "-o", "jsonpath={.data.password}")
    return base64.b64decode(encoded).decode()


def test_password_survives_an_upgrade_and_images_follow_their_digests(helm_home, namespaces):
    namespace = namespaces()
    first = install(helm_home, namespace)
    assert first.returncode == 0, first.stderr
    generated = password(namespace)
    new_digest = "sha256:" + "b" * 64
    second = install(helm_home, namespace, sets={"images.api.digest": new_digest})
    assert second.returncode == 0, second.stderr
    assert password(namespace) == generated
    images = json.loads(kubectl("-n", namespace, "get", "deployment", "health-api", "-o", "json"))
    (container,) = images["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"registry.test/health/health-api@{new_digest}"
    uninstall = run_helm(
        helm_home, "uninstall", "health", "--namespace", namespace, env={"KUBECONFIG": KUBECONFIG}
    )
    assert uninstall.returncode == 0, uninstall.stderr
    left = kubectl(
        "-n", namespace, "get", "secrets,services,deployments,statefulsets,ingresses",
        "-l", "app.kubernetes.io/instance=health", "-o", "name",
    )  # fmt: skip
    assert left == ""


def test_a_namespace_scoped_service_account_installs_only_in_its_namespace(helm_home, namespaces, tmp_path):
    home, elsewhere = namespaces(), namespaces()
    kubectl("-n", home, "create", "serviceaccount", "deployer")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "deployer", "namespace": home},
        "rules": DEPLOYER_RULES,
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(role))
    kubectl(
        "-n",
        home,
        "create",
        "rolebinding",
        "deployer",
        "--role=deployer",
        f"--serviceaccount={home}:deployer",
    )
    cluster = json.loads(kubectl("config", "view", "--raw", "--minify", "-o", "json"))["clusters"][0][
        "cluster"
    ]
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    token = kubectl("-n", home, "create", "token", "deployer", "--duration=10m").strip()
    # The token goes through helm's environment only: never argv, a file or the test output.
    as_deployer = {
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
        "HELM_KUBEAPISERVER": cluster["server"],
        "HELM_KUBECAFILE": str(ca_file),
        "HELM_KUBETOKEN": token,
    }
    allowed = install(helm_home, home, env=as_deployer)
    assert allowed.returncode == 0, allowed.stderr.replace(token, "<token>")
    refused = install(helm_home, elsewhere, env=as_deployer)
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr and f'in the namespace "{elsewhere}"' in refused.stderr
