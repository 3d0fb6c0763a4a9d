"""Tekton's tekton.dev/v1 CRDs accept and reject the same documents on the emulator (the project's
own CRDs, emulator/tekton/crds) as on a real cluster with Tekton Pipelines v1.15.0's released CRDs.

Against the emulator the tests start their own `EmulatedCluster(tekton=True)`; with TEST_KUBECONFIG
they use that cluster and skip unless it serves tekton.dev/v1 (install the released CRDs first, e.g.
with the real control plane's verify-tekton.sh). Writes are server-side dry runs, except the
status-subresource test, which creates one TaskRun in its own namespace.
"""

from __future__ import annotations

import copy
import os
import secrets

import pytest

from tests.conformance.helpers import RawApi, token_of

V1 = "/apis/tekton.dev/v1"


@pytest.fixture(scope="module")
def tekton(tmp_path_factory):
    """(RawApi, namespace) on a cluster that serves Tekton's tekton.dev/v1 CRDs."""
    if os.environ.get("TEST_KUBECONFIG"):
        from pathlib import Path

        from tests.conftest import ClusterUnderTest, _real_kubeconfig_dict

        path = Path(os.environ["TEST_KUBECONFIG"])
        cluster = ClusterUnderTest(path, _real_kubeconfig_dict(path))
        api = RawApi(cluster.server, cluster.ca_pem, token_of(cluster.kubeconfig_dict))
        if api.get(V1)[0] != 200:
            pytest.skip("the cluster under test does not serve tekton.dev/v1 (Tekton's CRDs not installed)")
        yield from _with_namespace(api)
        return
    from emulator import EmulatedCluster

    # The CRDs alone, as on the real control plane (no Tekton controller writes statuses there).
    with EmulatedCluster(tekton=True, tekton_controller=False) as emulator:
        api = RawApi(emulator.url, emulator.ca_pem, emulator.admin_token)
        yield from _with_namespace(api)


def _with_namespace(api: RawApi):
    name = f"tekton-crds-{secrets.token_hex(3)}"
    status, body = api.post("/api/v1/namespaces", {"metadata": {"name": name}})
    assert status == 201, body
    yield api, name
    api.delete(f"/api/v1/namespaces/{name}")


TASK = {
    "apiVersion": "tekton.dev/v1",
    "kind": "Task",
    "metadata": {"name": "build"},
    "spec": {
        "params": [
            {"name": "url", "type": "string", "description": "where"},
            {"name": "flags", "type": "array", "default": ["-v"]},
            {
                "name": "target",
                "type": "object",
                "properties": {"host": {"type": "string"}},
                "default": {"host": "example"},
            },
        ],
        "results": [{"name": "IMAGE_DIGEST", "type": "string", "description": "digest"}],
        "workspaces": [{"name": "source", "mountPath": "/src", "readOnly": False}],
        "stepTemplate": {"env": [{"name": "HOME", "value": "/tekton/home"}]},
        "steps": [
            {
                "name": "build",
                "image": "registry.example/buildah@sha256:" + "0" * 64,
                "script": "echo $(params.url)",
                "args": ["$(params.flags[*])"],
                "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"key": "token"}}}],
                "computeResources": {"requests": {"memory": "1Gi", "cpu": 1}},
                "securityContext": {"runAsUser": 1000, "capabilities": {"add": ["SETFCAP"]}},
                "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                "timeout": "30m",
                "onError": "continue",
            }
        ],
        "sidecars": [
            {
                "name": "registry",
                "image": "registry:2",
                "ports": [{"containerPort": 5000}],
                "readinessProbe": {"httpGet": {"port": 5000, "path": "/"}},
            }
        ],
        "volumes": [{"name": "cache", "emptyDir": {}}],
    },
}

PIPELINE = {
    "apiVersion": "tekton.dev/v1",
    "kind": "Pipeline",
    "metadata": {"name": "cd"},
    "spec": {
        "params": [{"name": "revision", "type": "string", "default": "main"}],
        "workspaces": [{"name": "source"}],
        "tasks": [
            {
                "name": "clone",
                "taskRef": {"name": "git-clone"},
                "params": [{"name": "revision", "value": "$(params.revision)"}],
                "workspaces": [{"name": "output", "workspace": "source"}],
            },
            {
                "name": "build",
                "taskRef": {"name": "build", "kind": "Task"},
                "runAfter": ["clone"],
                "matrix": {"params": [{"name": "image", "value": ["api", "frontend"]}]},
                "when": [{"input": "$(params.revision)", "operator": "notin", "values": [""]}],
                "retries": 1,
                "timeout": "1h",
            },
        ],
        "finally": [
            {
                "name": "report",
                "taskSpec": {"steps": [{"name": "say", "image": "alpine", "script": "echo done"}]},
            }
        ],
        "results": [{"name": "digest", "value": "$(tasks.build.results.IMAGE_DIGEST[*])"}],
    },
}

PIPELINE_RUN = {
    "apiVersion": "tekton.dev/v1",
    "kind": "PipelineRun",
    "metadata": {"name": "cd-run"},
    "spec": {
        "pipelineRef": {"name": "cd"},
        "params": [{"name": "revision", "value": "v1.0"}],
        "timeouts": {"pipeline": "1h", "tasks": "50m", "finally": "10m"},
        "taskRunTemplate": {
            "serviceAccountName": "pipeline",
            "podTemplate": {"securityContext": {"fsGroup": 65532}, "nodeSelector": {"a": "b"}},
        },
        "taskRunSpecs": [{"pipelineTaskName": "build", "serviceAccountName": "builder"}],
        "workspaces": [
            {
                "name": "source",
                "volumeClaimTemplate": {
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
                },
            },
            {"name": "creds", "secret": {"secretName": "registry"}},
            {"name": "cache", "persistentVolumeClaim": {"claimName": "cache"}},
        ],
    },
}

TASK_RUN = {
    "apiVersion": "tekton.dev/v1",
    "kind": "TaskRun",
    "metadata": {"name": "build-run"},
    "spec": {
        "taskRef": {"name": "build"},
        "params": [{"name": "url", "value": "https://example.invalid/x.git"}],
        "serviceAccountName": "builder",
        "timeout": "10m",
        "workspaces": [{"name": "source", "emptyDir": {}}],
    },
}


def _post(api, namespace, plural, body, **params):
    return api.post(f"{V1}/namespaces/{namespace}/{plural}", body, dryRun="All", **params)


def _changed(document, path, value):
    """A copy of `document` with the field at `path` (a list of keys / indexes) set, or removed
    when `value` is ...)."""
    doc = copy.deepcopy(document)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


def test_discovery_lists_the_four_kinds_with_short_names_and_categories(tekton):
    api, _ = tekton
    status, body = api.get(V1)
    assert status == 200
    entries = {r["name"]: r for r in body["resources"]}
    assert {"tasks", "pipelines", "pipelineruns", "taskruns"} <= set(entries)
    assert {"tasks/status", "pipelines/status", "pipelineruns/status", "taskruns/status"} <= set(entries)
    assert entries["pipelineruns"]["shortNames"] == ["pr", "prs"]
    assert entries["taskruns"]["shortNames"] == ["tr", "trs"]
    assert entries["tasks"]["categories"] == ["tekton", "tekton-pipelines"]
    assert entries["pipelines"]["kind"] == "Pipeline" and entries["pipelines"]["namespaced"] is True
    assert api.get("/apis/tekton.dev/v1beta1")[0] == 200  # still served, deprecated


@pytest.mark.parametrize(
    "plural, document",
    [("tasks", TASK), ("pipelines", PIPELINE), ("pipelineruns", PIPELINE_RUN), ("taskruns", TASK_RUN)],
)
def test_valid_documents_are_accepted_unchanged(tekton, plural, document):
    api, namespace = tekton
    status, body = _post(api, namespace, plural, document)
    assert status == 201, body
    assert body["spec"] == _with_schema_defaults(document["spec"])


def _with_schema_defaults(spec: dict) -> dict:
    """What the schema's defaults add to the documents above (both servers fill them in)."""
    spec = copy.deepcopy(spec)
    if "steps" in spec:
        spec["steps"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"] = ""
        spec["sidecars"][0]["ports"][0]["protocol"] = "TCP"
    return spec


def test_unknown_fields_are_pruned_with_a_warning(tekton):
    api, namespace = tekton
    document = _changed(TASK, ["spec", "steps", 0, "imagePullPolicyy"], "Always")
    document["spec"]["bogus"] = True
    answer = api.session.post(
        f"{api.server}{V1}/namespaces/{namespace}/tasks",
        json=document,
        params={"dryRun": "All"},
        verify=str(api.ca_file),
        timeout=30,
    )
    assert answer.status_code == 201
    body = answer.json()
    assert "bogus" not in body["spec"] and "imagePullPolicyy" not in body["spec"]["steps"][0]
    assert answer.headers["Warning"] == (
        '299 - "unknown field \\"spec.bogus\\"", 299 - "unknown field \\"spec.steps[0].imagePullPolicyy\\""'
    )


def test_unknown_fields_are_rejected_under_strict_field_validation(tekton):
    api, namespace = tekton
    document = _changed(TASK, ["spec", "steps", 0, "imagePullPolicyy"], "Always")
    document["spec"]["bogus"] = True
    status, body = _post(api, namespace, "tasks", document, fieldValidation="Strict")
    assert status == 400, body
    assert body["reason"] == "BadRequest"
    assert body["message"] == (
        'Task in version "v1" cannot be handled as a Task: strict decoding error: '
        'unknown field "spec.bogus", unknown field "spec.steps[0].imagePullPolicyy"'
    )


# Each case: kind's plural, document, the `message` of the 422 answer (exact).
REJECTED = [
    (
        "step without name",
        "tasks",
        _changed(TASK, ["spec", "steps", 0, "name"], ...),
        'Task.tekton.dev "build" is invalid: spec.steps[0].name: Required value',
    ),
    (
        "steps not a list",
        "tasks",
        _changed(TASK, ["spec", "steps"], {"name": "x"}),
        'Task.tekton.dev "build" is invalid: spec.steps: Invalid value: "object": '
        'spec.steps in body must be of type array: "object"',
    ),
    (
        "param name a number",
        "tasks",
        _changed(TASK, ["spec", "params", 0, "name"], 7),
        'Task.tekton.dev "build" is invalid: spec.params[0].name: Invalid value: "integer": '
        'spec.params[0].name in body must be of type string: "integer"',
    ),
    (
        "result without name",
        "tasks",
        _changed(TASK, ["spec", "results", 0, "name"], ...),
        'Task.tekton.dev "build" is invalid: spec.results[0].name: Required value',
    ),
    (
        "workspace readOnly a string",
        "tasks",
        _changed(TASK, ["spec", "workspaces", 0, "readOnly"], "no"),
        'Task.tekton.dev "build" is invalid: spec.workspaces[0].readOnly: Invalid value: "string": '
        'spec.workspaces[0].readOnly in body must be of type boolean: "string"',
    ),
    (
        "env without name",
        "tasks",
        _changed(TASK, ["spec", "steps", 0, "env", 0, "name"], ...),
        'Task.tekton.dev "build" is invalid: spec.steps[0].env[0].name: Required value',
    ),
    (
        "bad quantity",
        "tasks",
        _changed(TASK, ["spec", "steps", 0, "computeResources", "requests", "memory"], "lots"),
        'Task.tekton.dev "build" is invalid: spec.steps[0].computeResources.requests.memory: Invalid value: '
        '"lots": spec.steps[0].computeResources.requests.memory in body should match '
        "'^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)"
        "|(\\.[0-9]+))))?$'",
    ),
    (
        "runAsUser a string",
        "tasks",
        _changed(TASK, ["spec", "steps", 0, "securityContext", "runAsUser"], "1000"),
        'Task.tekton.dev "build" is invalid: spec.steps[0].securityContext.runAsUser: '
        'Invalid value: "string": spec.steps[0].securityContext.runAsUser in body '
        'must be of type integer: "string"',
    ),
    (
        "pipeline task param without value",
        "pipelines",
        _changed(PIPELINE, ["spec", "tasks", 0, "params", 0, "value"], ...),
        'Pipeline.tekton.dev "cd" is invalid: spec.tasks[0].params[0].value: Required value',
    ),
    (
        "runAfter not a list",
        "pipelines",
        _changed(PIPELINE, ["spec", "tasks", 1, "runAfter"], "clone"),
        'Pipeline.tekton.dev "cd" is invalid: spec.tasks[1].runAfter: Invalid value: "string": '
        'spec.tasks[1].runAfter in body must be of type array: "string"',
    ),
    (
        "retries a string",
        "pipelines",
        _changed(PIPELINE, ["spec", "tasks", 1, "retries"], "1"),
        'Pipeline.tekton.dev "cd" is invalid: spec.tasks[1].retries: Invalid value: "string": '
        'spec.tasks[1].retries in body must be of type integer: "string"',
    ),
    (
        "pipeline result without value",
        "pipelines",
        _changed(PIPELINE, ["spec", "results", 0, "value"], ...),
        'Pipeline.tekton.dev "cd" is invalid: spec.results[0].value: Required value',
    ),
    (
        "pipeline workspace without name",
        "pipelines",
        _changed(PIPELINE, ["spec", "workspaces", 0, "name"], ...),
        'Pipeline.tekton.dev "cd" is invalid: spec.workspaces[0].name: Required value',
    ),
    (
        "timeouts.pipeline a number",
        "pipelineruns",
        _changed(PIPELINE_RUN, ["spec", "timeouts", "pipeline"], 3600),
        'PipelineRun.tekton.dev "cd-run" is invalid: spec.timeouts.pipeline: Invalid value: "integer": '
        'spec.timeouts.pipeline in body must be of type string: "integer"',
    ),
    (
        "claim without claimName",
        "pipelineruns",
        _changed(PIPELINE_RUN, ["spec", "workspaces", 2, "persistentVolumeClaim"], {"readOnly": True}),
        'PipelineRun.tekton.dev "cd-run" is invalid: '
        "spec.workspaces[2].persistentVolumeClaim.claimName: Required value",
    ),
    (
        "run param without value",
        "pipelineruns",
        _changed(PIPELINE_RUN, ["spec", "params", 0, "value"], ...),
        'PipelineRun.tekton.dev "cd-run" is invalid: spec.params[0].value: Required value',
    ),
    (
        "taskRunSpecs not a list",
        "pipelineruns",
        _changed(PIPELINE_RUN, ["spec", "taskRunSpecs"], {}),
        'PipelineRun.tekton.dev "cd-run" is invalid: spec.taskRunSpecs: Invalid value: "object": '
        'spec.taskRunSpecs in body must be of type array: "object"',
    ),
    (
        "taskrun workspace without name",
        "taskruns",
        _changed(TASK_RUN, ["spec", "workspaces", 0, "name"], ...),
        'TaskRun.tekton.dev "build-run" is invalid: spec.workspaces[0].name: Required value',
    ),
    (
        "taskrun retries a string",
        "taskruns",
        _changed(TASK_RUN, ["spec", "retries"], "2"),
        'TaskRun.tekton.dev "build-run" is invalid: spec.retries: Invalid value: "string": '
        'spec.retries in body must be of type integer: "string"',
    ),
]


@pytest.mark.parametrize("plural, document, message", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_invalid_documents_are_rejected_with_the_same_message(tekton, plural, document, message):
    api, namespace = tekton
    status, body = _post(api, namespace, plural, document)
    assert status == 422, body
    assert body["reason"] == "Invalid" and body["details"]["group"] == "tekton.dev"
    assert body["message"] == message


def test_several_schema_errors_are_reported_together(tekton):
    api, namespace = tekton
    document = _changed(TASK, ["spec", "steps", 0, "name"], ...)
    document["spec"]["params"][0]["name"] = 7
    status, body = _post(api, namespace, "tasks", document)
    assert status == 422
    assert sorted(c["field"] for c in body["details"]["causes"]) == [
        "spec.params[0].name",
        "spec.steps[0].name",
    ]


@pytest.mark.parametrize(
    "plural, document, problem",
    [
        (
            "tasks",
            _changed(TASK, ["spec", "steps"], "not-a-list"),
            ".spec.steps: expected list, got &{not-a-list}",
        ),
        (
            "tasks",
            _changed(TASK, ["spec", "steps", 0, "bogus"], 1),
            ".spec.steps[0].bogus: field not declared in schema",
        ),
        (
            "pipelines",
            _changed(PIPELINE, ["spec", "tasks", 1, "retries"], "1"),
            ".spec.tasks[1].retries: expected numeric (int or float), got string",
        ),
        (
            "pipelines",
            _changed(PIPELINE, ["spec", "tasks", 0, "name"], 5),
            ".spec.tasks[0].name: expected string, got &value.valueUnstructured{Value:5}",
        ),
        (
            "pipelines",
            _changed(PIPELINE, ["spec", "workspaces", 0, "optional"], "yes"),
            ".spec.workspaces[0].optional: expected boolean, got &{yes}",
        ),
    ],
    ids=["list", "undeclared", "numeric", "string", "boolean"],
)
def test_apply_with_a_schema_mismatch_fails_to_build_the_typed_patch(tekton, plural, document, problem):
    api, namespace = tekton
    name = document["metadata"]["name"]
    status, body = api.apply(f"{V1}/namespaces/{namespace}/{plural}/{name}", document, dryRun="All")
    assert status == 500, body
    assert body["message"] == (
        f"failed to create typed patch object (/{name}; tekton.dev/v1, Kind={document['kind']}): {problem}"
    )


def test_taskrun_status_needs_a_pod_name(tekton):
    api, namespace = tekton
    path = f"{V1}/namespaces/{namespace}/taskruns"
    status, body = api.post(path, TASK_RUN)
    assert status == 201, body
    try:
        condition = {"type": "Succeeded", "status": "Unknown", "reason": "Running"}
        status, body = api.merge_patch(f"{path}/build-run/status", {"status": {"conditions": [condition]}})
        assert status == 422
        assert body["message"] == 'TaskRun.tekton.dev "build-run" is invalid: podName: Required value'
        status, body = api.merge_patch(
            f"{path}/build-run/status", {"status": {"podName": "build-run-pod", "conditions": [condition]}}
        )
        assert status == 200, body
        assert body["status"]["conditions"] == [condition]
    finally:
        api.delete(f"{path}/build-run")
