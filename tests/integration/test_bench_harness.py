"""`make bench` cannot rot: its harness runs here once, end to end, against its own emulated cluster,
with one repetition, no warm-up and the fast tools only (provision.yml and kubectl, with kubectl
standing in for the kubernetes.core baseline, so the bench virtualenv is neither needed nor
installed), and the report it writes is checked for what users read in docs/benchmarks.md. The
same for issue 17's parts: scaling with N = 1 and 2 tenants (both tekton-cd forms and kubectl), and
one run-wait measurement of a short simulated run; their counts and shapes are asserted, never
their seconds."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import pytest

from benchmarks import report, report_scaling
from benchmarks.clusters import EmulatedTarget
from benchmarks.contenders import (
    BENCH_VENV,
    ROOT,
    KubectlApply,
    KubernetesCoreOneTask,
    KubernetesCorePerObject,
    ProvisionPlaybook,
    TenantsRole,
)
from benchmarks.harness import Harness
from benchmarks.machine import Machine, tool_versions
from benchmarks.manifests import (
    Names,
    Tenants,
    definition_objects,
    provision_objects,
    tenant_objects,
    write_manifests,
)
from benchmarks.plot import Panel, Point, scaling_svg
from benchmarks.runwait import run_wait
from benchmarks.scaling import run_scaling

SVG = "{http://www.w3.org/2000/svg}"


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
    text, _pictures = report.render(report.BenchResults(machine, [results]), tool_versions(), "make bench")
    return results, text


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
    # the per-kind budget counts the review's reads as the review's, not as the kinds'
    budget = next(check for check in report.checks(results) if "per kind managed" in check.target)
    others = noop.requests().total - review.requests
    assert budget.measured.startswith(f"{others} besides the access review's {review.requests} "), budget


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


# -- issue 17: scaling, run-wait latency, the plot ------------------------------------------------


@pytest.fixture(scope="module")
def issue17(tmp_path_factory):
    """Scaling with N = 1 and 2 (both tekton-cd forms and kubectl) and one run-wait run, against one
    emulated cluster of their own; then the report."""
    workdir = tmp_path_factory.mktemp("bench17")
    target = EmulatedTarget(workdir).start()
    try:
        scaling = run_scaling(
            target,
            [TenantsRole(), KubectlApply()],
            workdir / "scaling",
            (1, 2),
            repetitions=1,
            warmups=0,
            log=lambda *_: None,
        )
        waited = run_wait(target, workdir / "run-wait", 1, 0, build_seconds=1, log=lambda *_: None)
    finally:
        target.stop()
    machine = Machine.now()
    machine.finish()
    results = report.BenchResults(machine, [], [scaling], waited)
    text, pictures = report.render(results, tool_versions(), "make bench")
    return scaling, waited, text, pictures


def test_every_tool_provisions_n_tenants_and_the_counts_follow_n(issue17):
    scaling, _, _, _ = issue17
    for count, results in scaling.by_count.items():
        for phase in results.phases.values():
            assert not phase.failures, (count, phase.failures[0].output_tail)
        # kubectl applies each of the 9 objects per tenant once, on every run
        assert results.phase("kubectl", "first").requests().by_category["patch"] == 9 * count
        first = results.phase("tenants-role", "first")
        # 9 objects and a token per tenant, and each tenant's accounts reviewed
        assert first.writes().median >= 10 * count
        assert first.requests().by_category["review"] >= 100 * count
    # one access review for every tenant: its record still holds on the no-op, which writes nothing
    assert scaling.phase(2, "tenants-role", "noop").writes().high == 0
    assert scaling.phase(2, "tenants-role", "noop").requests().by_category.get("review", 0) == 0
    # one stage call per kind, each reading its kind with one request: 1 or 2 tenants cost the same
    noops = [scaling.phase(count, "tenants-role", "noop").requests() for count in (1, 2)]
    assert noops[0].total == noops[1].total, [summary.describe() for summary in noops]


def test_the_scaling_report_has_each_n_the_per_tenant_cost_the_plot_and_the_targets(issue17):
    scaling, _, text, pictures = issue17
    assert "## Scaling: N tenants" in text and "### Scaling on the emulated cluster" in text
    assert "s added per tenant, 1→2" in text
    assert "![Time against the number of tenants, emulated cluster](benchmarks-scaling-emulated.svg)" in text
    assert list(pictures) == ["benchmarks-scaling-emulated.svg"]
    svg = ET.fromstring(pictures["benchmarks-scaling-emulated.svg"])
    panels = svg.findall(f"{SVG}g")
    assert len(panels) == 3  # first converge time, no-op time, no-op requests
    # one line per tool in each panel, through its 2 points
    assert all(len(panel.findall(f"{SVG}path")) >= 2 for panel in panels)
    checks = report_checks(text, "## Targets of issue 17")
    assert any("no-op requests independent of N" in line for line in checks)
    assert any("faster than kubectl and kubernetes.core" in line for line in checks)
    # a missed speed target says where the time went: start-up and the modules that took longest
    breakdown = report_scaling.phase_breakdown(scaling, "tenants-role", "first")
    assert "start-up" in breakdown and "k8s_access_review 1×" in breakdown, breakdown
    slower = [line for line in checks if "faster than kubectl" in line and "**no**" in line]
    assert all("Where the time goes: " in line and "start-up" in line for line in slower), slower
    assert str(ROOT) not in text and "/tmp/" not in text


def report_checks(text: str, heading: str) -> list[str]:
    return [line for line in text.split(heading, 1)[1].splitlines() if line.startswith("| ")]


def test_run_wait_times_the_return_from_the_controllers_finish_and_sees_no_polling(issue17):
    _, waited, text, _ = issue17
    assert not waited.failures, waited.failures and waited.failures[0].output_tail
    (record,) = waited.records
    assert record.reason == "Succeeded"
    assert record.created < record.finished < record.returned <= record.exited
    waiting = [request.category for request in record.waiting()]
    assert waiting.count("watch") == 2  # the run and its TaskRuns, each watched once
    assert record.after_watches() == []  # nothing more was asked until the run ended
    assert "## Run-wait latency" in text
    checks = report_checks(text, "## Targets of issue 17")
    assert any("waiting by watch, not poll | yes" in line for line in checks)


def test_the_tenants_are_the_roles_objects_per_namespace_pair():
    tenants = Tenants.named("b1-x-ab12", 3)
    assert len(set(tenants.namespaces)) == 6
    assert tenants.extra_vars()["bench_tenants"][2] == {
        "pipeline_namespace": "b1-x-ab12-t2-ci",
        "app_namespace": "b1-x-ab12-t2-app",
    }
    objects = tenant_objects(tenants, "https://127.0.0.1:6443", "")
    assert len(objects) == 27
    assert {body["metadata"].get("namespace", body["metadata"]["name"]) for body in objects} == set(
        tenants.namespaces
    )


def test_the_plot_draws_a_line_and_spread_per_series_on_a_logarithmic_axis():
    panel = Panel(
        "first converge: wall time",
        "s",
        {
            "slow": [Point(1, 2.0, 1.5, 2.5), Point(10, 20.0, 19.0, 21.0), Point(50, 100.0, 90.0, 110.0)],
            "fast": [Point(1, 0.1, 0.1, 0.1), Point(50, 0.5, 0.4, 0.6)],
        },
    )
    svg = ET.fromstring(scaling_svg("Scaling", "test", [panel]))
    (group,) = svg.findall(f"{SVG}g")
    ticks = [text.text for text in group.findall(f"{SVG}text")]
    assert {"0.1 s", "1 s", "10 s", "100 s"} <= set(ticks)  # a line per decade from 0.1 s up
    assert {"1", "10", "50"} <= set(ticks)
    lines = group.findall(f"{SVG}path")
    assert len(lines) >= 2  # a polyline per series (and the markers' shapes)
    legend = [text.text for text in svg.findall(f"{SVG}text")]
    assert "slow" in legend and "fast" in legend
