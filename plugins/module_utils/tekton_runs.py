"""Tekton PipelineRuns for the tekton_pipelinerun modules: check a request against its Pipeline,
build the run, follow it by watch with progress lines, summarise it (tasks, times, results, the
failing step's log), cancel it, and prune old runs of a Pipeline and the PVCs they left.

    pipeline = read_pipeline(service, "ci", "health-cd")         # KubeError listing what exists
    check_request(request, pipeline)                              # KubeError listing what it declares
    run = service.create(run_body(request, pipeline))
    run, task_runs, ended = follow_run(service, run, timeout=600, progress=print)
    summary = summarize(run, task_runs)                           # what the modules return
    summary["failure"] = failure_of(service, summary, task_runs, log_lines=20)
    prune(service, "ci", "health-cd", keep=5, keep_since=None)    # finished runs only

Tekton facts used here (v1.15): the run's condition ``Succeeded`` (True / False / Unknown) and
its reasons (``Cancelled``, ``PipelineRunTimeout``, ``PipelineRunPending``, ...); TaskRuns carry
the labels ``tekton.dev/pipelineRun`` and ``tekton.dev/pipelineTask``, PipelineRuns
``tekton.dev/pipeline``; a failed step is the entry of ``status.steps`` whose container terminated
with a non-zero exit code, its log that of container ``step-<name>`` of ``status.podName``; the
PVC of a ``volumeClaimTemplate`` workspace is owned by its run (ownerReferences uid).
"""

from __future__ import annotations

import datetime
import fnmatch

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import Selection

API = "tekton.dev/v1"
CANCEL_MODES = ("CancelledRunFinally", "Cancelled", "StoppedRunFinally")
IMAGE_URL, IMAGE_DIGEST = "IMAGE_URL", "IMAGE_DIGEST"
# Tekton Pruner (tektoncd/pruner): its cluster-wide configuration ConfigMap, in the namespace of the
# Tekton installation, and the per-namespace one; both labelled as the pruner's.
PRUNER_CONFIG = "tekton-pruner-default-spec"
PRUNER_NAMESPACE_CONFIG = "tekton-pruner-namespace-spec"
PRUNER_HOMES = ("tekton-pipelines", "openshift-pipelines")
PRUNER_LIMITS = ("historyLimit", "successfulHistoryLimit", "failedHistoryLimit", "ttlSecondsAfterFinished")
WORKSPACE_SOURCES = ("volume_claim_template", "persistent_volume_claim", "secret", "config_map", "empty_dir")


# -- the request --------------------------------------------------------------------------------


def read_pipeline(service, namespace, name):
    """The Pipeline, or a KubeError naming the Pipelines that do exist there."""
    pipeline = service.get(API, "Pipeline", name, namespace)
    if pipeline is None:
        names = sorted(p["metadata"]["name"] for p in service.list(API, "Pipeline", namespace))
        there = f"the Pipelines there are {', '.join(names)}" if names else "there are no Pipelines there"
        raise KubeError(
            f"Cannot start a run: {object_ref('Pipeline', name, namespace)} does not exist "
            f"({there}); apply it first (tekton_resources) or fix the pipeline name."
        )
    return pipeline


def declared(pipeline):
    """One phrase listing the Pipeline's params, workspaces and tasks, for error messages."""
    spec = pipeline.get("spec") or {}
    params = [p["name"] + ("" if "default" in p else " (required)") for p in spec.get("params") or []]
    workspaces = [
        w["name"] + (" (optional)" if w.get("optional") else "") for w in spec.get("workspaces") or []
    ]
    tasks = [t["name"] for t in (spec.get("tasks") or []) + (spec.get("finally") or [])]
    return (
        f'Pipeline "{pipeline["metadata"]["name"]}" declares params {", ".join(params) or "(none)"}; '
        f"workspaces {', '.join(workspaces) or '(none)'}; tasks {', '.join(tasks)}"
    )


def check_request(request, pipeline):
    """Every way the request does not fit the Pipeline, as one KubeError sentence (before any write)."""
    spec = pipeline.get("spec") or {}
    param_specs = {p["name"]: p for p in spec.get("params") or []}
    given = request.get("params") or {}
    problems = [f'unknown param "{name}"' for name in given if name not in param_specs]
    problems += [
        f'missing required param "{name}"'
        for name, p in param_specs.items()
        if "default" not in p and name not in given
    ]
    for name, value in given.items():
        wanted = (param_specs.get(name) or {}).get("type") or ("string" if name in param_specs else None)
        shape = "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "string"
        if wanted and wanted != shape:
            problems.append(
                f'param "{name}" is {wanted} but an {shape} is given'
                if shape[0] in "ao"
                else f'param "{name}" is {wanted} but a string is given'
            )
    workspace_specs = {w["name"]: w for w in spec.get("workspaces") or []}
    bound = [w["name"] for w in request.get("workspaces") or []]
    problems += [f'unknown workspace "{name}"' for name in bound if name not in workspace_specs]
    problems += [
        f'workspace "{name}" is not bound'
        for name, w in workspace_specs.items()
        if not w.get("optional") and name not in bound
    ]
    for workspace in request.get("workspaces") or []:
        sources = [key for key in WORKSPACE_SOURCES if workspace.get(key) not in (None, False)]
        if len(sources) != 1:
            problems.append(
                f'workspace "{workspace["name"]}" needs exactly one of {", ".join(WORKSPACE_SOURCES)}'
                + (f" (it has {', '.join(sources)})" if sources else "")
            )
    tasks = [t["name"] for t in (spec.get("tasks") or []) + (spec.get("finally") or [])]
    for entry in request.get("task_run_specs") or []:
        if not fnmatch.filter(tasks, entry["pipeline_task"]):
            problems.append(
                f'task_run_specs names pipeline task "{entry["pipeline_task"]}", which matches none'
            )
    if problems:
        metadata = pipeline["metadata"]
        raise KubeError(
            f"Cannot start a run of {object_ref('Pipeline', metadata['name'], metadata.get('namespace'))}: "
            f"{'; '.join(problems)}; the {declared(pipeline)}."
        )


def run_body(request, pipeline):
    """The PipelineRun to create for a checked request (see the module's options)."""
    name = pipeline["metadata"]["name"]
    metadata = {"namespace": request["namespace"], "labels": dict(request.get("labels") or {})}
    if request.get("name"):
        metadata["name"] = request["name"]
    else:
        metadata["generateName"] = request.get("generate_name") or f"{name}-run-"
    if request.get("annotations"):
        metadata["annotations"] = dict(request["annotations"])
    spec = {"pipelineRef": {"name": name}}
    if request.get("params"):
        spec["params"] = [
            {"name": key, "value": _param_value(value)} for key, value in request["params"].items()
        ]
    if request.get("workspaces"):
        spec["workspaces"] = [_workspace(w) for w in request["workspaces"]]
    template = {
        key: value
        for key, value in (
            ("serviceAccountName", request.get("service_account")),
            ("podTemplate", request.get("pod_template")),
        )
        if value
    }
    if template:
        spec["taskRunTemplate"] = template
    specs = _task_run_specs(request.get("task_run_specs") or [], pipeline)
    if specs:
        spec["taskRunSpecs"] = specs
    timeouts = {key: value for key, value in (request.get("timeouts") or {}).items() if value}
    if timeouts:
        spec["timeouts"] = timeouts
    return {"apiVersion": API, "kind": "PipelineRun", "metadata": metadata, "spec": spec}


def _param_value(value):
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, dict):
        return {str(key): str(item) for key, item in value.items()}
    return str(value).lower() if isinstance(value, bool) else str(value)


def _workspace(given):
    binding = {"name": given["name"]}
    if given.get("sub_path"):
        binding["subPath"] = given["sub_path"]
    if given.get("volume_claim_template"):
        template = dict(given["volume_claim_template"])
        if "spec" not in template:  # the short form: size, access_modes, storage_class
            claim = {
                "accessModes": template.get("access_modes") or ["ReadWriteOnce"],
                "resources": {"requests": {"storage": str(template.get("size") or "1Gi")}},
            }
            if template.get("storage_class"):
                claim["storageClassName"] = template["storage_class"]
            template = {"spec": claim}
        binding["volumeClaimTemplate"] = template
    elif given.get("persistent_volume_claim"):
        binding["persistentVolumeClaim"] = {"claimName": given["persistent_volume_claim"]}
    elif given.get("secret"):
        binding["secret"] = {"secretName": given["secret"]}
    elif given.get("config_map"):
        binding["configMap"] = {"name": given["config_map"]}
    else:
        binding["emptyDir"] = given["empty_dir"] if isinstance(given["empty_dir"], dict) else {}
    return binding


def _task_run_specs(entries, pipeline):
    """taskRunSpecs, one per pipeline task a pattern matches (a later entry overrides an earlier)."""
    spec = pipeline.get("spec") or {}
    tasks = [t["name"] for t in (spec.get("tasks") or []) + (spec.get("finally") or [])]
    by_task = {}
    for entry in entries:
        for task in fnmatch.filter(tasks, entry["pipeline_task"]):
            item = by_task.setdefault(task, {"pipelineTaskName": task})
            if entry.get("service_account"):
                item["serviceAccountName"] = entry["service_account"]
            if entry.get("pod_template"):
                item["podTemplate"] = entry["pod_template"]
    return [by_task[task] for task in tasks if task in by_task]


# -- reading a run ------------------------------------------------------------------------------


def condition(obj):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Succeeded":
            return cond
    return {}


def outcome(obj):
    """succeeded / failed / cancelled / timed-out / running / pending, from the Succeeded condition."""
    cond = condition(obj)
    reason = cond.get("reason") or ""
    if cond.get("status") == "True":
        return "succeeded"
    if cond.get("status") == "False":
        if reason in ("Cancelled", "TaskRunCancelled", "PipelineRunCancelled"):
            return "cancelled"
        if reason in ("PipelineRunTimeout", "TaskRunTimeout"):
            return "timed-out"
        return "failed"
    if reason in ("PipelineRunPending", "Pending") or not cond:
        return "pending"
    return "running"


def is_done(obj):
    return condition(obj).get("status") in ("True", "False")


def parse_time(text):
    if not text:
        return None
    stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.UTC)


def seconds_between(start, end):
    start, end = parse_time(start), parse_time(end)
    return int((end - start).total_seconds()) if start and end else None


def clock(seconds):
    """0:12, 1:03, 1:02:03 — elapsed time as a person reads it."""
    if seconds is None:
        return "-"
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _results(obj):
    return {r.get("name"): r.get("value") for r in (obj.get("status") or {}).get("results") or []}


def task_summary(task_run):
    status, labels = task_run.get("status") or {}, task_run["metadata"].get("labels") or {}
    cond = condition(task_run)
    return {
        "name": labels.get("tekton.dev/pipelineTask") or task_run["metadata"]["name"],
        "task_run": task_run["metadata"]["name"],
        "final": labels.get("tekton.dev/memberOf") == "finally",
        "status": outcome(task_run),
        "reason": cond.get("reason") or "",
        "message": cond.get("message") or "",
        "start": status.get("startTime"),
        "end": status.get("completionTime"),
        "duration": seconds_between(status.get("startTime"), status.get("completionTime")),
        "retries": len(status.get("retriesStatus") or []),
        "results": _results(task_run),
    }


def dag_of(run):
    """The run's pipeline tasks with what each waits for (runAfter and result references)."""
    spec = (run.get("status") or {}).get("pipelineSpec") or {}
    nodes = []
    for final, tasks in ((False, spec.get("tasks") or []), (True, spec.get("finally") or [])):
        names = [t["name"] for t in spec.get("tasks") or []]
        for task in tasks:
            after = list(task.get("runAfter") or [])
            if not final:  # finally tasks run after all tasks anyway; their references are no edges
                text = repr(task.get("params") or []) + repr(task.get("when") or [])
                after += [
                    n for n in names if f"$(tasks.{n}." in text and n not in after and n != task["name"]
                ]
            nodes.append({"name": task["name"], "after": after, "final": final})
    return nodes


def summarize(run, task_runs):
    """What the modules return about one run: the run, its tasks in start order, results, DAG."""
    status, metadata = run.get("status") or {}, run["metadata"]
    cond = condition(run)
    order = {node["name"]: index for index, node in enumerate(dag_of(run))}
    tasks = sorted(
        (task_summary(tr) for tr in task_runs),
        key=lambda t: (t["start"] or "~", order.get(t["name"], len(order)), t["name"]),
    )
    tasks += [
        {
            "name": skipped["name"],
            "task_run": None,
            "final": False,
            "status": "skipped",
            "reason": skipped.get("reason") or "",
            "message": "",
            "start": None,
            "end": None,
            "duration": None,
            "retries": 0,
            "results": {},
        }
        for skipped in status.get("skippedTasks") or []
    ]
    images = []
    for task in tasks:
        for key, digest in task["results"].items():
            if key.endswith(IMAGE_DIGEST):
                url = task["results"].get(key[: -len(IMAGE_DIGEST)] + IMAGE_URL)
                images.append(
                    {
                        "task": task["name"],
                        "url": url,
                        "digest": digest,
                        "reference": f"{url}@{digest}" if url else digest,
                    }
                )
    spec_params = {p["name"]: p.get("value") for p in (run.get("spec") or {}).get("params") or []}
    defaults = {
        p["name"]: p.get("default")
        for p in (status.get("pipelineSpec") or {}).get("params") or []
        if "default" in p
    }
    return {
        "name": metadata["name"],
        "namespace": metadata.get("namespace"),
        "pipeline": (metadata.get("labels") or {}).get("tekton.dev/pipeline")
        or ((run.get("spec") or {}).get("pipelineRef") or {}).get("name"),
        "status": outcome(run),
        "reason": cond.get("reason") or "",
        "message": cond.get("message") or "",
        "created": metadata.get("creationTimestamp"),
        "start": status.get("startTime"),
        "end": status.get("completionTime"),
        "duration": seconds_between(status.get("startTime"), status.get("completionTime")),
        "params": {**defaults, **spec_params},
        "tasks": tasks,
        "results": _results(run),
        "task_results": {t["name"]: t["results"] for t in tasks if t["results"]},
        "images": images,
        "dag": dag_of(run),
    }


def failure_of(service, summary, task_runs, *, log_lines):
    """The first failed task: its reason, message, failing step and the last lines of its log."""
    failed = [t for t in summary["tasks"] if t["status"] in ("failed", "timed-out")]
    if not failed:
        return None
    task = min(failed, key=lambda t: t["end"] or "~")
    task_run = next(tr for tr in task_runs if tr["metadata"]["name"] == task["task_run"])
    failure = {key: task[key] for key in ("name", "task_run", "reason", "message")}
    failure.update(task=failure.pop("name"), step=None, exit_code=None, log="")
    for step in (task_run.get("status") or {}).get("steps") or []:
        code = (step.get("terminated") or {}).get("exitCode")
        if code not in (None, 0) and step.get("terminationReason") != "Skipped":
            failure.update(step=step.get("name"), exit_code=code)
            pod = (task_run.get("status") or {}).get("podName")
            try:
                failure["log"] = (
                    service.log(
                        pod,
                        task_run["metadata"]["namespace"],
                        container=step.get("container") or f"step-{step.get('name')}",
                        tail_lines=log_lines,
                    )
                    if pod and log_lines
                    else ""
                )
            except KubeError as exc:
                failure["log_unavailable"] = exc.msg
            break
    return failure


ENDED = {"failed": "failed", "cancelled": "was cancelled", "timed-out": "timed out"}


def failure_sentence(summary, failure):
    """Why the run did not succeed: its reason, the failed task and step, then its log's last lines."""
    text = (
        f"{object_ref('PipelineRun', summary['name'], summary['namespace'])} "
        f"{ENDED.get(summary['status'], summary['status'])} ({summary['reason']}: {summary['message']})"
    )
    if failure:
        step = (
            f', step "{failure["step"]}" exited with code {failure["exit_code"]}' if failure["step"] else ""
        )
        text += (
            f'; task "{failure["task"]}" (TaskRun {failure["task_run"]}) failed{step}: '
            f"{failure['reason']}: {failure['message']}"
        )
        if failure.get("log"):
            text += f". Last lines of its log:\n{failure['log']}"
        elif failure.get("log_unavailable"):
            text += f". Its log could not be read: {failure['log_unavailable']}"
    return text


# -- following a run ----------------------------------------------------------------------------


class ProgressLines:
    """Turns what the watch sees into one line per change of a task or of the run, with the time
    since the run started on the cluster's clock: "build-api running 0:12"."""

    def __init__(self, progress):
        self.progress = progress
        self.said = {}

    def update(self, run, task_runs):
        if run is None:
            return
        origin = (run.get("status") or {}).get("startTime") or run["metadata"].get("creationTimestamp")
        changes = []
        for task_run in task_runs.values():
            task = task_summary(task_run)
            when = task["end"] or task["start"] or task_run["metadata"].get("creationTimestamp")
            changes.append(
                (
                    when or "",
                    task_run["metadata"].get("creationTimestamp") or "",
                    task["name"],
                    task["status"],
                )
            )
        for when, _created, name, state in sorted(changes):
            self._say(name, state, seconds_between(origin, when))
        if is_done(run):
            end = (run.get("status") or {}).get("completionTime")
            self._say(f"run {run['metadata']['name']}", outcome(run), seconds_between(origin, end))

    def _say(self, subject, state, elapsed):
        if state == "pending":
            state = "running"  # created, its pod not started yet: a person sees it as under way
        if self.said.get(subject) != state:
            self.said[subject] = state
            self.progress(f"{subject} {state} {clock(elapsed)}")


def follow_run(service, run, *, timeout, progress, lines=None):
    """Watch the run and its TaskRuns until the run ends or ``timeout`` s pass:
    (run, task runs, ended). When it ended, the TaskRuns are read once more (one LIST), since the
    run's last event may overtake theirs."""
    name, namespace = run["metadata"]["name"], run["metadata"]["namespace"]
    lines = lines or ProgressLines(progress)
    task_runs = {}
    selections = {
        "run": Selection(API, "PipelineRun", namespace, field_selector=f"metadata.name={name}"),
        "tasks": Selection(API, "TaskRun", namespace, label_selector=f"tekton.dev/pipelineRun={name}"),
    }
    for key, event, obj in service.follow(selections, timeout=timeout):
        if key == "run":
            if event == "DELETED":
                raise KubeError(
                    f"{object_ref('PipelineRun', name, namespace)} was deleted while the task "
                    "waited for it to end."
                )
            run = obj
        elif event == "DELETED":
            task_runs.pop(obj["metadata"]["name"], None)
        else:
            task_runs[obj["metadata"]["name"]] = obj
        if is_done(run):  # the run's last word first, its TaskRuns' from one more LIST, then the lines
            final = service.list(API, "TaskRun", namespace, label_selector=f"tekton.dev/pipelineRun={name}")
            task_runs = {tr["metadata"]["name"]: tr for tr in final}
            lines.update(run, task_runs)
            return run, list(task_runs.values()), True
        lines.update(run, task_runs)
    return run, list(task_runs.values()), False


def cancel(service, run, mode):
    """Set spec.status (Cancelled, CancelledRunFinally or StoppedRunFinally); the Change."""

    def mutate(obj):
        obj.setdefault("spec", {})["status"] = mode

    return service.update(API, "PipelineRun", run["metadata"]["name"], run["metadata"]["namespace"], mutate)


# -- retention ----------------------------------------------------------------------------------


def age_seconds(value):
    """keep_since as seconds: an int, or a number with a unit (30m, 12h, 7d, 90s)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    try:
        return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
    except (ValueError, IndexError):
        raise KubeError.invalid(
            "keep_since",
            f"{value!r} is not an age",
            "give seconds, or a number with s, m, h, d or w (e.g. 7d)",
        ) from None


def age_order(run):
    """Sort key, oldest first: creation time (whole seconds), then start and completion times, which
    tell apart runs made in the same second one after the other; then the name."""
    status = run.get("status") or {}
    return (
        run["metadata"].get("creationTimestamp") or "",
        status.get("startTime") or "~",
        status.get("completionTime") or "~",
        run["metadata"]["name"],
    )


def pruner_in_charge(service, namespace):
    """A sentence naming the Tekton Pruner configuration that covers ``namespace``, or None. A
    configuration we may not read counts as absent (nothing can be said about it)."""
    import yaml

    def readable(name, home):
        try:
            return service.get("v1", "ConfigMap", name, home)
        except KubeError as exc:
            if exc.status in (401, 403):
                return None
            raise

    for home in PRUNER_HOMES:
        config = readable(PRUNER_CONFIG, home)
        if config is None:
            continue
        settings = yaml.safe_load((config.get("data") or {}).get("global-config") or "") or {}
        scoped = (settings.get("namespaces") or {}).get(namespace) or {}
        if any(settings.get(k) is not None for k in PRUNER_LIMITS) or any(
            scoped.get(k) is not None for k in PRUNER_LIMITS
        ):
            return (
                f"Tekton Pruner's configuration (ConfigMap {home}/{PRUNER_CONFIG}) prunes runs in "
                f'namespace "{namespace}"'
            )
        if settings.get("enforcedConfigLevel") == "namespace" and readable(
            PRUNER_NAMESPACE_CONFIG, namespace
        ):
            return (
                f"Tekton Pruner's configuration (ConfigMap {namespace}/{PRUNER_NAMESPACE_CONFIG}) "
                "prunes runs there"
            )
    return None


def prune(service, namespace, pipeline, *, keep=None, keep_since=None, now=None):
    """Delete the finished runs of ``pipeline`` beyond the ``keep`` newest or finished longer than
    ``keep_since`` seconds ago (both limits apply), and the PVCs their volumeClaimTemplate
    workspaces left. Running runs are never touched. Returns (changed, pruned runs, pruned PVCs)."""
    runs = service.list(API, "PipelineRun", namespace, label_selector=f"tekton.dev/pipeline={pipeline}")
    finished = sorted(
        (r for r in runs if is_done(r)),
        key=age_order,
        reverse=True,
    )
    now = now or datetime.datetime.now(datetime.UTC)
    doomed = []
    for index, run in enumerate(finished):
        ended = parse_time((run.get("status") or {}).get("completionTime")) or parse_time(
            run["metadata"].get("creationTimestamp")
        )
        too_many = keep is not None and index >= keep
        too_old = keep_since is not None and ended is not None and (now - ended).total_seconds() > keep_since
        if too_many or too_old:
            doomed.append(run)
    if not doomed:
        return False, [], []
    uids = {run["metadata"]["uid"]: run["metadata"]["name"] for run in doomed}
    claims = [
        c
        for c in service.list("v1", "PersistentVolumeClaim", namespace)
        if any(ref.get("uid") in uids for ref in c["metadata"].get("ownerReferences") or [])
    ]
    for run in doomed:
        service.delete(API, "PipelineRun", run["metadata"]["name"], namespace)
    for claim in claims:  # the garbage collector may get there first: deleting is then a no-op
        service.delete("v1", "PersistentVolumeClaim", claim["metadata"]["name"], namespace)
    return True, [r["metadata"]["name"] for r in doomed], [c["metadata"]["name"] for c in claims]


def run_claims(service, run):
    """The PVCs a run's volumeClaimTemplate workspaces made (owned by the run)."""
    uid = run["metadata"].get("uid")
    return [
        c
        for c in service.list("v1", "PersistentVolumeClaim", run["metadata"]["namespace"])
        if any(ref.get("uid") == uid for ref in c["metadata"].get("ownerReferences") or [])
    ]
