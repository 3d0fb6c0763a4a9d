"""tekton_resources finds every problem the cluster cannot change before it connects: run with the
network closed (plugins/plugin_utils/inputs_check.py, as the stage module runs it), bad
definitions, options and release files fail with their sentence, and good ones reach the network."""

from __future__ import annotations

import pytest
import yaml

from tests.pipeline_definitions import render
from tests.playbook import load_module

V1 = "tekton.dev/v1"
STEP = {"name": "run", "image": "registry.example.invalid/tools:1", "script": "true"}
CONNECTION = {"kubeconfig": "/nonexistent/kubeconfig"}  # never read: nothing connects


def check(**args):
    module = load_module("tekton_resources")  # puts the collection on sys.path
    from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.inputs_check import check_task_inputs

    return check_task_inputs(module.MODULE, {**CONNECTION, "namespace": "ci", "pipeline": "demo", **args})


def task(name, **spec):
    return {
        "apiVersion": V1,
        "kind": "Task",
        "metadata": {"name": name},
        "spec": {"steps": [dict(STEP)], **spec},
    }


def test_the_health_pipeline_passes_offline_and_goes_on_to_the_cluster():
    assert check(definitions=render()) is None


def test_definition_problems_are_all_reported_before_connecting():
    failure = check(
        definitions=[
            task("t", steps=[{"image": STEP["image"], "script": "echo $(params.nope)"}]),
            {
                "apiVersion": V1,
                "kind": "Pipeline",
                "metadata": {"name": "p"},
                "spec": {"tasks": [{"name": "a", "taskRef": {"name": "missing"}}]},
            },
            {"apiVersion": V1, "kind": "PipelineRun", "metadata": {"name": "r"}, "spec": {}},
        ]
    )
    assert failure is not None
    assert failure.msg.startswith("The Tekton definitions have ")
    assert len(failure.problems) >= 4, failure.problems
    for text in ("spec.steps[0].name", "params.nope", "missing", "tekton_pipelinerun"):
        assert any(text in problem for problem in failure.problems), (text, failure.problems)
    assert failure.result_fields()["problems"] == failure.problems


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"namespace": "Not_A_Namespace", "definitions": []}, "option 'namespace'"),
        ({"pipeline": "not a label value!", "definitions": []}, "option 'pipeline'"),
        ({"labels": {"bad key!": "x"}, "definitions": []}, "labels"),
        ({"install_manifest": "/nonexistent/release.yaml", "definitions": []}, "cannot be read"),
    ],
)
def test_bad_options_fail_before_connecting(args, expected):
    failure = check(**args)
    assert failure is not None and expected in failure.msg, failure and failure.msg


def test_a_release_files_feature_flags_decide_offline(tmp_path):
    flags = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "feature-flags", "namespace": "tekton-pipelines"},
        "data": {"enable-api-fields": "beta"},
    }
    release = tmp_path / "release.yaml"
    release.write_text(yaml.safe_dump(flags))
    alpha = task("t", steps=[{**STEP, "stdoutConfig": {"path": "/tmp/out"}}])
    failure = check(definitions=[alpha], install_manifest=str(release))
    assert failure is not None and "enable-api-fields" in failure.msg
    # Without a release file the cluster's flags decide, after connecting: offline it is a warning.
    assert check(definitions=[alpha]) is None


def test_a_release_file_that_is_not_objects_is_refused(tmp_path):
    release = tmp_path / "release.yaml"
    release.write_text("just: text\n---\n- a list\n")
    failure = check(definitions=[task("a")], install_manifest=str(release))
    assert failure is not None and "document 1" in failure.msg
