"""`make bench` cannot rot: its harness runs here once, end to end, against its own emulated cluster,
with one repetition, no warm-up and the fast tools only (provision.yml and kubectl, with kubectl
standing in for the kubernetes.core baseline, so the bench virtualenv is neither needed nor
installed), and the report it writes is checked for what users read in docs/benchmarks.md."""

from __future__ import annotations

import subprocess

import pytest

from benchmarks import report
from benchmarks.clusters import EmulatedTarget
from benchmarks.contenders import (
    BENCH_VENV,
    ROOT,
    KubectlApply,
    KubernetesCoreOneTask,
    KubernetesCorePerObject,
    ProvisionPlaybook,
)
from benchmarks.harness import Harness
from benchmarks.machine import Machine, tool_versions
from benchmarks.manifests import Names, definition_objects, provision_objects, write_manifests


class FakeBaseline(KubectlApply):
    """Plays the kubernetes.core baseline's part in the report (its key), at kubectl's cost."""

    key = report.BASELINE
    label = "fake baseline (kubectl)"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bench")
    target = EmulatedTarget(workdir).start()
    try:
        results = Harness(
            target,
            [ProvisionPlaybook(), FakeBaseline(), KubectlApply()],
            workdir,
            repetitions=1,
            warmups=0,
            log=lambda *_: None,
        ).run()
    finally:
        target.stop()
    machine = Machine.now()
    machine.finish()
    return results, report.render(machine, tool_versions(), [results], "make bench")


def test_every_tool_converges_then_the_no_op_run_writes_only_what_the_tool_always_writes(measured):
    results, _ = measured
    for phase in results.phases.values():
        assert not phase.failures, phase.failures[0].output_tail
    ours_first, ours_noop = results.phase("provision", "first"), results.phase("provision", "noop")
    # 15 objects applied plus the deployer's TokenRequest; the re-run changes nothing.
    assert ours_first.writes().median >= 15
    assert ours_noop.writes().high == 0
    kubectl_first, kubectl_noop = results.phase("kubectl", "first"), results.phase("kubectl", "noop")
    assert kubectl_first.requests().by_category["patch"] == 15
    assert kubectl_noop.writes().median == 15  # kubectl applies every object again


def test_the_requests_of_provision_are_attributed_to_its_module_tasks(measured):
    results, _ = measured
    first = results.phase("provision", "first")
    tasks = first.tasks()
    module_tasks = [task for task, _times, _overheads in tasks if report.is_module_task(task.action)]
    assert {task.action.rpartition(".")[2] for task in module_tasks} >= {
        "k8s_namespace",
        "k8s_service_account",
        "k8s_rbac",
        "k8s_cluster_secret",
        "k8s_access_review",
    }
    attributed = sum(task.requests for task in module_tasks)
    assert 0 < attributed <= first.requests().total
    review = next(task for task in module_tasks if task.action.endswith("k8s_access_review"))
    assert review.requests >= 100  # one SubjectAccessReview per action reviewed
    definitions = next(task for task in module_tasks if task.action.endswith("tekton_resources"))
    assert definitions.requests >= 6  # the 5 Tasks and the Pipeline applied


def test_the_no_op_skips_the_access_review_questions_when_nothing_changed(measured):
    results, _ = measured
    noop = results.phase("provision", "noop")
    review = next(task for task, _t, _o in noop.tasks() if task.action.endswith("k8s_access_review"))
    assert review.requests < 10  # reads the record and the RBAC it fingerprints, asks nothing
    assert noop.requests().by_category.get("review", 0) == 0


def test_the_report_gives_ratios_targets_and_the_profile_without_machine_paths(measured):
    results, text = measured
    assert "### Wall time" in text and "### Requests and writes" in text
    assert "### Targets of issue 11" in text
    value = report.ratio(results, "provision", "first", report.BASELINE)
    assert value is not None and f"{value:.2f}×" in text
    checks = report.checks(results)
    noop_writes = next(check for check in checks if check.target == "no-op: zero writes")
    assert noop_writes.met is True
    for check in checks:
        if check.met is False:
            assert "over" in check.measured or "allowed" in check.measured, check
    assert "### Where the time goes: tekton-cd `provision.yml`" in text
    assert "Load average (1, 5, 15 min) at the start" in text
    assert str(ROOT) not in text and "/tmp/" not in text


def test_the_manifests_are_the_nine_objects_of_the_role_defaults(tmp_path):
    objects = provision_objects(Names("ci-x", "app-x"), "https://127.0.0.1:6443", "")
    every_kind = {body["kind"] for body in objects + definition_objects(Names("ci-x", "app-x"))}
    assert len(every_kind) == report.KINDS_MANAGED
    assert [(body["kind"], body["metadata"]["name"]) for body in objects] == [
        ("Namespace", "ci-x"),
        ("Namespace", "app-x"),
        ("ServiceAccount", "builder"),
        ("ServiceAccount", "deployer"),
        ("ServiceAccount", "health-admin"),
        ("Role", "chart-deployer"),
        ("RoleBinding", "chart-deployer"),
        ("RoleBinding", "health-admin"),
        ("Secret", "deployer-kubeconfig"),
    ]
    assert all(body["metadata"]["labels"] == {"app.kubernetes.io/part-of": "tekton-cd"} for body in objects)
    path = write_manifests(objects, tmp_path / "manifests.yml")
    assert path.stat().st_mode & 0o077 == 0  # the Secret's content stays private


def test_the_definitions_are_the_roles_tasks_and_pipeline_in_the_repetitions_namespace():
    objects = definition_objects(Names("ci-x", "app-x"))
    assert [(body["kind"], body["metadata"]["name"]) for body in objects] == [
        ("Task", "git-clone"),
        ("Task", "build-image"),  # the default builder's Task only (buildah)
        ("Task", "helm-deploy"),
        ("Task", "smoke-test"),
        ("Task", "report"),
        ("Pipeline", "health-cd"),
    ]
    assert {body["metadata"]["namespace"] for body in objects} == {"ci-x"}
    identity = {"app.kubernetes.io/part-of": "tekton-cd", "tekton-cd/pipeline": "health-cd"}
    assert all(body["metadata"]["labels"] == identity for body in objects)
    pipeline = objects[-1]["spec"]
    defaults = {param["name"]: param.get("default") for param in pipeline["params"]}
    assert defaults["app-namespace"] == "app-x"  # the role's defaults follow pipeline_accounts'
    assert defaults["app-url"] == "http://health-frontend.app-x.svc/"
    assert not any("{{" in str(body) for body in objects)


@pytest.mark.skipif(
    not (BENCH_VENV / "bin" / "ansible-playbook").exists(),
    reason="the benchmark virtualenv (.cache/bench-venv) is not installed; `make bench` installs "
    "it, and this test does not",
)
def test_the_kubernetes_core_playbooks_are_valid_for_the_bench_venvs_ansible(tmp_path):
    objects = provision_objects(Names("ci-x", "app-x"), "https://127.0.0.1:6443", "")
    manifests = write_manifests(objects, tmp_path / "manifests.yml")
    for contender in (KubernetesCoreOneTask(), KubernetesCorePerObject()):
        from benchmarks.contenders import Run

        run = Run(None, objects, manifests, tmp_path / "kubeconfig", tmp_path)
        command = contender.command(run) + ["--syntax-check"]
        environment = contender.environment(run, tmp_path, tmp_path / "profile.jsonl")
        completed = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=120, check=False
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
