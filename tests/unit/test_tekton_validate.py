"""The offline validator of Tekton v1 definitions: one test per class of problem, several problems
reported together, the warnings, and the health pipeline's own definitions passing clean."""

from __future__ import annotations

import copy

import pytest

from tests.pipeline_definitions import SAMPLE_VARIABLES, render
from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.tekton_validate import (  # noqa: E402
    Finding,
    parse_duration,
    validate,
)


def task(name="build", params=(), results=(), workspaces=(), steps=None, **spec):
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "Task",
        "metadata": {"name": name},
        "spec": {
            "params": list(params),
            "results": list(results),
            "workspaces": list(workspaces),
            "steps": steps if steps is not None else [{"name": "run", "image": "alpine", "script": "true"}],
            **spec,
        },
    }


def pipeline(tasks, name="cd", params=(), workspaces=(), final=(), results=()):
    spec = {"params": list(params), "workspaces": list(workspaces), "tasks": list(tasks)}
    if final:
        spec["finally"] = list(final)
    if results:
        spec["results"] = list(results)
    return {"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": {"name": name}, "spec": spec}


def ptask(name, task_name="build", **fields):
    return {"name": name, "taskRef": {"name": task_name}, **fields}


def only(findings):
    assert len(findings) == 1, [str(f) for f in findings]
    return findings[0]


def test_the_health_pipeline_definitions_have_no_problems_and_no_warnings():
    problems, warnings = validate(render(), feature_flags={"enable-api-fields": "beta"})
    assert problems == [] and warnings == []


def test_any_number_of_images_gives_one_parallel_build_each():
    images = SAMPLE_VARIABLES["pipeline_definitions_images"] + [
        {"name": "worker", "context": "w", "values_key": "w"}
    ]
    objects = render({"pipeline_definitions_images": images, "pipeline_definitions_builder": "kaniko"})
    assert validate(objects) == ([], [])
    spec = objects[-1]["spec"]
    builds = [t for t in spec["tasks"] if t["name"].startswith("build-")]
    assert [t["name"] for t in builds] == [
        "build-api",
        "build-frontend",
        "build-database-migration",
        "build-worker",
    ]
    assert all(t["taskRef"]["name"] == "build-image-kaniko" and "runAfter" not in t for t in builds)
    [deploy] = [t for t in spec["tasks"] if t["name"] == "deploy"]
    images = next(p["value"] for p in deploy["params"] if p["name"] == "images")
    assert images[2] == (
        "databaseMigration=$(tasks.build-database-migration.results.IMAGE_URL)"
        "@$(tasks.build-database-migration.results.IMAGE_DIGEST)"
    )


def test_step_images_are_pinned_by_digest_when_one_is_given_and_can_point_at_a_mirror():
    objects = render({"pipeline_definitions_image_mirror": "mirror.example.invalid"})
    assert objects[1]["spec"]["steps"][0]["image"] == (
        "mirror.example.invalid/ubi9/buildah@sha256:c8b1d312815452964885680fc5bc8d99b3bfe9b6961228c71a09c72ca8e915eb"
    )
    assert objects[0]["spec"]["steps"][0]["image"] == "mirror.example.invalid/alpine/git:v2.47.2"


def test_unknown_param_reference():
    bad = task(
        params=[{"name": "url"}], steps=[{"name": "run", "image": "a", "script": "echo $(params.ulr)"}]
    )
    finding = only(validate([bad])[0])
    assert finding.ref == "Task/build" and finding.path == "spec.steps[0].script"
    assert 'names param "ulr", which the Task does not declare' in finding.message


def test_string_param_used_as_array_and_array_param_used_as_string():
    steps = [{"name": "run", "image": "a", "args": ["$(params.url[*])", "--flags=$(params.flags)"]}]
    bad = task(params=[{"name": "url"}, {"name": "flags", "type": "array"}], steps=steps)
    problems = validate([bad])[0]
    assert [p.path for p in problems] == ["spec.steps[0].args[0]", "spec.steps[0].args[1]"]
    assert 'expands string param "url" as an array' in problems[0].message
    assert 'uses array param "flags" where a string goes' in problems[1].message


def test_array_param_in_a_script_and_not_a_whole_element():
    steps = [
        {"name": "run", "image": "a", "script": "echo $(params.flags[*])", "args": ["x $(params.flags[*])"]}
    ]
    problems = validate([task(params=[{"name": "flags", "type": "array"}], steps=steps)])[0]
    assert "in a script" in problems[0].message and "whole element" in problems[1].message


def test_unknown_result_workspace_and_context_references():
    steps = [
        {
            "name": "run",
            "image": "a",
            "script": "echo > $(results.digest.path); ls $(workspaces.src.path); echo $(context.taskRun.nme)",
        }
    ]
    problems = validate([task(steps=steps)])[0]
    assert [p.message.split(",")[0].split(";")[0] for p in problems] == [
        '$(results.digest.path) names result "digest"',
        '$(workspaces.src.path) names workspace "src"',
        "$(context.taskRun.nme) is not a Task context variable",
    ]


def test_every_step_needs_a_name_and_an_image_and_names_must_be_labels():
    steps = [{"image": "a"}, {"name": "Bad_Name", "image": "a"}, {"name": "x"}]
    problems = validate([task(name="Build", steps=steps)])[0]
    assert [(p.path, p.message.split(";")[0].split(":")[0]) for p in problems] == [
        ("metadata.name", '"Build" is not a valid name'),
        ("spec.steps[0].name", "is missing"),
        ("spec.steps[1].name", '"Bad_Name" is not a valid name'),
        ("spec.steps[2].image", "is missing"),
    ]


def test_run_after_names_a_missing_task():
    bad = pipeline([ptask("clone"), ptask("build-api", runAfter=["clnoe"])])
    finding = only(validate([task(), bad])[0])
    assert finding.path == "spec.tasks[1].runAfter[0]"
    assert finding.message == 'names task "clnoe", which is not in spec.tasks; use one of: build-api, clone.'


def test_a_cycle_is_reported_with_its_path():
    bad = pipeline(
        [
            ptask("a", runAfter=["c"]),
            ptask("b", runAfter=["a"]),
            ptask("c", params=[{"name": "x", "value": "$(tasks.b.results.out)"}]),
        ]
    )
    build = task(params=[{"name": "x", "default": ""}], results=[{"name": "out"}])
    finding = only(validate([build, bad])[0])
    assert finding.path == "spec.tasks"
    assert "a → b → c → a" in finding.message


def test_result_references_name_existing_tasks_and_results():
    bad = pipeline(
        [
            ptask("a"),
            ptask(
                "b",
                params=[
                    {"name": "x", "value": "$(tasks.a.results.nope)"},
                    {"name": "y", "value": "$(tasks.z.results.out)"},
                ],
            ),
        ]
    )
    build = task(
        params=[{"name": "x", "default": ""}, {"name": "y", "default": ""}], results=[{"name": "out"}]
    )
    problems = validate([build, bad])[0]
    assert [p.message.split(";")[0] for p in problems] == [
        '$(tasks.a.results.nope) names result "nope", which task "a" does not declare',
        '$(tasks.z.results.out) names task "z", which is not in spec.tasks',
    ]


def test_params_without_default_need_values_and_types_must_match():
    build = task(params=[{"name": "url"}, {"name": "flags", "type": "array", "default": []}])
    bad = pipeline([ptask("a", params=[{"name": "flags", "value": "not-a-list"}])])
    problems = validate([build, bad])[0]
    assert [(p.path, p.message.split(";")[0]) for p in problems] == [
        ("spec.tasks[0].params[0].value", 'is a string but the Task declares param "flags" as array'),
        (
            "spec.tasks[0].params",
            'gives no value for param "url", which the Task requires (it has no default)',
        ),
    ]


def test_workspaces_must_be_declared_and_bound():
    build = task(workspaces=[{"name": "source"}, {"name": "cache", "optional": True}])
    bad = pipeline(
        [ptask("a", workspaces=[{"name": "src", "workspace": "shared"}])], workspaces=[{"name": "other"}]
    )
    problems = validate([build, bad])[0]
    assert [(p.path, p.message.split(";")[0]) for p in problems] == [
        ("spec.tasks[0].workspaces[0].name", 'binds workspace "src", which the Task does not declare'),
        ("spec.tasks[0].workspaces", 'does not bind workspace "source", which the Task requires'),
        (
            "spec.tasks[0].workspaces[0].workspace",
            'names Pipeline workspace "shared", which is not declared in spec.workspaces',
        ),
    ]


def test_task_ref_must_name_a_task_in_the_list_or_a_known_one():
    bad = pipeline([ptask("a", task_name="git-clone")])
    finding = only(validate([bad])[0])
    assert finding.path == "spec.tasks[0].taskRef.name" and 'names Task "git-clone"' in finding.message
    assert validate([bad], known_tasks=["git-clone"]) == ([], [])


def test_pipeline_task_names_must_be_labels_and_unique():
    bad = pipeline([ptask("Build"), ptask("b")], final=[ptask("b")])
    problems = validate([task(), bad])[0]
    assert [p.path for p in problems] == ["spec.tasks[0].name", "spec.finally[0].name"]


def test_status_references_only_in_finally():
    bad = pipeline(
        [ptask("a"), ptask("b", params=[{"name": "x", "value": "$(tasks.a.status)"}])],
        final=[ptask("r", params=[{"name": "x", "value": "$(tasks.status)"}])],
    )
    build = task(params=[{"name": "x", "default": ""}])
    finding = only(validate([build, bad])[0])
    assert finding.path == "spec.tasks[1].params[0].value" and "only available in finally" in finding.message


@pytest.mark.parametrize(
    "field, value, flags, feature",
    [
        (
            "matrix",
            {"params": [{"name": "x", "value": ["1"]}]},
            {"enable-api-fields": "stable"},
            "matrix is a beta",
        ),
        ("pipelineSpec", {"tasks": []}, {"enable-api-fields": "beta"}, "a Pipeline in a Pipeline is a alpha"),
        ("when", [{"cel": "'a' == 'a'"}], {}, "CEL in when expressions needs the feature flag"),
    ],
)
def test_features_the_cluster_does_not_enable_are_problems(field, value, flags, feature):
    pt = ptask("a", params=[], **{field: value})
    if field == "pipelineSpec":
        del pt["taskRef"]
    build = task(params=[{"name": "x", "default": ""}])
    finding = only(validate([build, pipeline([pt])], feature_flags=flags)[0])
    assert feature in finding.message and "feature-flags ConfigMap" in finding.message
    # enabled: nothing to report
    enabling = {
        "matrix": {"enable-api-fields": "beta"},
        "pipelineSpec": {"enable-api-fields": "alpha"},
        "when": {"enable-cel-in-whenexpression": "true"},
    }[field]
    assert validate([build, pipeline([pt])], feature_flags=enabling)[0] == []


def test_unknown_flags_turn_feature_problems_into_warnings():
    steps = [{"name": "run", "image": "a", "stdoutConfig": {"path": "/x"}}]
    problems, warnings = validate([task(steps=steps)])
    assert problems == [] and "stdoutConfig is a alpha feature" in only(warnings).message


def test_large_results_warn():
    warnings = validate([task(results=[{"name": "IMAGES", "type": "array"}])])[1]
    assert "4096-byte termination message" in only(warnings).message
    assert validate(
        [task(results=[{"name": "IMAGES", "type": "array"}])], feature_flags={"results-from": "sidecar-logs"}
    ) == ([], [])


def run(timeouts=None, workspaces=None):
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": "cd-run"},
        "spec": {"pipelineRef": {"name": "cd"}, "timeouts": timeouts or {}, "workspaces": workspaces or []},
    }


def test_two_pvc_workspaces_in_one_task_warn_under_coschedule_workspaces():
    build = task(workspaces=[{"name": "a"}, {"name": "b"}])
    cd = pipeline(
        [ptask("t", workspaces=[{"name": "a", "workspace": "a"}, {"name": "b", "workspace": "b"}])],
        workspaces=[{"name": "a"}, {"name": "b"}],
    )
    bindings = [
        {"name": "a", "volumeClaimTemplate": {}},
        {"name": "b", "persistentVolumeClaim": {"claimName": "c"}},
    ]
    warning = only(validate([build, cd, run(workspaces=bindings)])[1])
    assert 'pipeline task "t" binds the PVC-backed workspaces a, b' in warning.message
    assert (
        validate([build, cd, run(workspaces=bindings)], feature_flags={"coschedule": "pipelineruns"})[1] == []
    )


def test_timeouts_beyond_the_pipeline_budget_warn():
    cd = pipeline([ptask("t")])
    warnings = validate([task(), cd, run({"pipeline": "30m", "tasks": "25m", "finally": "10m"})])[1]
    assert [w.message.split(",")[0] for w in warnings] == [
        "tasks (25m) plus finally (10m) exceed pipeline (30m)",
        'pipeline task "t" has a default timeout of 1h',
    ]
    assert validate([task(), cd, run({"pipeline": "2h", "tasks": "90m", "finally": "30m"})]) == ([], [])


def test_several_problems_are_reported_together_object_by_object():
    build = task(params=[{"name": "url"}], steps=[{"image": "a", "script": "echo $(params.nope)"}])
    cd = pipeline([ptask("a", runAfter=["zz"]), ptask("b", task_name="missing")])
    problems, _ = validate([build, cd])
    assert [str(p).split(":")[0] for p in problems] == [
        "Task/build spec.steps[0].name",
        "Task/build spec.steps[0].script",
        "Pipeline/cd spec.tasks[0].params",
        "Pipeline/cd spec.tasks[1].taskRef.name",
        "Pipeline/cd spec.tasks[0].runAfter[0]",
    ]
    assert all(isinstance(p, Finding) and p.message.endswith(".") for p in problems)


def test_input_is_not_modified():
    objects = render()
    before = copy.deepcopy(objects)
    validate(objects)
    assert objects == before


def test_durations():
    assert parse_duration("1h30m") == 5400 and parse_duration("90s") == 90 and parse_duration("0") == 0
    assert parse_duration("1 hour") is None


def test_declarations_with_a_bad_or_repeated_name_are_reported_in_one_wording():
    bad = task(
        params=[{"name": "url", "default": ""}, {"name": "url", "default": ""}, {"name": "9-url!"}],
        results=[{"name": "digest"}, {"name": "digest"}, {"name": "-digest"}],
        workspaces=[{"name": "source"}, {"name": "source"}],
    )
    pipe = pipeline([{"name": "build", "taskRef": {"name": "build"}}],
                    workspaces=[{"name": "shared"}, {"name": "shared"}])
    problems, _warnings = validate([bad, pipe])
    assert [str(p) for p in problems if p.path.endswith(".name")] == [
        'Task/build spec.params[1].name: param "url" is declared twice; declare it once.',
        'Task/build spec.params[2].name: "9-url!" is not a valid param name; start with a letter or "_" '
        'and use letters, digits, "_", "-" and ".".',
        'Task/build spec.results[1].name: result "digest" is declared twice; declare it once.',
        'Task/build spec.results[2].name: "-digest" is not a valid result name; use letters, digits, '
        '"-" and "_", starting and ending with a letter or digit.',
        'Task/build spec.workspaces[1].name: workspace "source" is declared twice; declare it once.',
        'Pipeline/cd spec.workspaces[1].name: workspace "shared" is declared twice; declare it once.',
    ]
