"""tekton_pipelinerun, tekton_pipelinerun_info and the pipeline_run role on the emulated cluster's
Tekton controller, running the project's health-cd Pipeline (tests/pipeline_definitions.py renders
the pipeline_definitions templates): overlapping builds and the timeline showing it, a failing
build explained (task, reason, log tail) with the deploy never started, timeout → graceful cancel
with finally, concurrent runs keeping their own results, pruning by count and age (running runs
spared, PVCs removed, Tekton Pruner respected), check mode and bad input writing nothing, and
waiting by watch, not by polling. Emulator only: the real test cluster has no Tekton controller."""

from __future__ import annotations

import json
import os
import threading
import xml.etree.ElementTree as ET

import pytest
from kubernetes import client

from tests.conftest import REAL_KUBECONFIG_ENV, ClusterUnderTest
from tests.integration.support import assert_each_case_fails, kube_service, persisted_writes
from tests.integration.tekton_support import Tekton, succeeded
from tests.pipeline_definitions import render
from tests.playbook import load_module, task_runner

pytestmark = pytest.mark.emulator_only

BUILDS = ("build-api", "build-frontend", "build-database-migration")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def tekton_cluster(tmp_path_factory):
    """An emulated cluster of this module's own (Tekton CRDs, scripted steps and clock moves stay here)."""
    if os.environ.get(REAL_KUBECONFIG_ENV):
        pytest.skip("the Tekton controller is the emulator's")
    from emulator import EmulatedCluster

    with EmulatedCluster(tekton=True) as emulated:
        path = emulated.write_kubeconfig(tmp_path_factory.mktemp("pipelinerun-cluster") / "kubeconfig")
        yield ClusterUnderTest(path, emulated.kubeconfig_dict(), emulated)


@pytest.fixture
def emulator(tekton_cluster):
    emulated = tekton_cluster.emulator
    emulated.tekton.steps.clear()
    yield emulated
    emulated.tekton.steps.clear()


@pytest.fixture
def namespace(tekton_cluster, emulator):
    """A namespace holding the health-cd Pipeline and its Tasks, the service accounts and secrets."""
    api_client = tekton_cluster.api_client()
    core = client.CoreV1Api(api_client)
    name = tekton_cluster.unique_name("run")
    core.create_namespace({"metadata": {"name": name}})
    tekton = Tekton(api_client, name)
    for obj in render():
        tekton.create(obj["kind"], obj["metadata"]["name"], obj["spec"], labels=obj["metadata"].get("labels"))
    tekton.create(
        "Pipeline",
        "needs-param",
        {
            "params": [
                {"name": "target"},
                {"name": "mode", "default": "fast"},
                {"name": "flags", "type": "array", "default": []},
            ],
            "workspaces": [{"name": "scratch", "optional": True}],
            "tasks": [
                {"name": "only", "taskSpec": {"steps": [{"name": "s", "image": "alpine", "script": "true"}]}}
            ],
        },
    )
    for account in ("builder", "deployer"):
        core.create_namespaced_service_account(name, {"metadata": {"name": account}})
    core.create_namespaced_secret(
        name,
        {"metadata": {"name": "registry-credentials"}, "type": "Opaque", "stringData": {"config.json": "{}"}},
    )
    core.create_namespaced_secret(
        name,
        {
            "metadata": {"name": "deployer-kubeconfig"},
            "stringData": {"kubeconfig": "apiVersion: v1\nkind: Config\n"},
        },
    )
    yield name
    core.delete_namespace(name)


@pytest.fixture
def tekton(tekton_cluster, namespace):
    return Tekton(tekton_cluster.api_client(), namespace)


@pytest.fixture
def play(tekton_cluster, tmp_path, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("cache"))
    return task_runner(tmp_path, kubeconfig=tekton_cluster.kubeconfig_path, env={"XDG_CACHE_HOME": cache})


@pytest.fixture
def run_module(tekton_cluster, monkeypatch, tmp_path):
    """The module's handler in-process (as the action plugin runs it): run_module(**options) -> (result,
    progress lines)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    modules = {name: load_module(name) for name in ("tekton_pipelinerun", "tekton_pipelinerun_info")}

    def run(module="tekton_pipelinerun", check_mode=False, **options):
        declaration = modules[module].MODULE
        params, _ = declaration.validate({"kubeconfig": str(tekton_cluster.kubeconfig_path), **options})
        lines = []
        result = declaration.execute(params, check_mode=check_mode, progress=lines.append)
        return result, lines

    return run


def health_run(namespace, **options):
    """tekton_pipelinerun options for a run of health-cd in `namespace`."""
    return {
        "namespace": namespace,
        "pipeline": "health-cd",
        "workspaces": [
            {"name": "source", "volume_claim_template": {"size": "1Gi"}},
            {"name": "dockerconfig", "secret": "registry-credentials"},
            {"name": "kubeconfig", "secret": "deployer-kubeconfig"},
        ],
        "task_run_specs": [
            {"pipeline_task": "build-*", "service_account": "builder"},
            {"pipeline_task": "deploy", "service_account": "deployer"},
        ],
        "wait_timeout": 60,
        **options,
    }


def tasks_of(result):
    return {task["name"]: task for task in result["run"]["tasks"]}


def claims_of(tekton_cluster, namespace, run_names):
    """PVC names in `namespace` owned by the named runs (looked up by the runs' uids)."""
    kube = kube_service(tekton_cluster.kubeconfig_path)
    uids = {
        r["metadata"]["uid"]
        for r in kube.list("tekton.dev/v1", "PipelineRun", namespace)
        if r["metadata"]["name"] in run_names
    }
    return {
        c["metadata"]["name"]
        for c in kube.list("v1", "PersistentVolumeClaim", namespace)
        if any(ref["uid"] in uids for ref in c["metadata"].get("ownerReferences") or [])
    }


# -- success, through the role -------------------------------------------------------------------


def test_the_role_runs_the_pipeline_with_overlapping_builds_and_draws_the_run(
    play, namespace, emulator, tmp_path, tekton
):
    emulator.tekton.steps.script(task="build-.*", duration=2)  # the builds hold 2 s each, all at once
    artifacts = tmp_path / "artifacts"
    run = play(
        [
            {
                "name": "run",
                "ansible.builtin.include_role": {"name": "tekton_cd.pipeline.pipeline_run"},
                "vars": {
                    "pipeline_run_namespace": namespace,
                    "pipeline_run_revision": "v1.2",
                    "pipeline_run_registry_secret": "registry-credentials",
                    "pipeline_run_artifacts_dir": str(artifacts),
                    "pipeline_run_keep": 3,
                },
            },
            {
                "name": "facts",
                "ansible.builtin.debug": {
                    "msg": {
                        "images": "{{ pipeline_run_images }}",
                        "url": "{{ pipeline_run_app_url }}",
                        "name": "{{ pipeline_run_name }}",
                    }
                },
            },
        ]
    )
    assert run.rc == 0, run.stdout + run.stderr
    result = run.task("Start a run of the pipeline and follow it until it ends").result
    assert result["run"]["status"] == "succeeded" and result["run"]["params"]["git-revision"] == "v1.2"
    tasks = tasks_of(result)
    for first in BUILDS:  # each build ran while the others did
        for other in BUILDS:
            assert tasks[first]["start"] < tasks[other]["end"], (first, other)
    assert tasks["deploy"]["start"] >= max(tasks[b]["end"] for b in BUILDS)
    assert all(tasks[b]["duration"] >= 2 for b in BUILDS)

    # Progress: each change once, with the time since the run started, printed while it ran.
    for build in BUILDS:
        assert sum(f"| {build} running 0:" in line for line in run.stdout.splitlines()) == 1, run.stdout
        assert sum(f"| {build} succeeded 0:0" in line for line in run.stdout.splitlines()) == 1
    assert f"| run {result['run']['name']} succeeded" in run.stdout
    # The final timeline table.
    assert "TASK" in run.stdout and "build-database-migration  succeeded" in run.stdout

    # Registered for the smoke test: the images by digest and the application URL.
    facts = run.task("facts").result["msg"]
    assert facts["url"] == "http://health.health.svc/"
    assert {image["task"] for image in facts["images"]} == set(BUILDS)
    deploy = tekton.get("TaskRun", tasks["deploy"]["task_run"])
    images_param = next(p["value"] for p in deploy["spec"]["params"] if p["name"] == "images")
    for image in facts["images"]:
        assert image["digest"].startswith("sha256:") and any(image["reference"] in v for v in images_param)
    # Service accounts per task.
    assert tekton.get("TaskRun", tasks["build-api"]["task_run"])["spec"]["serviceAccountName"] == "builder"
    assert deploy["spec"]["serviceAccountName"] == "deployer"

    # The picture: an SVG document with one DAG node per task in its outcome's colour, and the
    # timeline bars of the builds overlapping; the same facts as JSON.
    svg = ET.parse(artifacts / f"{facts['name']}.svg").getroot()
    nodes = svg.findall(f".//{SVG}g[@class='dag']/{SVG}g[@class='task']")
    assert sorted(n.get("data-task") for n in nodes) == sorted(tasks)
    assert {n.find(f"{SVG}rect").get("fill") for n in nodes} == {"#1a7f37"}
    bars = {b.get("data-task"): b.find(f"{SVG}rect") for b in svg.findall(f".//{SVG}g[@class='bar']")}
    spans = {
        name: (float(bars[name].get("x")), float(bars[name].get("x")) + float(bars[name].get("width")))
        for name in BUILDS
    }
    assert all(spans[a][0] < spans[b][1] for a in BUILDS for b in BUILDS)
    data = json.loads((artifacts / f"{facts['name']}.json").read_text())
    assert {t["name"] for t in data["tasks"]} == set(tasks)


# -- failure, timeout, cancel --------------------------------------------------------------------


def test_a_failing_build_is_explained_and_the_deploy_never_starts(run_module, namespace, emulator, tekton):
    emulator.tekton.steps.script(
        task="build-frontend",
        step="build-and-push",
        exit_code=1,
        log="STEP 3/5: RUN npm ci\nnpm ERR! 404 left-pad not found\nError: building at STEP 3",
    )
    result, lines = run_module(**health_run(namespace))
    assert result["failed"] and result["run"]["status"] == "failed"
    failure = result["failure"]
    assert failure["task"] == "build-frontend" and failure["reason"] == "StepFailed"
    assert failure["step"] == "build-and-push" and failure["exit_code"] == 1
    assert failure["log"].splitlines()[-1] == "Error: building at STEP 3"
    assert 'task "build-frontend"' in result["msg"] and "StepFailed" in result["msg"]
    assert "npm ERR! 404 left-pad not found" in result["msg"]
    assert "deploy" not in {t["name"] for t in result["run"]["tasks"] if t["task_run"]}
    assert tekton.list("TaskRun", "tekton.dev/pipelineTask=deploy") == []
    assert tasks_of(result)["deploy"]["status"] == "skipped"
    assert any(line.startswith("build-frontend failed") for line in lines)


def test_a_run_past_its_wait_timeout_is_cancelled_gracefully_and_finally_runs(
    run_module, namespace, emulator
):
    emulator.tekton.steps.script(task="build-api", duration=600)
    result, lines = run_module(**health_run(namespace, wait_timeout=2))
    assert result["failed"] and result["cancelled"] == "CancelledRunFinally"
    assert "did not end within wait_timeout (2 s), so it was cancelled (CancelledRunFinally" in result["msg"]
    assert (
        "tasks cancelled: build-api" in result["msg"] and "finally tasks: report succeeded" in result["msg"]
    )
    assert result["run"]["status"] == "cancelled" and result["run"]["reason"] == "Cancelled"
    tasks = tasks_of(result)
    assert tasks["build-api"]["status"] == "cancelled" and tasks["report"]["status"] == "succeeded"
    assert tasks["report"]["final"]
    assert any("wait_timeout of 2 s passed: cancelling" in line for line in lines)


def test_state_absent_cancels_a_running_run_and_deletes_a_finished_one_with_its_pvc(
    run_module, namespace, emulator, tekton, tekton_cluster
):
    emulator.tekton.steps.script(task="clone", duration=600)
    started, _ = run_module(**health_run(namespace, wait=False))
    name = started["run"]["name"]
    cancelled, _ = run_module(namespace=namespace, name=name, state="absent", cancel_timeout=30)
    assert cancelled["changed"] and cancelled["cancelled"] == "CancelledRunFinally", cancelled
    assert cancelled["run"]["status"] == "cancelled" and not cancelled.get("failed")
    assert tekton.get("PipelineRun", name)["spec"]["status"] == "CancelledRunFinally"
    claims = claims_of(tekton_cluster, namespace, {name})
    assert claims  # the source volumeClaimTemplate's PVC
    deleted, _ = run_module(namespace=namespace, name=name, state="absent")
    assert deleted["changed"] and deleted["deleted"] == {"run": name, "claims": sorted(claims)}
    assert tekton.list("PipelineRun") == [] and claims_of(tekton_cluster, namespace, {name}) == set()
    kube = kube_service(tekton_cluster.kubeconfig_path)
    assert not {c["metadata"]["name"] for c in kube.list("v1", "PersistentVolumeClaim", namespace)} & claims
    again, _ = run_module(namespace=namespace, name=name, state="absent")
    assert again == {"changed": False}


def test_two_runs_started_at_once_keep_their_own_results(run_module, namespace, emulator, tekton):
    emulator.tekton.steps.script(task="build-.*", duration=1)
    results = {}

    def start(revision):
        results[revision] = run_module(**health_run(namespace, params={"git-revision": revision}))[0]

    threads = [threading.Thread(target=start, args=(revision,)) for revision in ("v1", "v2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert all(results[r]["run"]["status"] == "succeeded" for r in ("v1", "v2")), results
    digests = {r: {i["task"]: i["digest"] for i in results[r]["run"]["images"]} for r in ("v1", "v2")}
    assert set(digests["v1"]) == set(BUILDS) and not set(digests["v1"].values()) & set(digests["v2"].values())
    for revision in ("v1", "v2"):
        deploy = tekton.get("TaskRun", tasks_of(results[revision])["deploy"]["task_run"])
        images = " ".join(next(p["value"] for p in deploy["spec"]["params"] if p["name"] == "images"))
        assert all(digest in images for digest in digests[revision].values())  # deployed its own images
        other = "v2" if revision == "v1" else "v1"
        assert not any(digest in images for digest in digests[other].values())


# -- waiting watches ------------------------------------------------------------------------------


def test_waiting_watches_the_run_and_never_polls(run_module, namespace, emulator, tekton_cluster):
    emulator.tekton.steps.script(task="build-.*", duration=2)
    load_module("tekton_pipelinerun")
    tekton_cluster.controls.reset()
    result, _ = run_module(**health_run(namespace))
    assert result["run"]["status"] == "succeeded"
    requests = tekton_cluster.controls.requests()
    runs_path = f"/apis/tekton.dev/v1/namespaces/{namespace}/pipelineruns"
    task_runs_path = f"/apis/tekton.dev/v1/namespaces/{namespace}/taskruns"
    reads = [
        (verb, path, query)
        for verb, path, query in requests
        if verb == "GET" and path.startswith((runs_path, task_runs_path)) and "watch=true" not in query
    ]
    watches = [path for verb, path, query in requests if verb == "GET" and "watch=true" in query]
    # One LIST of the run and of its TaskRuns before watching, one LIST of the TaskRuns at the end.
    assert len(reads) <= 3, reads
    assert sorted(watches) == [runs_path, task_runs_path]  # one watch each, for the whole run


# -- retention ------------------------------------------------------------------------------------


def finished_runs(run_module, namespace, count, emulator):
    """`count` runs one after the other, each a second later on the cluster's clock than the last
    (timestamps have whole seconds: quick runs would otherwise share them and their order)."""
    names = []
    for _ in range(count):
        result, _ = run_module(**health_run(namespace))
        assert result["run"]["status"] == "succeeded"
        names.append(result["run"]["name"])
        emulator.advance_time(1)
    return names


def test_keep_prunes_the_oldest_finished_runs_and_their_pvcs_never_a_running_one(
    run_module, namespace, emulator, tekton, tekton_cluster
):
    old = finished_runs(run_module, namespace, 3, emulator)
    emulator.tekton.steps.script(task="clone", duration=600)
    running, _ = run_module(**health_run(namespace, wait=False))
    old_claims = claims_of(tekton_cluster, namespace, set(old[:2]))
    assert len(old_claims) == 2
    result, _ = run_module(namespace=namespace, pipeline="health-cd", state="absent", keep=1)
    assert result["changed"] and sorted(result["pruned"]["runs"]) == sorted(old[:2])
    assert sorted(result["pruned"]["claims"]) == sorted(old_claims)
    left = {r["metadata"]["name"] for r in tekton.list("PipelineRun")}
    assert left == {old[2], running["run"]["name"]}
    assert claims_of(tekton_cluster, namespace, set(old[:2])) == set()
    kube = kube_service(tekton_cluster.kubeconfig_path)
    remaining = {c["metadata"]["name"] for c in kube.list("v1", "PersistentVolumeClaim", namespace)}
    assert not remaining & old_claims and claims_of(tekton_cluster, namespace, {old[2]}) <= remaining
    again, _ = run_module(namespace=namespace, pipeline="health-cd", state="absent", keep=1)
    assert not again["changed"] and again["pruned"] == {"runs": [], "claims": []}
    tekton.patch_spec("PipelineRun", running["run"]["name"], {"status": "Cancelled"})


def test_keep_since_prunes_runs_that_ended_too_long_ago_together_with_keep(
    run_module, namespace, emulator, tekton
):
    emulator.advance_time(-3 * 3600)  # these runs happen three hours ago on the cluster's clock
    try:
        ancient = finished_runs(run_module, namespace, 2, emulator)
    finally:
        emulator.advance_time(3 * 3600)
    recent = finished_runs(run_module, namespace, 3, emulator)
    result, _ = run_module(namespace=namespace, pipeline="health-cd", state="absent", keep_since="2h")
    assert sorted(result["pruned"]["runs"]) == sorted(ancient)
    # Both limits apply: at most two runs, and none older than two hours.
    result, _ = run_module(namespace=namespace, pipeline="health-cd", state="absent", keep=2, keep_since="2h")
    assert result["pruned"]["runs"] == [recent[0]]
    assert {r["metadata"]["name"] for r in tekton.list("PipelineRun")} == set(recent[1:])


def test_pruning_is_left_to_tekton_pruner_when_it_covers_the_namespace(
    run_module, namespace, tekton, tekton_cluster, emulator
):
    runs = finished_runs(run_module, namespace, 2, emulator)
    core = client.CoreV1Api(tekton_cluster.api_client())
    core.create_namespaced_config_map(
        "tekton-pipelines",
        {
            "metadata": {
                "name": "tekton-pruner-default-spec",
                "labels": {
                    "app.kubernetes.io/part-of": "tekton-pruner",
                    "pruner.tekton.dev/config-type": "global",
                },
            },
            "data": {"global-config": "enforcedConfigLevel: global\nhistoryLimit: 10\n"},
        },
    )
    try:
        left, _ = run_module(namespace=namespace, pipeline="health-cd", state="absent", keep=1)
        assert not left["changed"] and left["pruned"]["runs"] == []
        assert "tekton-pipelines/tekton-pruner-default-spec" in left["pruned"]["left_to"]
        assert "prune_despite_pruner" in left["warnings"][0]
        assert len(tekton.list("PipelineRun")) == 2
        forced, _ = run_module(
            namespace=namespace, pipeline="health-cd", state="absent", keep=1, prune_despite_pruner=True
        )
        assert forced["pruned"]["runs"] == [runs[0]]
    finally:
        core.delete_namespaced_config_map("tekton-pruner-default-spec", "tekton-pipelines")


# -- check mode and bad input ---------------------------------------------------------------------


def test_check_mode_starts_nothing(play, namespace, tekton, tekton_cluster):
    tekton_cluster.controls.reset()
    run = play([{"name": "start", "tekton_pipelinerun": health_run(namespace)}], check=True)
    assert run.rc == 0, run.stdout
    task = run.task("start")
    assert task.changed and task.result["would_create"]["spec"]["pipelineRef"] == {"name": "health-cd"}
    assert persisted_writes(tekton_cluster.controls) == []
    assert tekton.list("PipelineRun") == [] and tekton.list("TaskRun") == []


def test_each_bad_request_is_rejected_before_anything_is_created(play, namespace, tekton, tekton_cluster):
    def task(name, options):
        return {"name": name, "tekton_pipelinerun": {"namespace": namespace, "wait_timeout": 10, **options}}

    declares = (
        'the Pipeline "needs-param" declares params target (required), mode, flags; '
        "workspaces scratch (optional); tasks only"
    )
    tekton_cluster.controls.reset()
    assert_each_case_fails(
        play,
        [
            ({"pipeline": "nope"}, 'Pipeline "nope" in namespace'),
            ({"pipeline": "nope"}, "the Pipelines there are health-cd, needs-param"),
            ({"pipeline": "needs-param"}, 'missing required param "target"; ' + declares),
            ({"pipeline": "needs-param", "params": {"target": "x", "mdoe": "slow"}}, 'unknown param "mdoe"'),
            (
                {"pipeline": "needs-param", "params": {"target": "x", "flags": "-v"}},
                'param "flags" is array but a string is given',
            ),
            (
                {
                    "pipeline": "needs-param",
                    "params": {"target": "x"},
                    "workspaces": [{"name": "scratc", "empty_dir": True}],
                },
                'unknown workspace "scratc"',
            ),
            (
                {
                    "pipeline": "needs-param",
                    "params": {"target": "x"},
                    "workspaces": [{"name": "scratch", "empty_dir": True, "secret": "s"}],
                },
                'workspace "scratch" needs exactly one of',
            ),
            ({"pipeline": "health-cd", "params": {"git-revision": "v1"}}, 'workspace "source" is not bound'),
            (
                {
                    "pipeline": "needs-param",
                    "params": {"target": "x"},
                    "task_run_specs": [{"pipeline_task": "build-*", "service_account": "builder"}],
                },
                'task_run_specs names pipeline task "build-*", which matches none',
            ),
            (
                {"pipeline": "needs-param", "params": {"target": "x"}, "keep_since": "a week"},
                "Invalid value for option 'keep_since'",
            ),
            ({"state": "absent"}, "Invalid value for option 'name'"),
            ({"pipeline": "needs-param", "wait_timeout": 0}, "Invalid value for option 'wait_timeout'"),
        ],
        task,
    )
    assert persisted_writes(tekton_cluster.controls) == []
    assert tekton.list("PipelineRun") == []


# -- info -----------------------------------------------------------------------------------------


def test_info_lists_the_runs_of_a_pipeline_and_shows_one_in_detail(run_module, namespace, emulator):
    good = finished_runs(run_module, namespace, 1, emulator)[0]
    emulator.tekton.steps.script(task="smoke-test", exit_code=7, log="curl: (7) Failed to connect")
    bad, _ = run_module(**health_run(namespace))
    listed, _ = run_module("tekton_pipelinerun_info", namespace=namespace, pipeline="health-cd")
    assert [(r["name"], r["status"]) for r in listed["runs"]] == [
        (bad["run"]["name"], "failed"),
        (good, "succeeded"),
    ]
    assert all(r["duration"] is not None and r["start"] and r["end"] for r in listed["runs"])
    limited, _ = run_module("tekton_pipelinerun_info", namespace=namespace, pipeline="health-cd", limit=1)
    assert [r["name"] for r in limited["runs"]] == [bad["run"]["name"]]
    detail, _ = run_module("tekton_pipelinerun_info", namespace=namespace, name=bad["run"]["name"])
    assert detail["failure"]["task"] == "smoke-test" and "Failed to connect" in detail["failure"]["log"]
    assert {t["name"] for t in detail["run"]["tasks"]} == {t["name"] for t in bad["run"]["tasks"]}
    missing, _ = run_module("tekton_pipelinerun_info", namespace=namespace, name="gone")
    assert missing == {"changed": False, "run": None}


def test_a_named_run_that_exists_is_followed_not_started_again(run_module, namespace, tekton):
    first, _ = run_module(**health_run(namespace, name="release-1"))
    assert first["changed"] and first["run"]["status"] == "succeeded"
    again, _ = run_module(**health_run(namespace, name="release-1"))
    assert not again["changed"] and again["run"]["status"] == "succeeded"
    assert [r["metadata"]["name"] for r in tekton.list("PipelineRun")] == ["release-1"]
    assert succeeded(tekton.get("PipelineRun", "release-1"))["status"] == "True"
