"""Tekton v1.15's condition reasons, messages and names, in one place.

Each string is the one Tekton's own code writes (pkg/apis/pipeline/v1/pipelinerun_types.go,
taskrun_types.go, pkg/reconciler/pipelinerun/, pkg/pod/status.go at tag v1.15.0), so that clients
written against a real Tekton (`tkn`, the project's modules) read the same answers here.
"""

from __future__ import annotations

import hashlib
import re

# PipelineRun reasons (condition type "Succeeded").
PR_STARTED = "Started"
PR_RUNNING = "Running"
PR_SUCCEEDED = "Succeeded"
PR_COMPLETED = "Completed"
PR_FAILED = "Failed"
PR_CANCELLED = "Cancelled"
PR_PENDING = "PipelineRunPending"
PR_TIMEOUT = "PipelineRunTimeout"
PR_STOPPING = "PipelineRunStopping"
PR_TIMEOUT_RUNNING_FINALLY = "PipelineRunTimeoutRunningFinally"
PR_CANCELLED_RUNNING_FINALLY = "CancelledRunningFinally"
PR_STOPPED_RUNNING_FINALLY = "StoppedRunningFinally"
PR_COULDNT_GET_PIPELINE = "CouldntGetPipeline"
PR_COULDNT_GET_TASK = "CouldntGetTask"
PR_INVALID_WORKSPACE_BINDING = "InvalidWorkspaceBindings"
PR_PARAMETER_TYPE_MISMATCH = "ParameterTypeMismatch"
PR_PARAMETER_MISSING = "ParameterMissing"
PR_FAILED_VALIDATION = "PipelineValidationFailed"
PR_INVALID_GRAPH = "PipelineInvalidGraph"
PR_INVALID_TASK_RESULT_REFERENCE = "InvalidTaskResultReference"
PR_INVALID_PIPELINE_RESULT_REFERENCE = "InvalidPipelineResultReference"
PR_COULDNT_GET_PIPELINE_RESULT = "CouldntGetPipelineResult"

# PipelineRun spec.status values.
SPEC_CANCELLED = "Cancelled"
SPEC_CANCELLED_RUN_FINALLY = "CancelledRunFinally"
SPEC_STOPPED_RUN_FINALLY = "StoppedRunFinally"
SPEC_PENDING = "PipelineRunPending"

# Why a PipelineTask was skipped (status.skippedTasks[].reason).
SKIP_WHEN = "When Expressions evaluated to false"
SKIP_PARENT = "Parent Tasks were skipped"
SKIP_STOPPING = "PipelineRun was stopping"
SKIP_GRACEFULLY_CANCELLED = "PipelineRun was gracefully cancelled"
SKIP_GRACEFULLY_STOPPED = "PipelineRun was gracefully stopped"
SKIP_MISSING_RESULTS = "Results were missing"
SKIP_PIPELINE_TIMEOUT = "PipelineRun timeout has been reached"
SKIP_TASKS_TIMEOUT = "PipelineRun Tasks timeout has been reached"
SKIP_FINALLY_TIMEOUT = "PipelineRun Finally timeout has been reached"

# TaskRun reasons.
TR_STARTED = "Started"
TR_PENDING_POD = "Pending"  # the pod is Pending (pkg/pod/status.go ReasonPodPending)
TR_RUNNING = "Running"
TR_SUCCEEDED = "Succeeded"
TR_FAILED = "Failed"
TR_STEP_FAILED = "StepFailed"  # a step container exited non-zero (v1.15 classifies the failure)
TR_FAILURE_IGNORED = "FailureIgnored"  # failed, and its PipelineTask has onError: continue
TR_CANCELLED = "TaskRunCancelled"
TR_TIMEOUT = "TaskRunTimeout"
TR_RESOLUTION_FAILED = "TaskRunResolutionFailed"
TR_VALIDATION_FAILED = "TaskRunValidationFailed"
TR_SPEC_CANCELLED = "TaskRunCancelled"  # TaskRun spec.status
TR_CANCELLED_BY_PIPELINE = "TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
TR_CANCELLED_BY_PIPELINE_TIMEOUT = "TaskRun cancelled as the PipelineRun it belongs to has timed out."
TR_RUNNING_MESSAGE = "Not all Steps in the Task have finished executing"
TR_SUCCEEDED_MESSAGE = "All Steps have completed executing"

# Step termination reasons (status.steps[].terminationReason).
STEP_COMPLETED = "Completed"
STEP_ERROR = "Error"
STEP_SKIPPED = "Skipped"

USER_ERROR = "[User error] "  # Tekton prefixes messages of errors it blames on the user

# Labels and annotations.
LABEL_PIPELINE = "tekton.dev/pipeline"
LABEL_PIPELINE_RUN = "tekton.dev/pipelineRun"
LABEL_PIPELINE_RUN_UID = "tekton.dev/pipelineRunUID"
LABEL_PIPELINE_TASK = "tekton.dev/pipelineTask"
LABEL_MEMBER_OF = "tekton.dev/memberOf"
LABEL_TASK = "tekton.dev/task"
LABEL_TASK_RUN = "tekton.dev/taskRun"
LABEL_TASK_RUN_UID = "tekton.dev/taskRunUID"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "tekton-pipelines"
ANNOTATION_ON_ERROR = "pipeline.tekton.dev/pipeline-task-on-error"

DEFAULT_TIMEOUT_SECONDS = 3600.0  # config-defaults default-timeout-minutes: 60
MAX_NAME = 63


def child_name(parent: str, suffix: str) -> str:
    """knative's kmeta.ChildName: `parent + suffix`, or, when that exceeds 63 characters, the parent
    shortened and made unique with its MD5 (how Tekton names `<run>-<task>` and `<taskrun>-pod`)."""
    if len(parent) <= MAX_NAME - len(suffix):
        return parent + suffix
    head = MAX_NAME - 32
    if head - len(suffix) <= 0:
        digest = hashlib.md5((parent + suffix).encode()).hexdigest()  # noqa: S324 - a name, not security
        name = parent[:head] + digest
        name += suffix[: max(0, MAX_NAME - len(name))]
        return name.rstrip("-.")
    digest = hashlib.md5(parent.encode()).hexdigest()  # noqa: S324 - a name, not security
    return parent[: head - len(suffix)] + digest + suffix


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string ("1h0m0s", "90s", "1.5h", "0"); ValueError when it is not one."""
    text = str(text).strip()
    if text in ("0", "+0", "-0"):
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(body):
        if match.start() != position:
            break
        total += float(match[1]) * _UNIT_SECONDS[match[2]]
        position = match.end()
    if not body or position != len(body):
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String(): 3600 -> "1h0m0s", 90 -> "1m30s", 1.5 -> "1.5s", 0.5 -> "500ms"."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _trim(nanos / size) + unit
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs = _trim(rest / 1e9)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"
