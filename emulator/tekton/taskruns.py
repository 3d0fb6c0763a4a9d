"""The TaskRun half of the emulated Tekton controller: resolve the Task, create the Pod, run the
steps on a worker thread through the executor table, and report what Tekton's TaskRun reconciler
reports (conditions, `podName`, `steps`, `results`, times), including cancel and timeout."""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from emulator.kube import exceptions
from emulator.kube.models import ClusterState, RequestContext
from emulator.tekton import reasons as r
from emulator.tekton.executors import ExecutorTable, StepContext, StepOutcome
from emulator.tekton.substitution import Replacements
from emulator.tekton.workspaces import WorkspaceError, WorkspaceStore

CONTROLLER = RequestContext(default_manager="controller")  # the Tekton controller's field manager
RESULTS_PATH = "/tekton/results"
WORKSPACE_PATH = "/workspace"


# ---------------------------------------------------------------------- shared status helpers


def condition(obj_status: dict) -> dict | None:
    for cond in obj_status.get("conditions") or []:
        if cond.get("type") == "Succeeded":
            return cond
    return None


def is_done(obj_status: dict) -> bool:
    cond = condition(obj_status)
    return bool(cond) and cond.get("status") in ("True", "False")


def set_condition(obj_status: dict, status: str, reason: str, message: str, now: str) -> None:
    """knative's SetCondition: a changed condition gets a new lastTransitionTime, an equal one keeps it."""
    current = condition(obj_status)
    wanted = {"type": "Succeeded", "status": status, "reason": reason, "message": message}
    if current and all(current.get(k, "") == v for k, v in wanted.items()):
        return
    entry = {"type": "Succeeded", "status": status, "lastTransitionTime": now, "reason": reason}
    if message:
        entry["message"] = message
    others = [c for c in obj_status.get("conditions") or [] if c.get("type") != "Succeeded"]
    obj_status["conditions"] = [*others, entry]


def parse_time(stamp: str | None) -> datetime.datetime | None:
    if not stamp:
        return None
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def controller_reference(obj: dict) -> dict:
    """kmeta.NewControllerRef: the owner reference Tekton puts on what it creates."""
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def param_values(specs: list[dict], params: list[dict]) -> tuple[dict, list[str]]:
    """Declared params with their values (given, else default) and the names still missing."""
    given = {p.get("name"): p.get("value") for p in params or []}
    values, missing = {}, []
    for spec in specs or []:
        name = spec.get("name")
        if name in given:
            values[name] = given[name]
        elif "default" in spec:
            values[name] = spec["default"]
        else:
            missing.append(name)
    for name, value in given.items():
        values.setdefault(name, value)
    return values, missing


def go_list(names: list[str]) -> str:
    """A Go []string printed with %s / %v: [a b]."""
    return "[" + " ".join(names) + "]"


# ---------------------------------------------------------------------- the execution of one TaskRun


@dataclass
class StepPlan:
    name: str
    container: str
    image: str
    script: str
    command: list[str]
    args: list[str]
    env: dict[str, str]
    working_dir: str


@dataclass
class Execution:
    """One TaskRun's steps running on a worker thread; the loop side reads it under `lock`."""

    namespace: str
    name: str
    uid: str
    pod: str
    plans: list[StepPlan]
    labels: dict
    params: dict
    task: str
    result_specs: list[dict]
    workspaces: dict[str, Path]
    results_dir: Path
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    states: list[dict] = field(default_factory=list)  # Tekton StepState per step
    logs: dict[str, list[str]] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    started: bool = False
    finished: bool = False
    version: int = 0


class TaskRunReconciler:
    def __init__(self, executors: ExecutorTable, store: WorkspaceStore):
        self.executors = executors
        self.store = store
        self._executions: dict[str, Execution] = {}

    # ------------------------------------------------------------------ entry point

    def reconcile(self, state: ClusterState, types) -> bool:
        pending = False
        seen = set()
        for tr in list(state._bucket(types.taskruns).values()):
            if tr["metadata"].get("deletionTimestamp"):
                continue
            seen.add(tr["metadata"]["uid"])
            try:
                pending = self._reconcile_one(state, types, tr) or pending
            except exceptions.ApiError:
                pending = True  # changed meanwhile (409) or not served: try again on the next pass
        for uid, execution in list(self._executions.items()):
            if uid not in seen:  # the TaskRun was deleted (e.g. with its PipelineRun)
                execution.cancelled.set()
                del self._executions[uid]
        return pending

    def close(self) -> None:
        for execution in self._executions.values():
            execution.cancelled.set()
        self._executions.clear()

    def _reconcile_one(self, state: ClusterState, types, tr: dict) -> bool:
        status = copy.deepcopy(tr.get("status") or {})
        if is_done(status):
            self._executions.pop(tr["metadata"]["uid"], None)
            return False
        before = copy.deepcopy(status)
        now = state.clock.stamp()
        name = tr["metadata"]["name"]
        spec = tr.get("spec") or {}
        if not status.get("startTime"):
            status["startTime"] = now
            set_condition(status, "Unknown", r.TR_STARTED, "", now)
        execution = self._executions.get(tr["metadata"]["uid"])
        if spec.get("status") == r.TR_SPEC_CANCELLED:
            message = f'TaskRun "{name}" was cancelled. {spec.get("statusMessage", "")}'
            self._fail(state, types, tr, status, execution, r.TR_CANCELLED, message, now)
        elif self._timed_out(state, spec, status):
            message = f'TaskRun "{name}" failed to finish within "{r.go_duration(self._timeout(spec))}"'
            self._fail(state, types, tr, status, execution, r.TR_TIMEOUT, message, now)
        elif execution is None:
            self._start(state, types, tr, status, now)
        else:
            self._progress(state, types, tr, status, execution, now)
        if status != before:
            self._write_status(state, types.taskruns, tr, status)
        return not is_done(status)

    # ------------------------------------------------------------------ timeouts

    @staticmethod
    def _timeout(spec: dict) -> float:
        if spec.get("timeout") is None:
            return r.DEFAULT_TIMEOUT_SECONDS
        try:
            return r.parse_duration(spec["timeout"])
        except ValueError:
            return r.DEFAULT_TIMEOUT_SECONDS

    def _timed_out(self, state: ClusterState, spec: dict, status: dict) -> bool:
        timeout = self._timeout(spec)
        started = parse_time(status.get("startTime"))
        if not timeout or started is None:
            return False
        return (state.clock.now() - started).total_seconds() > timeout

    # ------------------------------------------------------------------ start: resolve, pod, worker

    def _start(self, state: ClusterState, types, tr: dict, status: dict, now: str) -> None:
        namespace, name = tr["metadata"]["namespace"], tr["metadata"]["name"]
        spec = tr.get("spec") or {}
        task_name = ""
        if spec.get("taskRef"):
            task_name = spec["taskRef"].get("name", "")
            task = state.find(types.tasks, namespace, task_name)
            if task is None:
                message = f'tasks.tekton.dev "{task_name}" not found'
                self._fail(state, types, tr, status, None, r.TR_RESOLUTION_FAILED, message, now)
                return
            task_spec = copy.deepcopy(task.get("spec") or {})
        elif spec.get("taskSpec"):
            task_spec = copy.deepcopy(spec["taskSpec"])
        else:
            message = f'{r.USER_ERROR}TaskRun "{name}" failed: taskRef or taskSpec is required'
            self._fail(state, types, tr, status, None, r.TR_VALIDATION_FAILED, message, now)
            return
        status["taskSpec"] = task_spec
        values, missing = param_values(task_spec.get("params"), spec.get("params"))
        if missing:
            message = (
                f"{r.USER_ERROR}invalid input params for task {task_name}: missing values for these params "
                f"which have no default values: {go_list(missing)}"
            )
            self._fail(state, types, tr, status, None, r.TR_VALIDATION_FAILED, message, now)
            return
        uid = tr["metadata"]["uid"]

        def lookup(kind: str, object_name: str):
            rtype = types.secrets if kind == "Secret" else types.configmaps
            return state.find(rtype, namespace, object_name)

        try:
            workspace_dirs = {
                binding.get("name", ""): self.store.bind(binding, namespace, uid, lookup)
                for binding in spec.get("workspaces") or []
            }
            for declared in task_spec.get("workspaces") or []:
                if declared.get("name") not in workspace_dirs and not declared.get("optional"):
                    raise WorkspaceError(
                        f'{r.USER_ERROR}declared workspace "{declared.get("name")}" is required but has '
                        "not been bound"
                    )
        except WorkspaceError as error:
            self._fail(state, types, tr, status, None, r.TR_VALIDATION_FAILED, str(error), now)
            return
        results_dir = self.store.results_dir(uid)
        host = self._replacements(tr, task_spec, task_name, values, workspace_dirs, results_dir, host=True)
        shown = self._replacements(tr, task_spec, task_name, values, workspace_dirs, results_dir, host=False)
        try:
            plans = [
                self._plan(state, types, namespace, step, index, task_spec, host)
                for index, step in enumerate(task_spec.get("steps") or [])
            ]
            pod_plans = [
                self._plan(state, types, namespace, step, index, task_spec, shown)
                for index, step in enumerate(task_spec.get("steps") or [])
            ]
        except WorkspaceError as error:
            self._fail(state, types, tr, status, None, "CreateContainerConfigError", str(error), now)
            return
        pod_name = r.child_name(name, "-pod")
        labels = dict(tr["metadata"].get("labels") or {})
        if task_name:
            labels.setdefault(r.LABEL_TASK, task_name)
        self._create_pod(state, types, tr, pod_name, pod_plans, labels)
        execution = Execution(
            namespace=namespace,
            name=name,
            uid=uid,
            pod=pod_name,
            plans=plans,
            labels=labels,
            params=values,
            task=task_name,
            result_specs=list(task_spec.get("results") or []),
            workspaces=workspace_dirs,
            results_dir=results_dir,
        )
        execution.states = [step_state(p, "waiting", {"reason": "PodInitializing"}) for p in plans]
        self._executions[uid] = execution
        status["podName"] = pod_name
        status["steps"] = copy.deepcopy(execution.states)
        set_condition(status, "Unknown", r.TR_PENDING_POD, "Pending", now)
        thread = threading.Thread(
            target=self._run_steps, args=(execution, state.clock), name=f"taskrun-{name}", daemon=True
        )
        thread.start()

    def _replacements(self, tr, task_spec, task_name, values, workspace_dirs, results_dir, host: bool):
        rep = Replacements()
        for param_name, value in values.items():
            rep.add_param("params", param_name, value)
        metadata = tr["metadata"]
        rep.strings.update(
            {
                "context.taskRun.name": metadata["name"],
                "context.taskRun.namespace": metadata["namespace"],
                "context.taskRun.uid": metadata["uid"],
                "context.task.name": task_name,
                "context.task.retry-count": "0",
            }
        )
        for result in task_spec.get("results") or []:
            result_name = result.get("name", "")
            where = str(results_dir / result_name) if host else f"{RESULTS_PATH}/{result_name}"
            rep.strings[f"results.{result_name}.path"] = where
        bindings = {b.get("name"): b for b in (tr.get("spec") or {}).get("workspaces") or []}
        for declared in task_spec.get("workspaces") or []:
            ws = declared.get("name", "")
            bound = ws in workspace_dirs
            where = (
                str(workspace_dirs[ws])
                if host and bound
                else declared.get("mountPath") or f"{WORKSPACE_PATH}/{ws}"
            )
            rep.strings[f"workspaces.{ws}.path"] = where if bound else ""
            rep.strings[f"workspaces.{ws}.bound"] = "true" if bound else "false"
            claim = ((bindings.get(ws) or {}).get("persistentVolumeClaim") or {}).get("claimName", "")
            rep.strings[f"workspaces.{ws}.claim"] = claim
            rep.strings[f"workspaces.{ws}.volume"] = ws
        return rep

    def _plan(self, state, types, namespace, step, index, task_spec, rep: Replacements) -> StepPlan:
        template = task_spec.get("stepTemplate") or {}
        merged = {**copy.deepcopy(template), **copy.deepcopy(step)}
        env_entries = {e.get("name"): e for e in template.get("env") or []}
        env_entries.update({e.get("name"): e for e in step.get("env") or []})
        env = {}
        for env_name, entry in env_entries.items():
            if "value" in entry or "valueFrom" not in entry:
                env[env_name] = rep.text(str(entry.get("value", "")))
                continue
            env[env_name] = self._env_from(state, types, namespace, entry["valueFrom"], env_name)
        step_name = merged.get("name") or f"unnamed-{index}"
        return StepPlan(
            name=step_name,
            container=f"step-{step_name}",
            image=rep.text(merged.get("image", "")),
            script=rep.text(merged.get("script", "")),
            command=rep.items(list(merged.get("command") or [])),
            args=rep.items(list(merged.get("args") or [])),
            env=env,
            working_dir=rep.text(merged.get("workingDir", "")),
        )

    @staticmethod
    def _env_from(state, types, namespace, source: dict, env_name: str) -> str:
        import base64

        for key, rtype, kind in (
            ("secretKeyRef", types.secrets, "secret"),
            ("configMapKeyRef", types.configmaps, "configmap"),
        ):
            ref = source.get(key)
            if not ref:
                continue
            obj = state.find(rtype, namespace, ref.get("name", ""))
            data = (obj or {}).get("data") or {}
            if ref.get("key") not in data:
                if ref.get("optional"):
                    return ""
                raise WorkspaceError(
                    f'{kind} "{ref.get("name")}" key "{ref.get("key")}" for env {env_name} not found'
                )
            value = data[ref["key"]]
            return base64.b64decode(value).decode() if kind == "secret" else str(value)
        return ""

    def _create_pod(self, state, types, tr: dict, pod_name: str, plans: list[StepPlan], labels: dict) -> None:
        namespace = tr["metadata"]["namespace"]
        if state.find(types.pods, namespace, pod_name) is not None:
            return
        pod_labels = {
            **labels,
            r.LABEL_TASK_RUN: tr["metadata"]["name"],
            r.LABEL_TASK_RUN_UID: tr["metadata"]["uid"],
            r.LABEL_MANAGED_BY: r.MANAGED_BY,
        }
        containers = []
        for plan in plans:
            container = {"name": plan.container, "image": plan.image}
            if plan.command or plan.script:
                container["command"] = plan.command or ["/tekton/scripts/" + plan.container]
            if plan.args:
                container["args"] = plan.args
            if plan.env:
                container["env"] = [{"name": k, "value": v} for k, v in plan.env.items()]
            if plan.working_dir:
                container["workingDir"] = plan.working_dir
            containers.append(container)
        spec = tr.get("spec") or {}
        body = {
            "metadata": {
                "name": pod_name,
                "namespace": namespace,
                "labels": pod_labels,
                "annotations": dict(tr["metadata"].get("annotations") or {}),
                "ownerReferences": [controller_reference(tr)],
            },
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": spec.get("serviceAccountName") or "default",
                "containers": containers,
            },
        }
        if not body["metadata"]["annotations"]:
            del body["metadata"]["annotations"]
        created = state.create(types.pods, namespace, body, CONTROLLER)
        self._write_pod_status(state, types, created, "Pending", [])

    # ------------------------------------------------------------------ the worker thread

    def _run_steps(self, execution: Execution, clock) -> None:
        def stamp() -> str:
            return clock.stamp()

        try:
            failed = False
            for index, plan in enumerate(execution.plans):
                with execution.lock:
                    if not execution.started:  # all step containers start with the pod
                        execution.started = True
                        start = stamp()
                        execution.states = [
                            step_state(p, "running", {"startedAt": start}) for p in execution.plans
                        ]
                    execution.logs.setdefault(plan.container, [])
                    execution.version += 1
                if execution.cancelled.is_set():
                    return
                if failed:
                    self._terminate(execution, index, 1, r.STEP_ERROR, r.STEP_SKIPPED, stamp(), stamp(), "")
                    continue
                started = stamp()
                before = self._result_files(execution)
                outcome = self._run_one(execution, index, plan, clock)
                if execution.cancelled.is_set():
                    return
                after = self._result_files(execution)
                produced = {k: v for k, v in after.items() if before.get(k) != v}
                produced.update(outcome.results)
                for key, value in outcome.results.items():
                    (execution.results_dir / key).write_text(value)
                message = ""
                if produced:
                    message = json.dumps(
                        [{"key": k, "value": v, "type": 1} for k, v in sorted(produced.items())],
                        separators=(",", ":"),
                    )
                reason = r.STEP_COMPLETED if outcome.exit_code == 0 else r.STEP_ERROR
                self._terminate(
                    execution, index, outcome.exit_code, reason, reason, started, stamp(), message
                )
                failed = outcome.exit_code != 0
            with execution.lock:
                execution.results = self._result_files(execution)
        finally:
            with execution.lock:
                execution.finished = True
                execution.version += 1
            self.store.release(execution.uid)

    def _run_one(self, execution: Execution, index: int, plan: StepPlan, clock) -> StepOutcome:
        def log(text: str) -> None:
            with execution.lock:
                execution.logs.setdefault(plan.container, []).append(text)
                execution.version += 1

        context = StepContext(
            namespace=execution.namespace,
            task_run=execution.name,
            pipeline_run=execution.labels.get(r.LABEL_PIPELINE_RUN, ""),
            pipeline_task=execution.labels.get(r.LABEL_PIPELINE_TASK, ""),
            task=execution.task,
            step=plan.name,
            index=index,
            image=plan.image,
            script=plan.script,
            command=list(plan.command),
            args=list(plan.args),
            env=dict(plan.env),
            working_dir=plan.working_dir,
            params=copy.deepcopy(execution.params),
            workspaces=dict(execution.workspaces),
            results_dir=execution.results_dir,
            result_names=[spec.get("name", "") for spec in execution.result_specs],
            log=log,
            cancelled=execution.cancelled,
            clock=lambda: clock.now().timestamp(),
        )
        executor = self.executors.choose(plan.image, plan.script)
        try:
            outcome = executor.run(context)
        except Exception as error:  # an executor's bug fails its step, visibly, not the controller
            log(f"[emulator] executor {executor.name!r} failed: {type(error).__name__}: {error}\n")
            return StepOutcome(exit_code=1)
        return outcome if isinstance(outcome, StepOutcome) else StepOutcome(exit_code=1)

    @staticmethod
    def _terminate(execution, index, exit_code, reason, termination_reason, started, finished, message):
        container_id = hashlib.sha256(f"{execution.uid}/{index}".encode()).hexdigest()
        terminated = {"exitCode": exit_code, "reason": reason}
        if message:
            terminated["message"] = message
        terminated.update(
            {"startedAt": started, "finishedAt": finished, "containerID": f"containerd://{container_id}"}
        )
        with execution.lock:
            plan = execution.plans[index]
            execution.states[index] = step_state(plan, "terminated", terminated, termination_reason)
            execution.version += 1

    @staticmethod
    def _result_files(execution: Execution) -> dict[str, str]:
        found = {}
        if execution.results_dir.is_dir():
            for path in sorted(execution.results_dir.iterdir()):
                if path.is_file():
                    found[path.name] = path.read_text()
        return found

    # ------------------------------------------------------------------ progress and completion

    def _progress(self, state, types, tr, status, execution: Execution, now: str) -> None:
        with execution.lock:
            states = copy.deepcopy(execution.states)
            logs = {container: "".join(parts) for container, parts in execution.logs.items()}
            started, finished = execution.started, execution.finished
            results = dict(execution.results)
        for container, text in logs.items():
            state.pod_logs[(execution.namespace, execution.pod, container)] = text
        status["steps"] = states
        pod = state.find(types.pods, execution.namespace, execution.pod)
        if not finished:
            if started:
                set_condition(status, "Unknown", r.TR_RUNNING, r.TR_RUNNING_MESSAGE, now)
                if pod is not None:
                    self._write_pod_status(state, types, pod, "Running", states)
            return
        failed = next(
            (
                s
                for s in states
                if (s.get("terminated") or {}).get("exitCode", 0) != 0
                and s.get("terminationReason") != r.STEP_SKIPPED
            ),
            None,
        )
        if len([s for s in states if "terminated" in s]) < len(states):
            failed = failed or {"container": "", "terminated": {"exitCode": 1, "reason": "Error"}}
        if failed:
            term = failed["terminated"]
            message = f'"{failed["container"]}" exited with code {term["exitCode"]}: {term["reason"]}'
            ignored = (tr["metadata"].get("annotations") or {}).get(r.ANNOTATION_ON_ERROR) == "continue"
            set_condition(
                status, "False", r.TR_FAILURE_IGNORED if ignored else r.TR_STEP_FAILED, message, now
            )
        else:
            set_condition(status, "True", r.TR_SUCCEEDED, r.TR_SUCCEEDED_MESSAGE, now)
        status["completionTime"] = now
        declared = {spec.get("name"): spec.get("type", "string") for spec in execution.result_specs}
        task_results = []
        for result_name, value in results.items():
            if result_name not in declared:
                continue
            kind = declared[result_name]
            shown = value
            if kind in ("array", "object"):
                try:
                    shown = json.loads(value)
                except ValueError:
                    shown = value
            task_results.append({"name": result_name, "type": kind, "value": shown})
        if task_results:
            status["results"] = task_results
        if pod is not None:
            self._write_pod_status(state, types, pod, "Failed" if failed else "Succeeded", states)
        self._executions.pop(execution.uid, None)

    def _fail(self, state, types, tr, status, execution, reason, message, now) -> None:
        """Tekton's failTaskRun: the condition, completionTime, unfinished steps terminated with
        the reason, the pod deleted, and the worker told to stop."""
        set_condition(status, "False", reason, message, now)
        status["completionTime"] = now
        pod_name = status.get("podName", "")
        if execution is not None:
            execution.cancelled.set()
            with execution.lock:
                status["steps"] = copy.deepcopy(execution.states)
            self._executions.pop(execution.uid, None)
        steps = []
        for step in status.get("steps") or []:
            if "running" in step or "waiting" in step:
                started = (step.get("running") or {}).get("startedAt") or tr["metadata"].get(
                    "creationTimestamp"
                )
                terminated = {
                    "exitCode": 1,
                    "reason": reason,
                    "message": f"Step {step['name']} terminated as pod {pod_name} is terminated",
                    "startedAt": started,
                    "finishedAt": now,
                }
                step = step_state(step, "terminated", terminated, reason)
            steps.append(step)
        if steps:
            status["steps"] = steps
        if pod_name and state.find(types.pods, tr["metadata"]["namespace"], pod_name) is not None:
            state.delete(types.pods, tr["metadata"]["namespace"], pod_name, CONTROLLER, "Background")

    # ------------------------------------------------------------------ writes

    @staticmethod
    def _write_status(state: ClusterState, rtype, obj: dict, status: dict) -> None:
        # Tekton's TaskRunStatus.PodName has no omitempty, so every status it writes carries it (""
        # before a pod exists), and the released CRD requires it.
        status.setdefault("podName", "")
        state.update(
            rtype,
            obj["metadata"]["namespace"],
            obj["metadata"]["name"],
            {**obj, "status": status},
            CONTROLLER,
            subresource="status" if rtype.status_subresource else "",
        )

    @staticmethod
    def _write_pod_status(state, types, pod: dict, phase: str, states: list[dict]) -> None:
        containers = []
        images = {c["name"]: c.get("image", "") for c in pod["spec"].get("containers") or []}
        for st in states:
            entry_state = {k: st[k] for k in ("waiting", "running", "terminated") if k in st}
            running = "running" in st
            containers.append(
                {
                    "name": st["container"],
                    "image": images.get(st["container"], ""),
                    "imageID": "",
                    "ready": running,
                    "restartCount": 0,
                    "started": running,
                    "state": entry_state,
                }
            )
        status = copy.deepcopy(pod.get("status") or {})
        status["phase"] = phase
        if containers:
            status["containerStatuses"] = containers
        status.setdefault("startTime", state.clock.stamp())
        status.setdefault("qosClass", "BestEffort")
        if status == (pod.get("status") or {}):
            return
        state.update(
            types.pods,
            pod["metadata"]["namespace"],
            pod["metadata"]["name"],
            {**pod, "status": status},
            RequestContext(default_manager="kubelet"),
            subresource="status",
        )


def step_state(step, key: str, value: dict, termination_reason: str = "") -> dict:
    """A Tekton StepState in its JSON field order: the container state, name, container,
    terminationReason. `step` is a StepPlan or an existing StepState."""
    name = step.name if isinstance(step, StepPlan) else step["name"]
    container = step.container if isinstance(step, StepPlan) else step["container"]
    entry = {key: value, "name": name, "container": container}
    if termination_reason:
        entry["terminationReason"] = termination_reason
    return entry
