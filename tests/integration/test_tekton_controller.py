"""The emulated cluster's Tekton controller runs PipelineRuns as Tekton v1.15 does: DAG order with
independent tasks concurrent, results into params, failures, finally, cancel / stop / timeout,
Tekton's reasons and messages for invalid runs, and per-step pod logs. Emulator only: the real test
cluster has no Tekton controller (and no nodes). Waits watch for conditions; nothing sleeps."""

from __future__ import annotations

import datetime
import json
import os
import ssl
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.conftest import REAL_KUBECONFIG_ENV, ClusterUnderTest
from tests.integration.tekton_support import Tekton, succeeded

pytestmark = pytest.mark.emulator_only

STEP = {"name": "run", "image": "registry.example/tools:1", "script": "echo working"}


@pytest.fixture(scope="module")
def tekton_cluster(tmp_path_factory):
    """An emulated cluster of this module's own, serving the Tekton kinds, so that the CRDs and the
    clock moves of these tests do not leak into the session's cluster."""
    if os.environ.get(REAL_KUBECONFIG_ENV):
        pytest.skip("the Tekton controller is the emulator's")
    from emulator import EmulatedCluster

    with EmulatedCluster(tekton=True) as emulated:  # the project's Tekton v1 CRDs validate every write
        path = emulated.write_kubeconfig(tmp_path_factory.mktemp("tekton-cluster") / "kubeconfig")
        yield ClusterUnderTest(path, emulated.kubeconfig_dict(), emulated)


@pytest.fixture
def emulator(tekton_cluster):
    emulated = tekton_cluster.emulator
    emulated.tekton.steps.clear()
    yield emulated
    emulated.tekton.steps.clear()
    emulated.tekton.enabled = True


@pytest.fixture
def tekton(tekton_cluster, emulator):
    api_client = tekton_cluster.api_client()
    namespace = tekton_cluster.unique_name("t")
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": namespace}})
    yield Tekton(api_client, namespace)
    core.delete_namespace(namespace)


def task_spec(*steps, params=(), results=()):
    spec = {"steps": list(steps) or [dict(STEP)]}
    if params:
        spec["params"] = [{"name": p} for p in params]
    if results:
        spec["results"] = [{"name": r} for r in results]
    return spec


def stamp(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def test_independent_tasks_run_concurrently_and_results_flow_into_params(tekton, emulator):
    # Both builds hold for 2 s of the emulator's clock: if they ran one after the other the second
    # would start only when the first finished.
    emulator.tekton.steps.script(task="build-.*", duration=2)
    tekton.create(
        "Task",
        "build",
        task_spec(
            {
                "name": "build",
                "image": "quay.io/buildah/stable",
                "script": "buildah bud -t $(params.image)\n"
                "printf '%s' sha256:$(params.image) > $(results.IMAGE_DIGEST.path)",
            },
            params=["image"],
            results=["IMAGE_DIGEST"],
        ),
    )
    tekton.create(
        "Pipeline",
        "app",
        {
            "params": [{"name": "registry"}, {"name": "images", "type": "array"}],
            "tasks": [
                {
                    "name": "build-api",
                    "taskRef": {"name": "build"},
                    "params": [{"name": "image", "value": "$(params.registry)/api"}],
                },
                {
                    "name": "build-web",
                    "taskRef": {"name": "build"},
                    "params": [{"name": "image", "value": "$(params.registry)/web"}],
                },
                {
                    "name": "deploy",
                    "runAfter": ["build-web"],
                    "params": [
                        {"name": "api", "value": "$(tasks.build-api.results.IMAGE_DIGEST)"},
                        {"name": "all", "value": ["$(params.images[*])", "$(context.pipelineRun.name)"]},
                    ],
                    "taskSpec": {
                        "params": [{"name": "api"}, {"name": "all", "type": "array"}],
                        "steps": [
                            {
                                "name": "helm",
                                "image": "alpine/helm",
                                "args": ["$(params.all[*])"],
                                "script": "helm upgrade app --set api=$(params.api)",
                            }
                        ],
                    },
                },
            ],
            "results": [{"name": "api-digest", "value": "$(tasks.build-api.results.IMAGE_DIGEST)"}],
        },
    )
    tekton.create(
        "PipelineRun",
        "release",
        {
            "pipelineRef": {"name": "app"},
            "params": [
                {"name": "registry", "value": "127.0.0.1:5000"},
                {"name": "images", "value": ["a", "b"]},
            ],
        },
    )
    running = tekton.wait(
        "PipelineRun", "release", lambda pr: len(pr.get("status", {}).get("childReferences", [])) == 2
    )
    assert succeeded(running)["reason"] == "Running"
    assert (
        succeeded(running)["message"]
        == "Tasks Completed: 0 (Failed: 0, Cancelled 0), Incomplete: 3, Skipped: 0"
    )
    done = tekton.wait_done("PipelineRun", "release")
    assert succeeded(done) | {"lastTransitionTime": ""} == {
        "type": "Succeeded",
        "status": "True",
        "reason": "Succeeded",
        "lastTransitionTime": "",
        "message": "Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0",
    }
    assert [c["name"] for c in done["status"]["childReferences"]] == [
        "release-build-api",
        "release-build-web",
        "release-deploy",
    ]
    assert done["status"]["childReferences"][0] == {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "name": "release-build-api",
        "pipelineTaskName": "build-api",
    }
    assert done["status"]["results"] == [{"name": "api-digest", "value": "sha256:127.0.0.1:5000/api"}]
    assert done["status"]["completionTime"] >= done["status"]["startTime"]

    api, web, deploy = (tekton.get("TaskRun", f"release-{n}") for n in ("build-api", "build-web", "deploy"))
    # overlap: each build started before the other one finished
    assert stamp(api["status"]["startTime"]) < stamp(web["status"]["completionTime"])
    assert stamp(web["status"]["startTime"]) < stamp(api["status"]["completionTime"])
    assert stamp(deploy["status"]["startTime"]) >= stamp(web["status"]["completionTime"])
    assert api["status"]["results"] == [
        {"name": "IMAGE_DIGEST", "type": "string", "value": "sha256:127.0.0.1:5000/api"}
    ]
    assert deploy["spec"]["params"] == [
        {"name": "api", "value": "sha256:127.0.0.1:5000/api"},
        {"name": "all", "value": ["a", "b", "release"]},
    ]
    # labels and owner as Tekton sets them
    pr = tekton.get("PipelineRun", "release")
    assert api["metadata"]["labels"] == {
        "tekton.dev/pipeline": "app",
        "tekton.dev/pipelineRun": "release",
        "tekton.dev/pipelineRunUID": pr["metadata"]["uid"],
        "tekton.dev/pipelineTask": "build-api",
        "tekton.dev/memberOf": "tasks",
        "tekton.dev/task": "build",
        "app.kubernetes.io/managed-by": "tekton-pipelines",
    }
    assert api["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "tekton.dev/v1",
            "kind": "PipelineRun",
            "name": "release",
            "uid": pr["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert api["spec"]["timeout"] == "1h0m0s" and api["spec"]["serviceAccountName"] == "default"
    step = api["status"]["steps"][0]
    assert step["name"] == "build" and step["container"] == "step-build"
    assert step["terminated"]["exitCode"] == 0 and step["terminated"]["reason"] == "Completed"
    assert step["terminationReason"] == "Completed"
    assert api["status"]["podName"] == "release-build-api-pod"
    assert succeeded(api)["message"] == "All Steps have completed executing"

    pod = client.CoreV1Api(tekton.core.api_client).read_namespaced_pod("release-deploy-pod", tekton.namespace)
    assert pod.metadata.labels["tekton.dev/taskRun"] == "release-deploy"
    assert pod.metadata.labels["tekton.dev/taskRunUID"] == deploy["metadata"]["uid"]
    assert [(o.kind, o.name, o.controller) for o in pod.metadata.owner_references] == [
        ("TaskRun", "release-deploy", True)
    ]
    assert [c.name for c in pod.spec.containers] == ["step-helm"]
    assert pod.status.phase == "Succeeded"
    log = tekton.core.read_namespaced_pod_log("release-deploy-pod", tekton.namespace, container="step-helm")
    assert "helm upgrade app --set api=sha256:127.0.0.1:5000/api" in log
    assert "[simulated]" in log


def test_a_failing_step_fails_its_taskrun_with_its_log_and_dependents_never_start(tekton, emulator):
    emulator.tekton.steps.script(task="build", step="compile", exit_code=2, log="error: RUN make failed")
    tekton.create(
        "Pipeline",
        "broken",
        {
            "tasks": [
                {
                    "name": "build",
                    "taskSpec": task_spec(
                        {"name": "compile", "image": "golang", "script": "make"},
                        {"name": "push", "image": "buildah", "script": "buildah push"},
                    ),
                },
                {"name": "deploy", "runAfter": ["build"], "taskSpec": task_spec()},
                {"name": "after-deploy", "runAfter": ["deploy"], "taskSpec": task_spec()},
            ],
            "finally": [
                {
                    "name": "report",
                    "taskSpec": task_spec(
                        {
                            "name": "say",
                            "image": "alpine",
                            "script": "echo $(tasks.build.status) $(tasks.status)",
                        }
                    ),
                }
            ],
        },
    )
    tekton.create("PipelineRun", "fails", {"pipelineRef": {"name": "broken"}})
    done = tekton.wait_done("PipelineRun", "fails")
    assert succeeded(done)["status"] == "False" and succeeded(done)["reason"] == "Failed"
    assert succeeded(done)["message"] == "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 2"
    assert done["status"]["skippedTasks"] == [
        {"name": "deploy", "reason": "PipelineRun was stopping"},
        {"name": "after-deploy", "reason": "PipelineRun was stopping"},
    ]
    assert [c["pipelineTaskName"] for c in done["status"]["childReferences"]] == ["build", "report"]
    assert tekton.list("TaskRun", "tekton.dev/pipelineTask=deploy") == []
    build = tekton.get("TaskRun", "fails-build")
    assert succeeded(build)["reason"] == "StepFailed"
    assert succeeded(build)["message"] == '"step-compile" exited with code 2: Error'
    compile_step, push_step = build["status"]["steps"]
    assert compile_step["terminated"]["exitCode"] == 2 and compile_step["terminationReason"] == "Error"
    assert push_step["terminationReason"] == "Skipped"
    log = tekton.core.read_namespaced_pod_log("fails-build-pod", tekton.namespace, container="step-compile")
    assert "error: RUN make failed" in log
    report = tekton.core.read_namespaced_pod_log("fails-report-pod", tekton.namespace, container="step-say")
    assert "echo Failed Failed" in report


def test_finally_runs_after_success_and_skipped_when_tasks_give_completed(tekton):
    tekton.create(
        "PipelineRun",
        "with-when",
        {
            "params": [{"name": "deploy", "value": "no"}],
            "pipelineSpec": {
                "params": [{"name": "deploy"}],
                "tasks": [
                    {"name": "build", "taskSpec": task_spec()},
                    {
                        "name": "deploy",
                        "runAfter": ["build"],
                        "taskSpec": task_spec(),
                        "when": [{"input": "$(params.deploy)", "operator": "in", "values": ["yes"]}],
                    },
                ],
                "finally": [{"name": "cleanup", "taskSpec": task_spec()}],
            },
        },
    )
    done = tekton.wait_done("PipelineRun", "with-when")
    assert succeeded(done)["status"] == "True" and succeeded(done)["reason"] == "Completed"
    assert succeeded(done)["message"] == "Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 1"
    assert done["status"]["skippedTasks"] == [
        {
            "name": "deploy",
            "reason": "When Expressions evaluated to false",
            "whenExpressions": [{"input": "$(params.deploy)", "operator": "in", "values": ["yes"]}],
        }
    ]
    cleanup = tekton.get("TaskRun", "with-when-cleanup")
    assert cleanup["metadata"]["labels"]["tekton.dev/memberOf"] == "finally"
    assert done["status"]["finallyStartTime"]


def test_cancel_cancels_running_taskruns_and_deletes_their_pods(tekton, emulator):
    emulator.tekton.steps.script(task="slow", duration=600)
    tekton.create(
        "PipelineRun",
        "to-cancel",
        {
            "pipelineSpec": {
                "tasks": [
                    {"name": "slow", "taskSpec": task_spec()},
                    {"name": "next", "runAfter": ["slow"], "taskSpec": task_spec()},
                ],
                "finally": [{"name": "final", "taskSpec": task_spec()}],
            }
        },
    )
    tekton.wait("TaskRun", "to-cancel-slow", lambda tr: succeeded(tr).get("reason") == "Running")
    tekton.patch_spec("PipelineRun", "to-cancel", {"status": "Cancelled"})
    done = tekton.wait_done("PipelineRun", "to-cancel")
    assert succeeded(done)["reason"] == "Cancelled"
    assert succeeded(done)["message"] == 'PipelineRun "to-cancel" was cancelled'
    slow = tekton.wait_done("TaskRun", "to-cancel-slow")
    assert slow["spec"]["status"] == "TaskRunCancelled"
    assert succeeded(slow)["reason"] == "TaskRunCancelled"
    assert succeeded(slow)["message"] == (
        'TaskRun "to-cancel-slow" was cancelled. TaskRun cancelled as the PipelineRun it belongs to has been '
        "cancelled."
    )
    step = slow["status"]["steps"][0]
    assert (
        step["terminated"]["reason"] == "TaskRunCancelled" and step["terminationReason"] == "TaskRunCancelled"
    )
    assert step["terminated"]["message"] == "Step run terminated as pod to-cancel-slow-pod is terminated"
    with pytest.raises(ApiException) as gone:
        tekton.core.read_namespaced_pod("to-cancel-slow-pod", tekton.namespace)
    assert gone.value.status == 404
    assert tekton.list("TaskRun", "tekton.dev/pipelineTask=final") == []  # a hard cancel skips finally


def test_graceful_cancel_runs_finally(tekton, emulator):
    emulator.tekton.steps.script(task="slow", duration=600)
    tekton.create(
        "PipelineRun",
        "graceful",
        {
            "pipelineSpec": {
                "tasks": [{"name": "slow", "taskSpec": task_spec()}],
                "finally": [{"name": "final", "taskSpec": task_spec()}],
            }
        },
    )
    tekton.wait("TaskRun", "graceful-slow", lambda tr: succeeded(tr).get("reason") == "Running")
    tekton.patch_spec("PipelineRun", "graceful", {"status": "CancelledRunFinally"})
    done = tekton.wait_done("PipelineRun", "graceful")
    assert succeeded(done)["reason"] == "Cancelled"
    assert succeeded(done)["message"] == 'PipelineRun "graceful" was cancelled'
    assert succeeded(tekton.get("TaskRun", "graceful-slow"))["reason"] == "TaskRunCancelled"
    assert succeeded(tekton.get("TaskRun", "graceful-final"))["reason"] == "Succeeded"


def test_graceful_stop_lets_running_tasks_finish_and_starts_no_new_ones(tekton, emulator):
    emulator.tekton.steps.script(task="first", duration=1)
    tekton.create(
        "PipelineRun",
        "stopping",
        {
            "pipelineSpec": {
                "tasks": [
                    {"name": "first", "taskSpec": task_spec()},
                    {"name": "second", "runAfter": ["first"], "taskSpec": task_spec()},
                ],
                "finally": [{"name": "final", "taskSpec": task_spec()}],
            }
        },
    )
    tekton.wait("TaskRun", "stopping-first", lambda tr: succeeded(tr).get("reason") == "Running")
    tekton.patch_spec("PipelineRun", "stopping", {"status": "StoppedRunFinally"})
    seen = tekton.wait("PipelineRun", "stopping", lambda pr: succeeded(pr).get("reason") != "Running")
    assert succeeded(seen)["reason"] in ("StoppedRunningFinally", "Cancelled")
    done = tekton.wait_done("PipelineRun", "stopping")
    assert succeeded(done)["reason"] == "Cancelled"
    assert succeeded(tekton.get("TaskRun", "stopping-first"))["reason"] == "Succeeded"
    assert {"name": "second", "reason": "PipelineRun was gracefully stopped"} in done["status"][
        "skippedTasks"
    ]
    assert succeeded(tekton.get("TaskRun", "stopping-final"))["reason"] == "Succeeded"


def test_pipeline_timeout_times_out_the_run_and_its_taskruns(tekton, emulator):
    emulator.tekton.steps.script(task="slow", duration=600)
    tekton.create(
        "PipelineRun",
        "too-slow",
        {
            "timeouts": {"pipeline": "2s"},
            "pipelineSpec": {"tasks": [{"name": "slow", "taskSpec": task_spec()}]},
        },
    )
    tekton.wait("TaskRun", "too-slow-slow", lambda tr: succeeded(tr).get("reason") == "Running")
    emulator.advance_time(5)  # the emulator's clock: no test waits for two real seconds
    done = tekton.wait_done("PipelineRun", "too-slow")
    assert succeeded(done)["reason"] == "PipelineRunTimeout"
    assert succeeded(done)["message"] == 'PipelineRun "too-slow" failed to finish within "2s"'
    slow = tekton.wait_done("TaskRun", "too-slow-slow")
    assert (
        slow["spec"]["statusMessage"] == "TaskRun cancelled as the PipelineRun it belongs to has timed out."
    )
    assert succeeded(slow)["reason"] == "TaskRunCancelled"


def test_task_timeout_gives_taskrun_timeout(tekton, emulator):
    emulator.tekton.steps.script(task="slow", duration=600)
    tekton.create(
        "PipelineRun",
        "task-timeout",
        {"pipelineSpec": {"tasks": [{"name": "slow", "timeout": "1m30s", "taskSpec": task_spec()}]}},
    )
    tekton.wait("TaskRun", "task-timeout-slow", lambda tr: succeeded(tr).get("reason") == "Running")
    emulator.advance_time(120)
    slow = tekton.wait_done("TaskRun", "task-timeout-slow")
    assert succeeded(slow)["reason"] == "TaskRunTimeout"
    assert succeeded(slow)["message"] == 'TaskRun "task-timeout-slow" failed to finish within "1m30s"'
    done = tekton.wait_done("PipelineRun", "task-timeout")
    assert succeeded(done)["reason"] == "Failed"
    assert succeeded(done)["message"] == "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0"


@pytest.mark.parametrize(
    ("spec", "reason", "message"),
    [
        (
            {"pipelineRef": {"name": "absent"}},
            "CouldntGetPipeline",
            "Error retrieving pipeline for pipelinerun {ns}/bad: error when getting Pipeline for PipelineRun "
            "bad: "
            'tekton client cannot get pipeline absent from local cluster: pipelines.tekton.dev "absent" not '
            "found",
        ),
        (
            {
                "pipelineSpec": {
                    "params": [{"name": "url"}, {"name": "rev"}],
                    "tasks": [{"name": "a", "taskSpec": task_spec()}],
                }
            },
            "ParameterMissing",
            "[User error] PipelineRun {ns}/bad is missing some parameters required by Pipeline {ns}/bad: "
            "pipelineRun missing parameters: [url rev]",
        ),
        (
            {"pipelineSpec": {"tasks": [{"name": "a", "taskRef": {"name": "nowhere"}}]}},
            "CouldntGetTask",
            "Pipeline {ns}/bad can't be Run; it contains Tasks that don't exist: "
            'Couldn\'t retrieve Task "nowhere": tasks.tekton.dev "nowhere" not found',
        ),
        (
            {
                "pipelineSpec": {
                    "tasks": [
                        {"name": "a", "taskSpec": task_spec(results=["out"])},
                        {
                            "name": "b",
                            "taskSpec": task_spec(params=["x"]),
                            "params": [{"name": "x", "value": "$(tasks.a.results.missing)"}],
                        },
                    ]
                }
            },
            "InvalidTaskResultReference",
            'invalid result reference in pipeline task "b": "missing" is not a named result returned by '
            'pipeline task "a"',
        ),
        (
            {
                "pipelineSpec": {
                    "tasks": [
                        {"name": "a", "runAfter": ["b"], "taskSpec": task_spec()},
                        {"name": "b", "runAfter": ["a"], "taskSpec": task_spec()},
                    ]
                }
            },
            "PipelineInvalidGraph",
            '[User error] PipelineRun {ns}/bad\'s Pipeline DAG is invalid: cycle detected; task "a" depends '
            'on "b"',
        ),
        (
            {
                "pipelineSpec": {
                    "workspaces": [{"name": "source"}],
                    "tasks": [{"name": "a", "taskSpec": task_spec()}],
                }
            },
            "InvalidWorkspaceBindings",
            "[User error] PipelineRun {ns}/bad doesn't bind Pipeline {ns}/bad's Workspaces correctly: "
            'pipeline requires workspace with name "source" be provided by pipelinerun',
        ),
        (
            {
                "params": [{"name": "list", "value": "one"}],
                "pipelineSpec": {
                    "params": [{"name": "list", "type": "array"}],
                    "tasks": [{"name": "a", "taskSpec": task_spec()}],
                },
            },
            "ParameterTypeMismatch",
            "[User error] PipelineRun {ns}/bad parameters have mismatching types with Pipeline {ns}/bad's "
            "parameters: "
            "parameters have inconsistent types : [list]",
        ),
        (
            # An embedded taskSpec's param the PipelineTask gives no value (Tekton names the Task,
            # which an embedded spec has not: "for task :").
            {"pipelineSpec": {"tasks": [{"name": "a", "taskSpec": task_spec(params=["x"])}]}},
            "PipelineValidationFailed",
            "[User error] Validation failed for pipelinerun bad with error invalid input params for task : "
            "missing values for these params which have no default values: [x]",
        ),
        (
            {
                "pipelineSpec": {
                    "results": [{"name": "out", "value": "$(tasks.a.results.missing)"}],
                    "tasks": [{"name": "a", "taskSpec": task_spec(results=["out"])}],
                }
            },
            "InvalidPipelineResultReference",
            'Failed to resolve pipeline result reference for "bad" with error invalid pipeline result "out": '
            '"missing" is not a named result returned by pipeline task "a"',
        ),
    ],
    ids=[
        "unknown-pipeline",
        "missing-param",
        "unknown-task",
        "bad-result-reference",
        "cycle",
        "unbound-workspace",
        "param-type",
        "task-param-without-value",
        "bad-pipeline-result-reference",
    ],
)
def test_invalid_runs_fail_with_tektons_reason_and_message(tekton, spec, reason, message):
    tekton.create("PipelineRun", "bad", spec)
    done = tekton.wait_done("PipelineRun", "bad")
    assert succeeded(done)["status"] == "False"
    assert succeeded(done)["reason"] == reason
    assert succeeded(done)["message"] == message.format(ns=tekton.namespace)
    assert done["status"]["completionTime"]
    assert tekton.list("TaskRun") == []


def test_workspaces_share_files_between_tasks_and_secrets_are_materialised(tekton, emulator):
    class Writer:
        name = "test-writer"
        seen: dict = {}

        def run(self, step):
            from emulator.tekton.executors import StepOutcome

            source = step.workspaces["source"]
            if step.pipeline_task == "clone":
                (source / "Dockerfile").write_text("FROM scratch\n")
            else:
                Writer.seen["dockerfile"] = (source / "Dockerfile").read_text()
                Writer.seen["kubeconfig"] = (step.workspaces["creds"] / "kubeconfig").read_text()
                Writer.seen["creds_mode"] = oct(
                    (step.workspaces["creds"] / "kubeconfig").stat().st_mode & 0o777
                )
            step.log(f"ran {step.pipeline_task}\n")
            return StepOutcome(exit_code=0)

    writer = Writer()
    emulator.tekton.executors.register(r"^test/writer$", writer)
    try:
        tekton.core.create_namespaced_secret(
            tekton.namespace,
            {"metadata": {"name": "deployer"}, "stringData": {"kubeconfig": "apiVersion: v1"}},
        )
        step = {"name": "go", "image": "test/writer"}
        tekton.create(
            "PipelineRun",
            "shared",
            {
                "workspaces": [
                    {
                        "name": "src",
                        "volumeClaimTemplate": {
                            "spec": {
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "1Gi"}},
                            }
                        },
                    },
                    {"name": "cluster", "secret": {"secretName": "deployer"}},
                ],
                "pipelineSpec": {
                    "workspaces": [{"name": "src"}, {"name": "cluster"}],
                    "tasks": [
                        {
                            "name": "clone",
                            "workspaces": [{"name": "source", "workspace": "src"}],
                            "taskSpec": {"workspaces": [{"name": "source"}], "steps": [step]},
                        },
                        {
                            "name": "deploy",
                            "runAfter": ["clone"],
                            "workspaces": [
                                {"name": "source", "workspace": "src"},
                                {"name": "creds", "workspace": "cluster"},
                            ],
                            "taskSpec": {
                                "workspaces": [{"name": "source"}, {"name": "creds"}],
                                "steps": [step],
                            },
                        },
                    ],
                },
            },
        )
        done = tekton.wait_done("PipelineRun", "shared")
        assert succeeded(done)["reason"] == "Succeeded", succeeded(done)
    finally:
        emulator.tekton.executors.unregister(writer)
    assert Writer.seen == {
        "dockerfile": "FROM scratch\n",
        "kubeconfig": "apiVersion: v1",
        "creds_mode": "0o600",
    }
    clone = tekton.get("TaskRun", "shared-clone")
    claim = clone["spec"]["workspaces"][0]["persistentVolumeClaim"]["claimName"]
    assert claim.startswith("pvc-") and len(claim) == len("pvc-") + 10
    pvc = tekton.core.read_namespaced_persistent_volume_claim(claim, tekton.namespace)
    assert pvc.metadata.owner_references[0].kind == "PipelineRun"
    assert (
        tekton.core.read_namespaced_pod_log("shared-deploy-pod", tekton.namespace, container="step-go")
        == "ran deploy\n"
    )


def test_the_controller_can_be_switched_off(tekton, emulator):
    emulator.tekton.enabled = False
    tekton.create(
        "PipelineRun", "idle", {"pipelineSpec": {"tasks": [{"name": "a", "taskSpec": task_spec()}]}}
    )
    assert "status" not in tekton.get("PipelineRun", "idle")
    emulator.tekton.enabled = True
    tekton.patch_spec("PipelineRun", "idle", {"params": []})  # any write wakes the controller
    assert succeeded(tekton.wait_done("PipelineRun", "idle"))["reason"] == "Succeeded"


def test_a_standalone_taskrun_runs_and_is_validated(tekton):
    tekton.create(
        "Task",
        "greet",
        task_spec(
            {
                "name": "hello",
                "image": "alpine",
                "script": "echo hello $(params.who) from $(context.taskRun.name)",
            },
            params=["who"],
        ),
    )
    tekton.create(
        "TaskRun", "alone", {"taskRef": {"name": "greet"}, "params": [{"name": "who", "value": "you"}]}
    )
    done = tekton.wait_done("TaskRun", "alone")
    assert succeeded(done)["reason"] == "Succeeded"
    log = tekton.core.read_namespaced_pod_log("alone-pod", tekton.namespace, container="step-hello")
    assert "echo hello you from alone" in log

    tekton.create("TaskRun", "no-params", {"taskRef": {"name": "greet"}})
    failed = tekton.wait_done("TaskRun", "no-params")
    assert succeeded(failed)["reason"] == "TaskRunValidationFailed"
    assert succeeded(failed)["message"] == (
        "[User error] invalid input params for task greet: missing values for these params which have no "
        "default values: [who]"
    )
    tekton.create("TaskRun", "no-task", {"taskRef": {"name": "absent"}})
    assert succeeded(tekton.wait_done("TaskRun", "no-task"))["reason"] == "TaskRunResolutionFailed"


def test_steps_are_scripted_over_the_emulators_http_controls(tekton, tekton_cluster):
    cluster = tekton_cluster
    request = urllib.request.Request(
        cluster.server + "/_emulator/tekton",
        data=json.dumps({"step": {"task": "flaky", "exit_code": 3, "log": "no space left"}}).encode(),
        headers={
            "Authorization": "Bearer " + cluster.kubeconfig_dict["users"][0]["user"]["token"],
            "Content-Type": "application/json",
        },
        method="POST",
    )
    context = ssl.create_default_context(cadata=cluster.ca_pem)
    with urllib.request.urlopen(request, context=context) as answer:
        assert json.loads(answer.read()) == {"ok": True}
    tekton.create(
        "PipelineRun", "over-http", {"pipelineSpec": {"tasks": [{"name": "flaky", "taskSpec": task_spec()}]}}
    )
    run = tekton.wait_done("TaskRun", "over-http-flaky")
    assert succeeded(run)["message"] == '"step-run" exited with code 3: Error'
    assert "no space left" in tekton.core.read_namespaced_pod_log("over-http-flaky-pod", tekton.namespace)
