"""The pipeline_definitions role against the session cluster (emulated with Tekton v1.15, or the
real one TEST_KUBECONFIG names, with Tekton's CRDs): the health pipeline is validated and applied
with no problem, a second run changes and writes nothing, switching the builder prunes the other
build Task, check mode creates nothing, and a bad image entry fails before anything is written."""

from __future__ import annotations

from tests.integration.support import persisted_writes, reset_request_log
from tests.playbook import run_tasks

V1 = "tekton.dev/v1"
APPLY_TASK = "Validate the pipeline's Tasks and Pipeline offline, then apply them and prune what left"
HEALTH_TASKS = ["git-clone", "build-image", "helm-deploy", "smoke-test", "report"]


def apply_role(tmp_path, cluster, namespace, check=False, **variables):
    # No K8S_AUTH_KUBECONFIG: the connection must come from kube_connection alone.
    extra = {
        "kube_connection": {"kubeconfig": str(cluster.kubeconfig_path)},
        "pipeline_definitions_namespace": namespace,
        "pipeline_definitions_git_url": "https://git.example.invalid/health.git",
        **variables,
    }
    return run_tasks(
        [{"name": "definitions", "ansible.builtin.include_role": {"name": "pipeline_definitions"}}],
        tmp_path=tmp_path,
        extra_vars=extra,
        check=check,
    )


def names(kube, kind, namespace):
    return sorted(item["metadata"]["name"] for item in kube.list(V1, kind, namespace))


def test_the_role_applies_the_health_pipeline_then_a_second_run_changes_and_writes_nothing(
    cluster, kube, namespace, tmp_path
):
    first = apply_role(tmp_path / "first", cluster, namespace)
    assert first.rc == 0, first.stdout + first.stderr
    applied = first.task(APPLY_TASK)
    assert applied.changed
    assert [r["action"] for r in applied.result["results"]] == ["created"] * 6
    if cluster.is_emulated:
        assert applied.result["validation_warnings"] == []  # zero problems, zero warnings
    assert names(kube, "Task", namespace) == sorted(HEALTH_TASKS)
    pipeline = kube.get(V1, "Pipeline", "health-cd", namespace)
    assert [t["name"] for t in pipeline["spec"]["tasks"]] == [
        "clone",
        "build-api",
        "build-frontend",
        "build-database-migration",
        "deploy",
        "smoke-test",
    ]
    assert pipeline["metadata"]["labels"]["tekton-cd/pipeline"] == "health-cd"
    build = kube.get(V1, "Task", "build-image", namespace)
    assert build["spec"]["steps"][0]["image"].startswith("registry.access.redhat.com/ubi9/buildah@sha256:")

    reset_request_log(cluster)
    second = apply_role(tmp_path / "second", cluster, namespace)
    assert second.rc == 0, second.stdout
    assert second.changed == []
    if cluster.controls:
        assert cluster.controls.writes() == []


def test_switching_the_builder_prunes_the_other_build_task_and_mirrors_step_images(
    cluster, kube, namespace, tmp_path
):
    assert apply_role(tmp_path / "buildah", cluster, namespace).rc == 0
    switched = apply_role(
        tmp_path / "kaniko",
        cluster,
        namespace,
        pipeline_definitions_builder="kaniko",
        pipeline_definitions_image_mirror="mirror.example.invalid",
    )
    assert switched.rc == 0, switched.stdout
    assert switched.task(APPLY_TASK).result["pruned"] == [
        {"kind": "Task", "name": "build-image", "action": "deleted"}
    ]
    assert "build-image-kaniko" in names(kube, "Task", namespace) and "build-image" not in names(
        kube, "Task", namespace
    )
    image = kube.get(V1, "Task", "build-image-kaniko", namespace)["spec"]["steps"][0]["image"]
    assert image.startswith("mirror.example.invalid/kaniko-project/executor@sha256:")
    taskrefs = {
        t["taskRef"]["name"] for t in kube.get(V1, "Pipeline", "health-cd", namespace)["spec"]["tasks"]
    }
    assert "build-image-kaniko" in taskrefs and "build-image" not in taskrefs


def test_check_mode_creates_nothing(cluster, kube, namespace, tmp_path):
    reset_request_log(cluster)
    checked = apply_role(tmp_path, cluster, namespace, check=True)
    assert checked.rc == 0, checked.stdout
    assert checked.task(APPLY_TASK).changed
    assert names(kube, "Task", namespace) == [] and names(kube, "Pipeline", namespace) == []
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []


def test_a_bad_image_entry_fails_validation_and_nothing_is_applied(cluster, kube, namespace, tmp_path):
    reset_request_log(cluster)
    run = apply_role(
        tmp_path,
        cluster,
        namespace,
        pipeline_definitions_images=[{"name": "API_Server", "context": "images/api", "values_key": "api"}],
    )
    assert run.rc != 0
    task = run.task(APPLY_TASK)
    assert task.failed and "nothing was applied" in task.msg and "build-API_Server" in task.msg, task.msg
    assert names(kube, "Task", namespace) == []
    if cluster.controls:
        assert cluster.controls.writes() == []
