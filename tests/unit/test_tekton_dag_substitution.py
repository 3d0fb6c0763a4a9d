"""Unit tests of the emulated Tekton controller's pure parts: the Pipeline graph (dependencies,
Tekton's dag.Build errors, readiness), variable substitution, names, durations and the simulated
executor's results."""

from __future__ import annotations

import threading

import pytest

from emulator.tekton import reasons
from emulator.tekton.dag import Graph, GraphError, dependencies_of
from emulator.tekton.executors import StepContext, derived_results
from emulator.tekton.substitution import Replacements, pipeline_task_references


def task(name, run_after=(), params=()):
    spec = {"name": name, "taskRef": {"name": "t"}}
    if run_after:
        spec["runAfter"] = list(run_after)
    if params:
        spec["params"] = [{"name": f"p{i}", "value": v} for i, v in enumerate(params)]
    return spec


def test_dependencies_come_from_run_after_and_result_references():
    deploy = task("deploy", ["test"], ["$(tasks.build.results.IMAGE_DIGEST)", "$(tasks.test.results.ok)"])
    assert dependencies_of(deploy) == ["test", "build"]
    assert pipeline_task_references(deploy) == [("build", "IMAGE_DIGEST"), ("test", "ok")]


def test_ready_tasks_follow_the_graph():
    graph = Graph([task("api"), task("web"), task("deploy", ["api", "web"]), task("smoke", ["deploy"])])
    assert graph.ready(set()) == ["api", "web"]
    assert graph.ready({"api"}) == ["web"]
    assert graph.ready({"api", "web"}) == ["deploy"]
    assert graph.children("deploy") == ["smoke"]


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([task("a", ["b"]), task("b", ["a"])], 'cycle detected; task "a" depends on "b"'),
        (
            [task("a"), task("b", ["a", "c"]), task("c", ["b"])],
            'cycle detected; task "b" depends on "c"',
        ),
        (
            [task("a", ["ghost"])],
            "couldn't add link between a and ghost: task a depends on ghost but ghost wasn't present in "
            "Pipeline",
        ),
        (
            [task("a"), task("a")],
            "task a is already present in Graph, can't add it again: duplicate pipeline task",
        ),
    ],
    ids=["two-cycle", "cycle-behind-a-root", "unknown-dependency", "duplicate"],
)
def test_invalid_graphs_fail_with_tektons_messages(tasks, message):
    with pytest.raises(GraphError) as error:
        Graph(tasks)
    assert str(error.value) == message


def test_finally_tasks_have_no_dependencies():
    graph = Graph([task("report", params=["$(tasks.build.results.x)"])], with_dependencies=False)
    assert graph.ready(set()) == ["report"]


def replacements():
    rep = Replacements()
    rep.add_param("params", "url", "https://127.0.0.1/repo.git")
    rep.add_param("params", "flags", ["--a", "--b"])
    rep.add_param("params", "obj", {"key": "v"})
    rep.strings["context.pipelineRun.name"] = "run-1"
    return rep


def test_strings_arrays_objects_and_context_are_substituted():
    rep = replacements()
    assert rep.text("git clone $(params.url) -- $(context.pipelineRun.name)") == (
        "git clone https://127.0.0.1/repo.git -- run-1"
    )
    assert rep.text("$(params[\"url\"]) $(params['url']) $(params.flags[1]) $(params.obj.key)") == (
        "https://127.0.0.1/repo.git https://127.0.0.1/repo.git --b v"
    )
    assert rep.items(["build", "$(params.flags[*])", "$(params.url)"]) == [
        "build",
        "--a",
        "--b",
        "https://127.0.0.1/repo.git",
    ]
    assert rep.param_value("$(params.flags[*])") == ["--a", "--b"]
    assert rep.param_value(["x", "$(params.flags[*])"]) == ["x", "--a", "--b"]


def test_unknown_variables_are_left_as_they_are():
    rep = replacements()
    assert rep.text("$(params.nope) $(results.digest.path) $(params.flags[*])") == (
        "$(params.nope) $(results.digest.path) $(params.flags[*])"
    )


def test_child_names_follow_kmeta():
    assert reasons.child_name("run", "-build") == "run-build"
    long_run = "r" * 60
    name = reasons.child_name(long_run, "-build")
    assert len(name) == 63 and name.endswith("-build") and name.startswith("r" * 25)
    assert reasons.child_name(long_run, "-build") == name  # stable


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3600, "1h0m0s"), (90, "1m30s"), (2, "2s"), (1.5, "1.5s"), (0.5, "500ms"), (0, "0s"), (5400, "1h30m0s")],
)
def test_durations_print_as_go_does(seconds, text):
    assert reasons.go_duration(seconds) == text
    assert reasons.parse_duration(text) == pytest.approx(seconds)


def test_bad_durations_are_refused():
    with pytest.raises(ValueError, match='invalid duration "ten minutes"'):
        reasons.parse_duration("ten minutes")


def context(tmp_path, script, params=None, results=("IMAGE_DIGEST", "url")):
    return StepContext(
        namespace="ns",
        task_run="r-build",
        pipeline_run="r",
        pipeline_task="build",
        task="buildah",
        step="push",
        index=0,
        image="quay.io/buildah",
        script=script,
        command=[],
        args=[],
        env={},
        working_dir="",
        params=params or {"IMAGE": "127.0.0.1:5000/api"},
        workspaces={},
        results_dir=tmp_path,
        result_names=list(results),
        log=lambda text: None,
        cancelled=threading.Event(),
    )


def test_simulated_results_are_literal_writes_or_derived_from_the_inputs(tmp_path):
    script = f'buildah push --digestfile {tmp_path}/IMAGE_DIGEST\necho -n "https://x" > /tekton/results/url\n'
    first = derived_results(context(tmp_path, script))
    assert first["url"] == "https://x"
    assert first["IMAGE_DIGEST"].startswith("sha256:") and len(first["IMAGE_DIGEST"]) == len("sha256:") + 64
    assert derived_results(context(tmp_path, script)) == first  # deterministic
    other = derived_results(context(tmp_path, script, params={"IMAGE": "127.0.0.1:5000/web"}))
    assert other["IMAGE_DIGEST"] != first["IMAGE_DIGEST"]
    assert derived_results(context(tmp_path, "echo nothing")) == {}  # results it does not write are absent
