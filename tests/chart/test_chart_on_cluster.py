"""The health chart deployed with the pinned helm (.venv/bin/helm) on the cluster under test: the
emulated cluster by default, a real one with TEST_KUBECONFIG (see tests/conftest.py).

On the emulator the chart is deployed as the pipeline deploys it: hooks included (the migration
Job, post-install / pre-upgrade) and `--wait`, which the workload simulator lets finish; it can
also make the migration fail, so `--rollback-on-failure` (Helm 4's --atomic) rolls back. Those
tests are emulator_only: the real test cluster has no nodes, so its pods never run, a hook Job
never completes and `--wait` never returns. The tests that do not need running pods also run on
the real cluster, with `--no-hooks` and without `--wait`, which proves the API server accepts
every object and that upgrades and uninstall behave there as on the emulator.

Each test works in a namespace of its own (the `namespace` fixture), deleted afterwards.
"""

from __future__ import annotations

import base64
import time

import pytest
import yaml

from tests.chart.helm import CHART, VALUES, requires_helm, run_helm, value_args

pytestmark = requires_helm

RELEASE = "health"
RELEASE_LABELS = f"app.kubernetes.io/instance={RELEASE}"
RELEASE_RECORDS = f"owner=helm,name={RELEASE}"
DIGESTS = yaml.safe_load((VALUES / "digests.yaml").read_text())["images"]
NEW_API_DIGEST = "sha256:" + "a1" * 32
NEW_MIGRATION_DIGEST = "sha256:" + "b2" * 32
WORKLOADS = {"Deployment": ("health-api", "health-frontend"), "StatefulSet": ("health-postgres",)}
# Every kind the chart creates (Secret, Services, StatefulSet, Deployments, the migration Job, the
# Ingress) and what the cluster's controllers make from them (the StatefulSet's PVC, ReplicaSets,
# ControllerRevisions, Pods): all carry the release's labels, so one label selector finds them.
RELEASE_KINDS = [
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "ControllerRevision"),
    ("batch/v1", "Job"),
    ("networking.k8s.io/v1", "Ingress"),
]
# Bound on waiting for the garbage collector after an uninstall (it deletes dependents such as
# Pods and the PVC in the background, after helm has returned).
GC_TIMEOUT = 30


@pytest.fixture
def helm(cluster, tmp_path):
    """helm(*args) -> CompletedProcess, as the cluster's admin, with a helm home of its own."""
    return lambda *args: run_helm(tmp_path / "helm-home", "--kubeconfig", str(cluster.kubeconfig_path), *args)


@pytest.fixture
def deploy(cluster, helm, namespace):
    """deploy(*flags, sets=None): `helm upgrade --install` of the chart with the test digests.
    Emulator: hooks and --wait, as the pipeline runs it. Real cluster: --no-hooks, no --wait (no
    nodes there: see the module docstring)."""
    how = ["--wait", "--timeout", "60s"] if cluster.is_emulated else ["--no-hooks"]

    def run(*flags, sets=None):
        args = ["upgrade", "--install", RELEASE, str(CHART), "--namespace", namespace]
        return helm(*args, *how, *value_args(("digests.yaml",), sets), *flags)

    return run


@pytest.fixture
def kube(cluster):
    return cluster.dynamic_client()


def objects(kube, namespace, api_version, kind, selector=RELEASE_LABELS):
    listed = kube.resources.get(api_version=api_version, kind=kind).get(
        namespace=namespace, label_selector=selector
    )
    return [item.to_dict() for item in listed.items]


def read(kube, namespace, kind, name):
    api_version = "apps/v1" if kind in ("Deployment", "StatefulSet") else "v1"
    return (
        kube.resources.get(api_version=api_version, kind=kind).get(namespace=namespace, name=name).to_dict()
    )


def workloads(kube, namespace):
    """(kind, name) -> (generation, pod template) of the chart's Deployments and StatefulSet."""
    found = {}
    for kind, names in WORKLOADS.items():
        for name in names:
            live = read(kube, namespace, kind, name)
            found[(kind, name)] = (live["metadata"]["generation"], live["spec"]["template"])
    return found


def image_of(template):
    (container,) = template["spec"]["containers"]
    return container["image"]


def images(kube, namespace):
    return {
        name: image_of(template)
        for (_kind, name), (_generation, template) in workloads(kube, namespace).items()
    }


def password(kube, namespace):
    return base64.b64decode(read(kube, namespace, "Secret", "health-postgres")["data"]["password"]).decode()


def history(helm, namespace):
    listed = helm("history", RELEASE, "--namespace", namespace, "-o", "yaml")
    assert listed.returncode == 0, listed.stderr
    return [(entry["revision"], entry["status"]) for entry in yaml.safe_load(listed.stdout)]


def writes(emulator, namespace):
    """(verb, "plural/name") of the writes into the namespace, in order (release records left out)."""
    prefix = f"/namespaces/{namespace}/"
    return [
        (verb, path.split(prefix, 1)[1])
        for verb, path, _query in emulator.controls.writes()
        if prefix in path and "/secrets/sh.helm.release" not in path and not path.endswith("/secrets")
    ]


def left_of_release(kube, namespace):
    """Every object of the release still in the namespace, as "Kind/name"."""
    left = [
        f"{kind}/{item['metadata']['name']}"
        for api_version, kind in RELEASE_KINDS
        for item in objects(kube, namespace, api_version, kind)
    ]
    left += [
        f"Secret/{item['metadata']['name']}"
        for item in objects(kube, namespace, "v1", "Secret", RELEASE_RECORDS)
    ]
    return sorted(left)


def uninstall(helm, namespace):
    return helm("uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "60s")


def wait_for(condition, timeout):
    """The first truthy value of condition() within `timeout` seconds, else the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def expected_image(key, digest=None):
    return f"{DIGESTS[key]['repository']}@{digest or DIGESTS[key]['digest']}"


@pytest.mark.emulator_only
def test_install_runs_the_migration_hook_and_waits_for_ready_workloads(
    namespace, emulator, deploy, helm, kube
):
    installed = deploy()
    assert installed.returncode == 0, installed.stderr
    assert history(helm, namespace) == [(1, "deployed")]
    for (kind, name), (_generation, _template) in workloads(kube, namespace).items():
        status = read(kube, namespace, kind, name)["status"]
        assert status.get("readyReplicas") == 1, f"{kind}/{name} not ready when helm returned: {status}"
    # post-install: applied once the database's objects exist, deleted by its hook-succeeded policy
    # (the DELETE before it is the before-hook-creation policy: a leftover Job would be replaced).
    written = writes(emulator, namespace)
    job = "jobs/health-migration"
    assert [write for write in written if write[1] == job] == [
        ("DELETE", job),
        ("PATCH", job),
        ("DELETE", job),
    ]
    assert written.index(("PATCH", "statefulsets/health-postgres")) < written.index(("PATCH", job))
    assert written.index(("PATCH", "secrets/health-postgres")) < written.index(("PATCH", job))
    assert objects(kube, namespace, "batch/v1", "Job") == []
    assert images(kube, namespace) == {
        "health-api": expected_image("api"),
        "health-frontend": expected_image("frontend"),
        "health-postgres": expected_image("postgres"),
    }
    (claim,) = objects(kube, namespace, "v1", "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "data-health-postgres-0" and claim["status"]["phase"] == "Bound"


def test_an_upgrade_to_new_digests_rolls_only_the_deployments_whose_digest_changed(namespace, deploy, kube):
    installed = deploy()
    assert installed.returncode == 0, installed.stderr
    before, generated = workloads(kube, namespace), password(kube, namespace)

    upgraded = deploy(sets={"images.api.digest": NEW_API_DIGEST})
    assert upgraded.returncode == 0, upgraded.stderr

    after = workloads(kube, namespace)
    api = ("Deployment", "health-api")
    assert after[api][0] == before[api][0] + 1
    assert image_of(after[api][1]) == expected_image("api", NEW_API_DIGEST)
    unchanged = {key: value for key, value in after.items() if key != api}
    assert unchanged == {key: value for key, value in before.items() if key != api}
    assert password(kube, namespace) == generated


@pytest.mark.emulator_only
def test_a_failing_migration_rolls_the_upgrade_back_to_the_previous_digests(
    namespace, emulator, deploy, helm, kube
):
    installed = deploy()
    assert installed.returncode == 0, installed.stderr
    before = workloads(kube, namespace)
    emulator.workloads.fail("Job", "health-migration")

    new_digests = {
        "images.api.digest": NEW_API_DIGEST,
        "images.databaseMigration.digest": NEW_MIGRATION_DIGEST,
    }
    failed = deploy("--rollback-on-failure", sets=new_digests)

    assert failed.returncode != 0
    assert "has been rolled back" in failed.stderr
    assert f"Job/{namespace}/health-migration" in failed.stderr
    assert history(helm, namespace) == [(1, "superseded"), (2, "failed"), (3, "deployed")]
    assert workloads(kube, namespace) == before
    deployed_values = helm("get", "values", RELEASE, "--namespace", namespace, "-o", "yaml")
    assert yaml.safe_load(deployed_values.stdout) == {"images": DIGESTS}  # revision 1's values, no --set
    # The failed migration Job stays for `kubectl logs` until its TTL (values.yaml, migration).
    (job,) = objects(kube, namespace, "batch/v1", "Job")
    assert image_of(job["spec"]["template"]) == expected_image("databaseMigration", NEW_MIGRATION_DIGEST)
    # Hooks are not part of the release: uninstall leaves the failed Job (and only it) to its TTL.
    removed = uninstall(helm, namespace)
    assert removed.returncode == 0, removed.stderr
    assert wait_for(lambda: left_of_release(kube, namespace) == ["Job/health-migration"], GC_TIMEOUT)


@pytest.mark.parametrize(
    ("keep_volume", "kept"),
    [(False, []), (True, ["PersistentVolumeClaim/data-health-postgres-0"])],
    ids=["default", "volume-kept"],
)
def test_uninstall_leaves_nothing_of_the_release(namespace, deploy, helm, kube, keep_volume, kept):
    """Nothing but what the chart documents it keeps: with postgres.deleteVolumeOnUninstall=false,
    the database's volume claim (values.yaml)."""
    volume = {"postgres.deleteVolumeOnUninstall": not keep_volume}
    for digests in ({}, {"images.frontend.digest": NEW_API_DIGEST}):
        deployed = deploy(sets={**volume, **digests})
        assert deployed.returncode == 0, deployed.stderr
    present = left_of_release(kube, namespace)
    assert {
        "Deployment/health-api",
        "StatefulSet/health-postgres",
        "PersistentVolumeClaim/data-health-postgres-0",
        "Secret/sh.helm.release.v1.health.v2",
    } <= set(present)

    removed = uninstall(helm, namespace)
    assert removed.returncode == 0, removed.stderr

    assert wait_for(lambda: left_of_release(kube, namespace) == kept, GC_TIMEOUT), left_of_release(
        kube, namespace
    )
