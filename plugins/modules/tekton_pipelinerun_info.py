#!/usr/bin/python
"""Ansible module tekton_pipelinerun_info: the runs of a Pipeline, or one run in detail."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tekton_pipelinerun_info
short_description: List the runs of a Tekton Pipeline with status and durations, or show one run
description:
  - Without O(name), lists the PipelineRuns of O(pipeline) (or of every Pipeline) in O(namespace),
    newest first, each with its status, reason, start, end and duration, as C(tkn pipelinerun list)
    shows them; O(limit) keeps the newest ones.
  - With O(name), one run in detail, as M(tekton_cd.pipeline.tekton_pipelinerun) returns it (every
    task with its TaskRun, status, times and results, the run's results and built images, and for a
    run that did not succeed, the failed task and the last lines of its failing step's log).
  - Read-only; one LIST of runs (or one GET of the run and one LIST of its TaskRuns).
version_added: "0.1.0"
author: tekton-cd maintainers
options:
  namespace:
    description: Namespace of the runs.
    type: str
    required: true
  pipeline:
    description: Only the runs of this Pipeline (label C(tekton.dev/pipeline)).
    type: str
  name:
    description: One run, in detail.
    type: str
  limit:
    description: At most this many runs, the newest (0 for all).
    type: int
    default: 0
  log_lines:
    description: With O(name), how many last lines of a failing step's log to return.
    type: int
    default: 30
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: The last five runs of health-cd
  tekton_cd.pipeline.tekton_pipelinerun_info:
    namespace: health-ci
    pipeline: health-cd
    limit: 5
  register: recent

- name: One run in detail
  tekton_cd.pipeline.tekton_pipelinerun_info:
    namespace: health-ci
    name: health-cd-run-x7k2p
  register: detail
"""

RETURN = r"""
runs:
  description: The runs, newest first.
  returned: without O(name)
  type: list
  elements: dict
  contains:
    name: {description: Run name., type: str}
    pipeline: {description: Its Pipeline., type: str}
    status: {description: "succeeded, failed, cancelled, timed-out, running or pending.", type: str}
    reason: {description: Tekton's reason., type: str}
    start: {description: Start time., type: str}
    end: {description: Completion time., type: str}
    duration: {description: Seconds (null while running)., type: int}
  sample: [{name: health-cd-run-x7k2p, pipeline: health-cd, status: succeeded, reason: Succeeded,
            start: "2026-12-01T10:00:00Z", end: "2026-12-01T10:03:10Z", duration: 190}]
run:
  description:
    - The run in detail, as M(tekton_cd.pipeline.tekton_pipelinerun) returns it; null if it does
      not exist.
  returned: with O(name)
  type: dict
failure:
  description: For a run that did not succeed, its first failed task, reason, message, step and log tail.
  returned: with O(name), when the run failed
  type: dict
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils import tekton_runs as runs  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    connect_service,
)

ARGUMENT_SPEC = {
    "namespace": {"type": "str", "required": True},
    "pipeline": {"type": "str"},
    "name": {"type": "str"},
    "limit": {"type": "int", "default": 0},
    "log_lines": {"type": "int", "default": 30},
}
LISTED = ("name", "pipeline", "status", "reason", "start", "end", "duration")


def ensure(params, check_mode):
    service = connect_service(params, check_mode)
    namespace = params["namespace"]
    if params["name"]:
        run = service.get(runs.API, "PipelineRun", params["name"], namespace)
        if run is None:
            return {"changed": False, "run": None}
        task_runs = service.list(runs.API, "TaskRun", namespace,
                                 label_selector=f"tekton.dev/pipelineRun={params['name']}")
        summary = runs.summarize(run, task_runs)
        result = {"changed": False, "run": summary}
        if runs.is_done(run) and summary["status"] != "succeeded":
            result["failure"] = runs.failure_of(service, summary, task_runs, log_lines=params["log_lines"])
        return result
    selector = f"tekton.dev/pipeline={params['pipeline']}" if params["pipeline"] else None
    found = service.list(runs.API, "PipelineRun", namespace, label_selector=selector)
    found.sort(key=runs.age_order, reverse=True)
    if params["limit"] > 0:
        found = found[: params["limit"]]
    listed = [{key: summary[key] for key in LISTED} for summary in (runs.summarize(r, []) for r in found)]
    return {"changed": False, "runs": listed}


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
