"""tekton_resources through real ansible-playbook runs: against the session cluster (emulated with
Tekton v1.15 installed, or the real one TEST_KUBECONFIG names, whose Tekton CRDs verify-tekton.sh
installs), and against emulated clusters of this file's own for what the session cluster is not: a
cluster without Tekton, one with only tekton.dev/v1beta1, installing a release file. Checks of the
emulator's request log are skipped on a real cluster."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from tests.conftest import REAL_KUBECONFIG_ENV, ClusterUnderTest
from tests.integration.support import assert_each_case_fails, persisted_writes, reset_request_log
from tests.pipeline_definitions import render
from tests.playbook import task_runner

V1 = "tekton.dev/v1"
STEP = {"name": "run", "image": "registry.example.invalid/tools@sha256:" + "1" * 64, "script": "echo hi"}
IDENTITY = {"app.kubernetes.io/part-of": "tekton-cd", "tekton-cd/pipeline": "demo"}


def task_def(name, **spec):
    return {
        "apiVersion": V1,
        "kind": "Task",
        "metadata": {"name": name},
        "spec": {"steps": [dict(STEP)], **spec},
    }


def pipeline_def(name, *tasks, **spec):
    return {
        "apiVersion": V1,
        "kind": "Pipeline",
        "metadata": {"name": name},
        "spec": {"tasks": [{"name": t, "taskRef": {"name": t}} for t in tasks], **spec},
    }


def resources_task(task_name="resources", **options):
    return {"name": task_name, "tekton_resources": {"pipeline": "demo", **options}}


def tekton_objects(kube, namespace, kind):
    return {item["metadata"]["name"]: item for item in kube.list(V1, kind, namespace)}


def test_the_health_pipeline_is_applied_labelled_then_a_second_run_writes_nothing(
    cluster, kube, namespace, play
):
    objects = render()
    first = play(
        [resources_task(namespace=namespace, pipeline="health-cd", definitions=objects, prune=True)],
        diff=True,
    )
    assert first.rc == 0, first.stdout
    task = first.task("resources")
    assert task.changed
    assert [(r["kind"], r["name"], r["action"]) for r in task.result["results"]] == [
        (o["kind"], o["metadata"]["name"], "created") for o in objects
    ]
    assert task.result["pruned"] == []
    assert "v1" in task.result["tekton"]["api_versions"]
    if cluster.is_emulated:  # the real cluster has Tekton's CRDs without a release's ConfigMaps
        assert task.result["tekton"]["release"] == "v1.15.0"
        assert task.result["tekton"]["feature_flags"]["enable-api-fields"] == "beta"
        assert task.result["validation_warnings"] == []
    assert [d["before"] for d in task.diff] == [{}] * len(objects)
    pipeline = kube.get(V1, "Pipeline", "health-cd", namespace)
    assert pipeline["metadata"]["labels"] == {
        "app.kubernetes.io/part-of": "tekton-cd",
        "tekton-cd/pipeline": "health-cd",
    }
    assert pipeline["spec"]["tasks"] == objects[-1]["spec"]["tasks"]
    versions = {
        name: obj["metadata"]["resourceVersion"]
        for kind in ("Task", "Pipeline")
        for name, obj in tekton_objects(kube, namespace, kind).items()
    }

    reset_request_log(cluster)
    second = play(
        [resources_task(namespace=namespace, pipeline="health-cd", definitions=objects, prune=True)]
    )
    assert second.rc == 0, second.stdout
    again = second.task("resources")
    assert not again.changed
    assert {r["action"] for r in again.result["results"]} == {"unchanged"}
    if cluster.controls:
        assert cluster.controls.writes() == []
        # One label-selected LIST per kind reads the live state and finds what to prune.
        reads = [r[:2] for r in cluster.controls.requests() if f"/namespaces/{namespace}/" in r[1]]
        assert reads == [
            ("GET", f"/apis/{V1}/namespaces/{namespace}/tasks"),
            ("GET", f"/apis/{V1}/namespaces/{namespace}/pipelines"),
        ]
    assert {
        name: obj["metadata"]["resourceVersion"]
        for kind in ("Task", "Pipeline")
        for name, obj in tekton_objects(kube, namespace, kind).items()
    } == versions


def test_definitions_yaml_applies_the_same_objects_as_the_list(cluster, kube, namespace, play):
    objects = render()
    listed = play(
        [resources_task(namespace=namespace, pipeline="health-cd", definitions=objects, prune=True)]
    )
    assert listed.rc == 0, listed.stdout
    # The same objects as the role passes them: one YAML document each, a comment, an empty document.
    text = (
        "# rendered\n" + "".join(f"---\n{yaml.safe_dump(obj, sort_keys=False)}" for obj in objects) + "---\n"
    )
    reset_request_log(cluster)
    as_text = play(
        [resources_task(namespace=namespace, pipeline="health-cd", definitions_yaml=text, prune=True)]
    )
    assert as_text.rc == 0, as_text.stdout
    task = as_text.task("resources")
    assert not task.changed and task.result["pruned"] == []
    assert [(r["kind"], r["name"], r["action"]) for r in task.result["results"]] == [
        (o["kind"], o["metadata"]["name"], "unchanged") for o in objects
    ]
    assert [r["object"] for r in task.result["results"]] == [
        r["object"] for r in listed.task("resources").result["results"]
    ]
    if cluster.controls:
        assert cluster.controls.writes() == []

    reset_request_log(cluster)
    bad = play(
        [
            resources_task(
                namespace=namespace, pipeline="health-cd", definitions_yaml=text + "- not an object\n"
            )
        ]
    )
    assert bad.rc != 0
    assert bad.task("resources").result["msg"] == (
        f"Invalid value for option 'definitions_yaml': document {len(objects) + 1} is a list, not a "
        "mapping; give one Tekton object per YAML document."
    )
    if cluster.controls:
        assert cluster.controls.requests() == []  # refused before connecting


def test_check_mode_shows_what_would_be_created_and_creates_nothing(cluster, kube, namespace, play):
    reset_request_log(cluster)
    run = play(
        [
            resources_task(
                namespace=namespace,
                definitions=[task_def("a"), task_def("b"), pipeline_def("demo", "a", "b")],
            )
        ],
        check=True,
        diff=True,
    )
    assert run.rc == 0, run.stdout
    task = run.task("resources")
    assert task.changed
    assert [(r["name"], r["action"]) for r in task.result["results"]] == [
        ("a", "created"),
        ("b", "created"),
        ("demo", "created"),
    ]
    assert task.diff[2]["after"]["spec"]["tasks"][0]["taskRef"] == {"name": "a"}
    assert kube.list(V1, "Task", namespace) == [] and kube.list(V1, "Pipeline", namespace) == []
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []


def test_changes_update_in_place_and_prune_deletes_only_this_pipelines_objects_that_left(
    cluster, kube, namespace, play
):
    from tests.integration.support import as_field_manager

    first = play(
        [
            resources_task(
                namespace=namespace,
                definitions=[task_def("a"), task_def("b"), pipeline_def("demo", "a", "b")],
            ),
            resources_task(
                "other pipeline", namespace=namespace, pipeline="other", definitions=[task_def("c")]
            ),
        ]
    )
    assert first.rc == 0, first.stdout
    # A Task made by hand, without our labels, is never ours to delete.
    as_field_manager(kube, "kubectl").apply(
        {**task_def("by-hand"), "metadata": {"name": "by-hand", "namespace": namespace}}
    )
    changed_a = task_def("a", description="now described")
    smaller = [changed_a, pipeline_def("demo", "a")]

    checked = play(
        [resources_task(namespace=namespace, definitions=smaller, prune=True)], check=True, diff=True
    )
    assert checked.rc == 0, checked.stdout
    assert checked.task("resources").result["pruned"] == [{"kind": "Task", "name": "b", "action": "deleted"}]
    assert kube.get(V1, "Task", "b", namespace) is not None  # check mode deleted nothing

    reset_request_log(cluster)
    pruned = play([resources_task(namespace=namespace, definitions=smaller, prune=True)], diff=True)
    assert pruned.rc == 0, pruned.stdout
    task = pruned.task("resources")
    assert [(r["name"], r["action"]) for r in task.result["results"]] == [
        ("a", "updated"),
        ("demo", "updated"),
    ]
    assert task.result["pruned"] == [{"kind": "Task", "name": "b", "action": "deleted"}]
    assert task.diff[-1]["before"]["metadata"]["name"] == "b" and task.diff[-1]["after"] == {}
    assert sorted(tekton_objects(kube, namespace, "Task")) == ["a", "by-hand", "c"]
    assert kube.get(V1, "Task", "a", namespace)["spec"]["description"] == "now described"
    if cluster.controls:
        assert [w[0] for w in cluster.controls.writes()] == ["PATCH", "PATCH", "DELETE"]


def test_validation_reports_each_class_of_problem_and_applies_nothing(cluster, kube, namespace, play):
    def pipeline_with(*tasks, **spec):
        return {
            "apiVersion": V1,
            "kind": "Pipeline",
            "metadata": {"name": "p"},
            "spec": {"tasks": list(tasks), **spec},
        }

    build = task_def(
        "build",
        params=[{"name": "image", "type": "string"}],
        results=[{"name": "digest"}],
        workspaces=[{"name": "source"}],
    )
    bound = {
        "params": [{"name": "image", "value": "x"}],
        "workspaces": [{"name": "source", "workspace": "src"}],
    }
    cases = [
        # an unresolved $(params...) reference in a Task
        (
            [task_def("t", steps=[{**STEP, "script": "echo $(params.missing)"}])],
            "Task/t spec.steps[0].script",
        ),
        # a string param used as an array
        (
            [
                task_def(
                    "t",
                    params=[{"name": "flags", "type": "string"}],
                    steps=[{**STEP, "script": None, "args": ["$(params.flags[*])"]}],
                )
            ],
            "params.flags",
        ),
        # a result of a task that does not exist
        (
            [
                build,
                pipeline_with(
                    {"name": "b", "taskRef": {"name": "build"}, **bound},
                    {
                        "name": "d",
                        "taskRef": {"name": "build"},
                        **bound,
                        "params": [{"name": "image", "value": "$(tasks.nope.results.digest)"}],
                    },
                    workspaces=[{"name": "src"}],
                ),
            ],
            "nope",
        ),
        # a runAfter cycle, reported with its path
        (
            [
                build,
                pipeline_with(
                    {"name": "x", "taskRef": {"name": "build"}, "runAfter": ["y"], **bound},
                    {"name": "y", "taskRef": {"name": "build"}, "runAfter": ["x"], **bound},
                    workspaces=[{"name": "src"}],
                ),
            ],
            "→",
        ),
        # a param without default given no value
        (
            [
                build,
                pipeline_with(
                    {"name": "b", "taskRef": {"name": "build"}, "workspaces": bound["workspaces"]},
                    workspaces=[{"name": "src"}],
                ),
            ],
            '"image"',
        ),
        # a workspace the Task declares, not bound
        (
            [build, pipeline_with({"name": "b", "taskRef": {"name": "build"}, "params": bound["params"]})],
            '"source"',
        ),
        # an invalid object name, and a step without a name
        ([task_def("Bad_Name")], "Bad_Name"),
        ([task_def("t", steps=[{"image": STEP["image"], "script": "true"}])], "spec.steps[0].name"),
        # an alpha feature the cluster's feature-flags do not enable (a warning when they are unknown)
        ([task_def("t", steps=[{**STEP, "stdoutConfig": {"path": "/tmp/out"}}])], "alpha"),
        # what is not a definition, or goes elsewhere
        (
            [{"apiVersion": V1, "kind": "PipelineRun", "metadata": {"name": "r"}, "spec": {}}],
            "tekton_pipelinerun",
        ),
        ([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}], "not a Tekton definition"),
        ([{**task_def("t"), "metadata": {"name": "t", "namespace": "elsewhere"}}], '"elsewhere"'),
        (
            [{**task_def("t"), "metadata": {"name": "t", "labels": {"tekton-cd/pipeline": "theirs"}}}],
            "drop the label",
        ),
    ]
    if not cluster.is_emulated:
        cases = [case for case in cases if case[1] != "alpha"]  # no feature-flags ConfigMap there
    reset_request_log(cluster)
    run = assert_each_case_fails(
        play,
        [({"definitions": defs}, text) for defs, text in cases],
        lambda name, options: resources_task(name, namespace=namespace, **options),
    )
    for index in range(len(cases)):
        result = run.task(f"case {index}").result
        assert "nothing was applied" in result["msg"] and result["problems"], (index, result["msg"])
    assert kube.list(V1, "Task", namespace) == [] and kube.list(V1, "Pipeline", namespace) == []
    if cluster.controls:
        assert cluster.controls.writes() == []


def test_every_problem_of_several_definitions_is_reported_in_one_message(cluster, namespace, play):
    definitions = [
        task_def("ok"),
        task_def("t", steps=[{"image": STEP["image"], "script": "echo $(params.nope)"}]),
        pipeline_def("p", "ok", "missing-task"),
    ]
    reset_request_log(cluster)
    run = play([{**resources_task(namespace=namespace, definitions=definitions), "ignore_errors": True}])
    task = run.task("resources")
    assert task.failed
    problems = task.result["problems"]
    assert len(problems) >= 3, problems
    assert any("spec.steps[0].name" in p for p in problems)
    assert any("params.nope" in p for p in problems)
    assert any("missing-task" in p for p in problems)
    assert task.msg.startswith(
        f"The Tekton definitions have {len(problems)} problems, so nothing was applied: (1) "
    )
    for number, problem in enumerate(problems, 1):
        assert f"({number}) {problem.rstrip('.')}" in task.msg
    if cluster.controls:
        assert cluster.controls.writes() == []


def test_run_time_risks_become_warnings_and_the_definitions_are_applied(cluster, kube, namespace, play):
    budget = pipeline_def("demo", "a", "b")
    budget["spec"]["tasks"][1]["runAfter"] = ["a"]
    risky = [task_def("a"), task_def("b", results=[{"name": "list", "type": "array"}]), budget]
    run = play([resources_task(namespace=namespace, definitions=risky)])
    assert run.rc == 0, run.stdout
    task = run.task("resources")
    warnings = task.result["validation_warnings"]
    assert any("Task/b" in w and "4096" in w for w in warnings), warnings
    assert "4096-byte" in run.stdout + run.stderr  # shown to the user as an Ansible warning
    assert kube.get(V1, "Pipeline", "demo", namespace) is not None


def test_a_missing_namespace_fails_before_any_write(cluster, play):
    missing = cluster.unique_name("absent")
    reset_request_log(cluster)
    run = play([{**resources_task(namespace=missing, definitions=[task_def("a")]), "ignore_errors": True}])
    task = run.task("resources")
    assert task.failed and f'namespace "{missing}" does not exist' in task.msg
    checked = play([resources_task(namespace=missing, definitions=[task_def("a")])], check=True)
    assert checked.rc == 0, checked.stdout
    assert checked.task("resources").result["results"][0]["action"] == "created"
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []


def test_triggers_objects_need_tekton_triggers(cluster, namespace, play):
    binding = {
        "apiVersion": "triggers.tekton.dev/v1beta1",
        "kind": "TriggerBinding",
        "metadata": {"name": "push"},
        "spec": {"params": [{"name": "rev", "value": "$(body.after)"}]},
    }
    reset_request_log(cluster)
    run = play(
        [{**resources_task(namespace=namespace, definitions=[task_def("a"), binding]), "ignore_errors": True}]
    )
    task = run.task("resources")
    assert task.failed and task.msg.startswith("Tekton Triggers is not installed"), task.msg
    if cluster.controls:
        assert cluster.controls.writes() == []


# -- clusters of this file's own -------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_clusters(tmp_path_factory):
    """start(tekton=...): an emulated cluster of this module's own (closed at the end of the module)."""
    if os.environ.get(REAL_KUBECONFIG_ENV):
        pytest.skip("the real cluster's Tekton install is what it is; these need emulated ones")
    from contextlib import ExitStack

    from emulator import EmulatedCluster

    with ExitStack() as stack:

        def start(tekton=False):
            emulated = stack.enter_context(EmulatedCluster(tekton=tekton))
            path = emulated.write_kubeconfig(tmp_path_factory.mktemp("own-cluster") / "kubeconfig")
            under_test = ClusterUnderTest(path, emulated.kubeconfig_dict(), emulated)
            from kubernetes import client

            client.CoreV1Api(under_test.api_client()).create_namespace({"metadata": {"name": "ci"}})
            return under_test

        yield start


@pytest.fixture
def play_on(tmp_path, cache_home):
    def bind(under_test):
        return task_runner(
            tmp_path / under_test.unique_name("runs"),
            kubeconfig=under_test.kubeconfig_path,
            env={"XDG_CACHE_HOME": cache_home},
        )

    return bind


def release_file(tmp_path, api="v1"):
    """A Tekton release file as the emulator's install leaves it: namespace, CRDs, ConfigMaps."""
    from emulator.tekton.install import NAMESPACE, config_maps, crds

    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    path = tmp_path / f"release-{api}.yaml"
    # The file's order puts the CRDs first and the namespace last: the module orders them itself.
    path.write_text(yaml.safe_dump_all([*crds(api), *config_maps(api), namespace], sort_keys=False))
    return path


def test_a_cluster_without_tekton_is_told_what_to_install(own_clusters, play_on):
    bare = own_clusters()
    bare.controls.reset()
    run = play_on(bare)(
        [{**resources_task(namespace="ci", definitions=[task_def("a")]), "ignore_errors": True}]
    )
    task = run.task("resources")
    assert task.failed
    assert task.msg.startswith(
        "Tekton Pipelines is not installed: the cluster serves no tekton.dev API; install"
    )
    assert "install_manifest" in task.msg
    assert bare.controls.writes() == []


def test_a_cluster_serving_only_v1beta1_is_told_the_minimum_release(own_clusters, play_on):
    old = own_clusters(tekton="v1beta1")
    old.controls.reset()
    run = play_on(old)(
        [{**resources_task(namespace="ci", definitions=[task_def("a")]), "ignore_errors": True}]
    )
    task = run.task("resources")
    assert task.failed
    assert task.msg.startswith("The cluster serves only tekton.dev/v1beta1 (Tekton Pipelines v0.42.0)"), (
        task.msg
    )
    assert "from v0.43.0 on" in task.msg and task.msg.count(". ") == 0
    assert old.controls.writes() == []


def test_install_manifest_installs_tekton_then_applies_and_a_rerun_writes_nothing(
    own_clusters, play_on, tmp_path
):
    bare = own_clusters()
    play = play_on(bare)
    release = release_file(tmp_path)
    definitions = [task_def("a"), pipeline_def("demo", "a")]

    bare.controls.reset()
    checked = play(
        [resources_task(namespace="ci", definitions=definitions, install_manifest=str(release))], check=True
    )
    assert checked.rc == 0, checked.stdout
    task = checked.task("resources")
    assert [r["action"] for r in task.result["results"]] == ["created", "created"]
    assert {entry["action"] for entry in task.result["installed"]} == {"created"}
    assert persisted_writes(bare.controls) == []
    assert "only in a real run" in " ".join(task.result["warnings"])

    installed = play([resources_task(namespace="ci", definitions=definitions, install_manifest=str(release))])
    assert installed.rc == 0, installed.stdout
    task = installed.task("resources")
    assert task.result["tekton"]["release"] == "v1.15.0" and "v1" in task.result["tekton"]["api_versions"]
    assert [entry["kind"] for entry in task.result["installed"]][:1] == ["Namespace"]
    crds = bare.emulator.objects("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert all(
        any(c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"])
        for crd in crds
        if crd["metadata"]["name"].endswith(".tekton.dev")
    )
    assert [t["metadata"]["name"] for t in bare.emulator.objects("tekton.dev", "v1", "tasks", "ci")] == ["a"]

    bare.controls.reset()
    again = play([resources_task(namespace="ci", definitions=definitions, install_manifest=str(release))])
    assert again.rc == 0 and not again.task("resources").changed, again.stdout
    assert bare.controls.writes() == []


def test_an_old_release_file_is_refused_before_anything_is_applied(own_clusters, play_on, tmp_path):
    bare = own_clusters()
    release = release_file(tmp_path, api="v1beta1")
    bare.controls.reset()
    run = play_on(bare)(
        [
            {
                **resources_task(namespace="ci", definitions=[task_def("a")], install_manifest=str(release)),
                "ignore_errors": True,
            }
        ]
    )
    task = run.task("resources")
    assert task.failed and task.msg.startswith(f"install_manifest {release} serves only tekton.dev/v1beta1")
    assert bare.controls.writes() == []


def test_a_definition_problem_stops_the_install_too(own_clusters, play_on, tmp_path):
    bare = own_clusters()
    release = release_file(tmp_path)
    bare.controls.reset()
    broken = copy.deepcopy(task_def("a"))
    broken["spec"]["steps"][0]["stdoutConfig"] = {"path": "/tmp/out"}  # alpha; the release's flags say beta
    run = play_on(bare)(
        [
            {
                **resources_task(namespace="ci", definitions=[broken], install_manifest=str(release)),
                "ignore_errors": True,
            }
        ]
    )
    task = run.task("resources")
    assert task.failed and "enable-api-fields" in task.msg
    assert bare.controls.writes() == []
