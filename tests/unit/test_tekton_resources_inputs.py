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


# -- definitions_yaml: the objects as YAML text, read by the module -------------------------------


def health_pipeline_text():
    return "".join(f"---\n{yaml.safe_dump(obj)}" for obj in render())


def as_task_arguments_see(definitions_text):
    """What the objects were when the role passed ``lookup(...) | from_yaml_all | list``: Ansible's
    YAML loader, then the module arguments' JSON (as plugin_utils.handler_action sends them)."""
    import json

    load_module("tekton_resources")
    from ansible.module_utils.common.json import Direction, get_module_decoder, get_module_encoder
    from ansible.plugins.filter.core import from_yaml_all

    loaded = [doc for doc in from_yaml_all(definitions_text) if doc is not None]  # (None: not an object)
    text = json.dumps(loaded, cls=get_module_encoder("legacy", Direction.CONTROLLER_TO_MODULE))
    return json.loads(text, cls=get_module_decoder("legacy", Direction.CONTROLLER_TO_MODULE))


def yaml_documents(text):
    load_module("tekton_resources")
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.tekton_definitions import yaml_documents

    return yaml_documents(text, "definitions_yaml")


def test_the_health_pipeline_as_text_passes_offline_like_the_list():
    assert check(definitions_yaml=health_pipeline_text()) is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(None, id="health-pipeline"),
        pytest.param(
            "---\n# only a comment\n---\n"
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: a}\n"
            "spec:\n  description: 2024-01-01 10:00:00\n  params:\n    - {name: when, default: 2024-01-02}\n"
            "  steps: [{name: s, image: 'i:1', script: 'echo yes', args: [yes, no, on, 0x1F, 1e3, ~, '']}]\n"
            "  results: [{name: r}]\n---\n...\n",
            id="timestamps-bools-numbers-empty-documents",
        ),
    ],
)
def test_definitions_yaml_gives_the_objects_from_yaml_all_gave(text):
    text = text if text is not None else health_pipeline_text()
    objects, warnings = yaml_documents(text)
    assert objects == as_task_arguments_see(text)
    assert warnings == []


def test_a_key_given_twice_keeps_its_last_value_and_warns_as_ansibles_loader_does():
    text = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: a\n  name: b\n"
    objects, warnings = yaml_documents(text)
    assert (
        objects
        == as_task_arguments_see(text)
        == [{"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "b"}}]
    )
    assert warnings == [
        'definitions_yaml line 5: key "name" is given twice in one mapping; the last '
        "value is used. Remove one."
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: Task\nmetadata: {name: [a\n", "not valid YAML (did not find expected ',' or ']' at line 3)"),
        ("- kind: Task\n", "document 1 is a list, not a mapping"),
        (f"---\n{yaml.safe_dump(task('a'))}---\njust text\n", "document 2 is a str, not a mapping"),
    ],
)
def test_definitions_yaml_that_is_not_objects_fails_in_one_sentence_before_connecting(text, expected):
    failure = check(definitions_yaml=text)
    assert failure is not None
    assert failure.msg.startswith("Invalid value for option 'definitions_yaml': ")
    assert expected in failure.msg and failure.msg.count(". ") == 0, failure.msg


def test_definitions_yaml_problems_are_reported_like_the_lists():
    bad = [task("t", params=[{"name": "bad name!"}]), task("t")]
    from_text = check(definitions_yaml="".join(f"---\n{yaml.safe_dump(obj)}" for obj in bad))
    from_list = check(definitions=bad)
    assert from_text is not None and from_list is not None
    assert from_text.problems == from_list.problems and from_text.msg == from_list.msg


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"definitions": [], "definitions_yaml": ""}, "mutually exclusive: definitions|definitions_yaml"),
        ({}, "one of the following is required: definitions, definitions_yaml"),
    ],
)
def test_exactly_one_of_definitions_and_definitions_yaml(args, expected):
    failure = check(**args)
    assert failure is not None and expected in failure.msg, failure and failure.msg
