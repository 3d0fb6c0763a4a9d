#!/usr/bin/python
"""Ansible module tekton_pipelinerun: start a Tekton PipelineRun, follow it, explain it, clean up."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tekton_pipelinerun
short_description: Start a Tekton PipelineRun, follow it to its end, cancel it, prune old runs
description:
  - With O(state=present), starts a run of a named Pipeline (C(generateName), params, workspaces,
    service accounts per task, labels, timeouts). Before anything is created the request is checked
    against the Pipeline; an unknown Pipeline, a missing required param or an unknown param,
    workspace or pipeline task fails in one sentence listing what the Pipeline declares.
  - With O(wait=true) the run is followed by watching it and its TaskRuns (no polling, no log
    stream) until it ends or O(wait_timeout) passes; each change of a task is printed once, with the
    time since the run started (C(build-api running 0:12)). A run that fails, is cancelled or times
    out fails the task, naming the failed task, its reason and message, and the last lines of the
    log of its failing step. When O(wait_timeout) passes, the run is cancelled as O(cancel_mode) says
    (by default gracefully, so C(finally) tasks still run) and the task fails saying so.
  - Given the O(name) of a run that exists, the run is not started again but followed.
  - With O(state=absent), a running run is cancelled (O(cancel_mode)) and a finished one deleted,
    with the PVCs its C(volumeClaimTemplate) workspaces left.
  - O(keep) and O(keep_since) prune the finished runs of O(pipeline) beyond the O(keep) newest or
    finished longer ago than O(keep_since) (both apply), and their PVCs; running runs are never
    pruned. When Tekton Pruner is configured for the namespace, pruning is left to it (and the
    result says so) unless O(prune_despite_pruner=true).
version_added: "0.1.0"
author: tekton-cd maintainers
options:
  namespace:
    description: Namespace of the Pipeline and its runs.
    type: str
    required: true
  pipeline:
    description: Name of the Pipeline to run (and whose runs O(keep) prunes). Required to start a run.
    type: str
  state:
    description: C(present) starts (or follows) a run; C(absent) cancels or deletes one, or only prunes.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Exact name of the run. With O(state=present), a run of that name that exists is followed
        instead of started. Required with O(state=absent) unless only pruning.
    type: str
  generate_name:
    description: Prefix of the generated run name; default C(<pipeline>-run-).
    type: str
  params:
    description: Param values by name; a list for an C(array) param, a dict for an C(object) param.
    type: dict
    default: {}
  workspaces:
    description: Workspace bindings; each gives O(workspaces[].name) and exactly one source.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: The Pipeline's workspace name., type: str, required: true}
      volume_claim_template:
        description:
          - A fresh PVC per run, as C(size), C(access_modes) (default C([ReadWriteOnce])) and
            C(storage_class), or a full PVC template (a dict with C(spec)).
        type: dict
      persistent_volume_claim: {description: Name of an existing PVC., type: str}
      secret: {description: Name of a Secret., type: str}
      config_map: {description: Name of a ConfigMap., type: str}
      empty_dir: {description: An emptyDir (true, or the emptyDir's fields)., type: raw}
      sub_path: {description: Sub-directory of the volume to bind., type: str}
  service_account:
    description: Service account of every TaskRun (C(taskRunTemplate.serviceAccountName)).
    type: str
  pod_template:
    description: Pod template of every TaskRun (C(taskRunTemplate.podTemplate)).
    type: dict
  task_run_specs:
    description:
      - Per pipeline task settings (C(taskRunSpecs)). O(task_run_specs[].pipeline_task) may be a
        shell pattern (C(build-*)) matching several tasks; a later entry overrides an earlier one.
    type: list
    elements: dict
    default: []
    suboptions:
      pipeline_task: {description: Pipeline task name or pattern., type: str, required: true}
      service_account: {description: Service account of its TaskRun., type: str}
      pod_template: {description: Pod template of its TaskRun., type: dict}
  labels:
    description: Labels of the run (Tekton copies them to its TaskRuns).
    type: dict
    default: {}
  annotations:
    description: Annotations of the run.
    type: dict
    default: {}
  timeouts:
    description: Tekton's timeouts of the run, as durations (C(1h), C(30m0s)).
    type: dict
    suboptions:
      pipeline: {description: The whole run., type: str}
      tasks: {description: All C(tasks)., type: str}
      finally: {description: All C(finally) tasks., type: str}
  wait:
    description: Follow the run until it ends (and fail unless it succeeded).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the run to end.
    type: int
    default: 3600
  cancel_on_timeout:
    description: Cancel the run when O(wait_timeout) passes (else it is left running and the task fails).
    type: bool
    default: true
  cancel_mode:
    description:
      - How a run is cancelled (Tekton's C(spec.status)). C(CancelledRunFinally) cancels the running
        tasks and runs C(finally); C(Cancelled) skips C(finally) too; C(StoppedRunFinally) lets running
        tasks finish, starts no new ones, then runs C(finally).
    type: str
    choices: [CancelledRunFinally, Cancelled, StoppedRunFinally]
    default: CancelledRunFinally
  cancel_timeout:
    description: Seconds to wait for a cancelled run to end (its C(finally) tasks included).
    type: int
    default: 300
  log_lines:
    description: How many last lines of the failing step's log to report (0 for none).
    type: int
    default: 30
  keep:
    description: Keep the newest N finished runs of O(pipeline), prune the others.
    type: int
  keep_since:
    description:
      - Prune finished runs of O(pipeline) that ended longer ago than this (seconds, or C(30m),
        C(12h), C(7d)).
    type: raw
  prune_despite_pruner:
    description: Prune with O(keep) / O(keep_since) even when Tekton Pruner is configured for the namespace.
    type: bool
    default: false
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description:
      - The request is checked and the run created with C(dryRun=All) (nothing starts); pruning
        is a dry run too.
  diff_mode:
    support: none
notes:
  - Ages for O(keep_since) are measured with the controller's clock against the cluster's timestamps.
"""

EXAMPLES = r"""
- name: Build and deploy revision v1.2 with per-task service accounts
  tekton_cd.pipeline.tekton_pipelinerun:
    namespace: health-ci
    pipeline: health-cd
    params: {git-revision: v1.2}
    workspaces:
      - {name: source, volume_claim_template: {size: 1Gi}}
      - {name: dockerconfig, secret: registry-credentials}
      - {name: kubeconfig, secret: deployer-kubeconfig}
    task_run_specs:
      - {pipeline_task: "build-*", service_account: builder}
      - {pipeline_task: deploy, service_account: deployer}
    wait_timeout: 1800
    keep: 5
  register: run

- name: Cancel a run (its finally tasks still run)
  tekton_cd.pipeline.tekton_pipelinerun:
    namespace: health-ci
    name: health-cd-run-x7k2p
    state: absent

- name: Prune runs older than a week, keeping at most 10
  tekton_cd.pipeline.tekton_pipelinerun:
    namespace: health-ci
    pipeline: health-cd
    state: absent
    keep: 10
    keep_since: 7d
"""

RETURN = r"""
run:
  description: The run (absent in check mode before creation, and after deletion).
  returned: when there is a run
  type: dict
  contains:
    name: {description: Run name., type: str}
    namespace: {description: Its namespace., type: str}
    pipeline: {description: The Pipeline., type: str}
    status: {description: "succeeded, failed, cancelled, timed-out, running or pending.", type: str}
    reason:
      description: "Tekton's reason (Succeeded, Failed, Cancelled, PipelineRunTimeout, Running...)."
      type: str
    message: {description: Tekton's message., type: str}
    start: {description: Start time (RFC 3339)., type: str}
    end: {description: Completion time., type: str}
    duration: {description: Seconds from start to end., type: int}
    params: {description: Param values, the Pipeline's defaults included., type: dict}
    tasks:
      description: One entry per pipeline task, in start order, then the skipped ones.
      type: list
      elements: dict
      contains:
        name: {description: Pipeline task., type: str}
        task_run: {description: Its TaskRun (null when skipped)., type: str}
        final: {description: Whether it is a finally task., type: bool}
        status: {description: As the run's status, or skipped., type: str}
        reason: {description: Tekton's reason., type: str}
        message: {description: Tekton's message., type: str}
        start: {description: Start time., type: str}
        end: {description: Completion time., type: str}
        duration: {description: Seconds., type: int}
        retries: {description: Retries used., type: int}
        results: {description: The task's results., type: dict}
    results: {description: The Pipeline's results., type: dict}
    task_results: {description: Results by pipeline task., type: dict}
    images:
      description: Built images, from results named C(*IMAGE_DIGEST) and C(*IMAGE_URL).
      type: list
      elements: dict
      sample: [{task: build-api, url: "icr.io/ns/health-api:abc", digest: "sha256:...",
                reference: "icr.io/ns/health-api:abc@sha256:..."}]
    dag:
      description: "Each pipeline task with what it waits for: name, after, final."
      type: list
      elements: dict
failure:
  description:
    - "The first failed task: task, task_run, reason, message, step, exit_code, log (the last
      O(log_lines) lines)."
  returned: when the run did not succeed
  type: dict
cancelled:
  description: The C(spec.status) this task set to cancel the run (after O(wait_timeout), or O(state=absent)).
  returned: when the task cancelled the run
  type: str
pruned:
  description: "Runs and PVCs pruned (runs, claims), or left_to: why pruning was left to Tekton Pruner."
  returned: when O(keep) or O(keep_since) is given
  type: dict
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils import tekton_runs as runs  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    connect_service,
)

WORKSPACE_OPTIONS = {
    "name": {"type": "str", "required": True},
    "volume_claim_template": {"type": "dict"},
    "persistent_volume_claim": {"type": "str"},
    "secret": {"type": "str"},
    "config_map": {"type": "str"},
    "empty_dir": {"type": "raw"},
    "sub_path": {"type": "str"},
}
TASK_RUN_SPEC_OPTIONS = {
    "pipeline_task": {"type": "str", "required": True},
    "service_account": {"type": "str"},
    "pod_template": {"type": "dict"},
}
ARGUMENT_SPEC = {
    "namespace": {"type": "str", "required": True},
    "pipeline": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "name": {"type": "str"},
    "generate_name": {"type": "str"},
    "params": {"type": "dict", "default": {}},
    "workspaces": {"type": "list", "elements": "dict", "default": [], "options": WORKSPACE_OPTIONS},
    "service_account": {"type": "str"},
    "pod_template": {"type": "dict"},
    "task_run_specs": {"type": "list", "elements": "dict", "default": [], "options": TASK_RUN_SPEC_OPTIONS},
    "labels": {"type": "dict", "default": {}},
    "annotations": {"type": "dict", "default": {}},
    "timeouts": {"type": "dict", "options": {k: {"type": "str"} for k in ("pipeline", "tasks", "finally")}},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 3600},
    "cancel_on_timeout": {"type": "bool", "default": True},
    "cancel_mode": {"type": "str", "choices": list(runs.CANCEL_MODES), "default": "CancelledRunFinally"},
    "cancel_timeout": {"type": "int", "default": 300},
    "log_lines": {"type": "int", "default": 30},
    "keep": {"type": "int"},
    "keep_since": {"type": "raw"},
    "prune_despite_pruner": {"type": "bool", "default": False},
}


def check_options(params):
    for option in ("wait_timeout", "cancel_timeout", "log_lines", "keep"):
        if params[option] is not None and params[option] < (1 if option.endswith("timeout") else 0):
            fix = "give a positive number" if option.endswith("timeout") else "give 0 or more"
            raise KubeError.invalid(option, f"{params[option]} is out of range", fix)
    pruning = params["keep"] is not None or runs.age_seconds(params["keep_since"]) is not None
    if (params["state"] == "present" or pruning) and not params["pipeline"]:
        raise KubeError.invalid("pipeline", "it is missing",
                                "name the Pipeline to run or whose runs to prune")
    if params["state"] == "absent" and not (params["name"] or pruning):
        raise KubeError.invalid("name", "it is missing",
                                "name the run to cancel or delete, or give keep / keep_since")
    return pruning


def ensure(params, check_mode, progress):
    pruning = check_options(params)
    service = connect_service(params, check_mode)
    namespace, result = params["namespace"], {"changed": False}
    run = service.get(runs.API, "PipelineRun", params["name"], namespace) if params["name"] else None
    if params["state"] == "present":
        if run is None:
            pipeline = runs.read_pipeline(service, namespace, params["pipeline"])
            runs.check_request(params, pipeline)
            run = service.create(runs.run_body(params, pipeline))
            result["changed"] = True
            if check_mode:  # a dry run: the API server checked and named it, nothing started
                result["would_create"], run = run, None
            else:
                progress(f'run {run["metadata"]["name"]} of {params["pipeline"]} started')
        elif run["metadata"].get("labels", {}).get("tekton.dev/pipeline") not in (None, params["pipeline"]):
            raise KubeError(f"{object_ref('PipelineRun', params['name'], namespace)} is a run of another "
                            "Pipeline; give a new name, or the Pipeline it runs.")
    elif run is not None and not runs.is_done(run):
        result.update(changed=runs.cancel(service, run, params["cancel_mode"]).changed,
                      cancelled=params["cancel_mode"])
    elif run is not None:
        claims = runs.run_claims(service, run)
        service.delete(runs.API, "PipelineRun", run["metadata"]["name"], namespace)
        for claim in claims:
            service.delete("v1", "PersistentVolumeClaim", claim["metadata"]["name"], namespace)
        result.update(changed=True, deleted={"run": run["metadata"]["name"],
                                             "claims": [c["metadata"]["name"] for c in claims]})
        run = None

    if run is not None and params["wait"] and not check_mode:
        result.update(follow(service, run, params, progress, cancelled=result.get("cancelled")))
    elif run is not None:
        result["run"] = runs.summarize(run, [])
    if pruning:
        result["pruned"] = prune(service, params)
        result["changed"] = result["changed"] or bool(result["pruned"].get("runs"))
        if result["pruned"].get("left_to"):
            result["warnings"] = [result["pruned"]["left_to"]]
    return result


def follow(service, run, params, progress, cancelled=None):
    """Wait for the run (cancelling it when wait_timeout passes); the result's run, failure, msg."""
    lines = runs.ProgressLines(progress)
    timeout = params["cancel_timeout"] if cancelled else params["wait_timeout"]
    run, task_runs, ended = runs.follow_run(service, run, timeout=timeout, progress=progress, lines=lines)
    timed_out = not ended and not cancelled
    if timed_out and params["cancel_on_timeout"]:
        cancelled = params["cancel_mode"]
        progress(f'wait_timeout of {params["wait_timeout"]} s passed: '
                 f'cancelling {run["metadata"]["name"]} ({cancelled})')
        runs.cancel(service, run, cancelled)
        run, task_runs, ended = runs.follow_run(service, run, timeout=params["cancel_timeout"],
                                                progress=progress, lines=lines)
    summary = runs.summarize(run, task_runs)
    result = {"run": summary, **({"cancelled": cancelled} if cancelled else {})}
    if summary["status"] == "succeeded":
        return result
    result["failure"] = runs.failure_of(service, summary, task_runs, log_lines=params["log_lines"])
    where = object_ref("PipelineRun", summary["name"], summary["namespace"])
    if timed_out and not params["cancel_on_timeout"]:
        return {**result, "failed": True, "msg": f"{where} did not end within wait_timeout "
                f"({params['wait_timeout']} s); it is left running (cancel_on_timeout is false)."}
    if timed_out:
        cancelled_tasks = [t["name"] for t in summary["tasks"] if t["status"] == "cancelled"]
        finals = [f'{t["name"]} {t["status"]}' for t in summary["tasks"] if t["final"]]
        state = f"it ended {summary['status']} ({summary['reason']})" if ended else (
            f"it had not ended {params['cancel_timeout']} s later (cancel_timeout)")
        return {**result, "failed": True, "msg": (
            f"{where} did not end within wait_timeout ({params['wait_timeout']} s), so it was cancelled "
            f"({cancelled}, spec.status): tasks cancelled: {', '.join(cancelled_tasks) or 'none'}; "
            f"finally tasks: {', '.join(finals) or 'none'}; {state}.")}
    if not ended:
        return {**result, "failed": True, "msg": f"{where} was cancelled ({cancelled}) but had not ended "
                f"within cancel_timeout ({params['cancel_timeout']} s)."}
    if cancelled and params["state"] == "absent":
        return result  # asked for: a cancelled run is the wanted outcome
    return {**result, "failed": True, "msg": runs.failure_sentence(summary, result["failure"])}


def prune(service, params):
    left_to = None if params["prune_despite_pruner"] else runs.pruner_in_charge(service, params["namespace"])
    if left_to:
        return {"runs": [], "claims": [], "left_to": f"{left_to}: pruning is left to it (keep / keep_since "
                "not applied); set prune_despite_pruner: true to prune here as well."}
    _changed, pruned_runs, claims = runs.prune(service, params["namespace"], params["pipeline"],
                                               keep=params["keep"],
                                               keep_since=runs.age_seconds(params["keep_since"]))
    return {"runs": pruned_runs, "claims": claims}


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure, reports_progress=True)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
