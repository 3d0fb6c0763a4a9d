"""The PipelineRun half of the emulated Tekton controller: Tekton v1.15's PipelineRun reconciler
(pkg/reconciler/pipelinerun) in the emulator's terms. Each pass over a PipelineRun that is not done:
resolve the Pipeline and its Tasks and validate the run (failing with Tekton's reasons and
messages), work out each PipelineTask's state from its TaskRun, cancel / stop / time out as asked,
create the TaskRuns whose turn has come (DAG order, then `finally`), and write the status the way
Tekton does (condition, childReferences, skippedTasks, results, times)."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field

from emulator.kube import exceptions
from emulator.kube.models import ClusterState
from emulator.tekton import reasons as r
from emulator.tekton.dag import Graph, GraphError
from emulator.tekton.substitution import Replacements, pipeline_task_references, result_references, variables
from emulator.tekton.taskruns import (
    CONTROLLER,
    controller_reference,
    go_list,
    is_done,
    parse_time,
    set_condition,
)


class RunFailed(Exception):
    """The PipelineRun cannot run: Tekton's reason and message."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class PipelineTaskState:
    """One PipelineTask of a run (Tekton's ResolvedPipelineTask)."""

    task: dict  # the PipelineTask
    final: bool
    task_spec: dict
    task_name: str  # the Task's name when referenced, "" for an embedded taskSpec
    run_name: str
    run: dict | None = None

    @property
    def name(self) -> str:
        return self.task["name"]

    @property
    def condition(self) -> dict:
        for cond in ((self.run or {}).get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Succeeded":
                return cond
        return {}

    @property
    def scheduled(self) -> bool:
        return self.run is not None

    @property
    def successful(self) -> bool:
        return self.condition.get("status") == "True"

    @property
    def failure(self) -> bool:
        return self.condition.get("status") == "False"

    @property
    def cancelled(self) -> bool:
        return self.failure and self.condition.get("reason") == r.TR_CANCELLED

    @property
    def cancelled_for_timeout(self) -> bool:
        return (
            self.cancelled
            and (self.run.get("spec") or {}).get("statusMessage") == r.TR_CANCELLED_BY_PIPELINE_TIMEOUT
        )

    @property
    def running(self) -> bool:
        return self.scheduled and not (self.successful or self.failure)

    @property
    def results(self) -> dict:
        return {
            result.get("name"): result.get("value")
            for result in ((self.run or {}).get("status") or {}).get("results") or []
        }


@dataclass
class Facts:
    """What one pass knows about a run (Tekton's PipelineRunFacts)."""

    tasks: dict[str, PipelineTaskState]
    graph: Graph
    finally_graph: Graph
    spec_status: str
    timed_out: bool
    tasks_timed_out: bool
    finally_timed_out: bool
    replacements: Replacements
    validation_failed: dict[str, str] = field(default_factory=dict)
    _skips: dict[str, str] = field(default_factory=dict)

    def dag(self) -> list[PipelineTaskState]:
        return [t for t in self.tasks.values() if not t.final]

    def finals(self) -> list[PipelineTaskState]:
        return [t for t in self.tasks.values() if t.final]

    @property
    def stopping(self) -> bool:
        return any(
            (t.failure or t.name in self.validation_failed) and t.task.get("onError") != "continue"
            for t in self.dag()
        )

    def parents_done(self, t: PipelineTaskState) -> bool:
        return t.final or all(self.done(self.tasks[p]) for p in self.graph.parents[t.name])

    def done(self, t: PipelineTaskState) -> bool:
        return t.successful or t.failure or bool(self.skip(t))

    def dag_done(self) -> bool:
        return all(self.done(t) for t in self.dag())

    def skip(self, t: PipelineTaskState) -> str:
        """Why `t` is skipped ("" when it is not): Tekton's Skip and IsFinallySkipped."""
        if t.name not in self._skips:
            self._skips[t.name] = ""  # guards against re-entry while computing
            self._skips[t.name] = self._finally_skip(t) if t.final else self._dag_skip(t)
        return self._skips[t.name]

    def _dag_skip(self, t: PipelineTaskState) -> str:
        if t.scheduled or t.name in self.validation_failed:
            return ""
        if self.stopping:
            return r.SKIP_STOPPING
        if self.spec_status == r.SPEC_CANCELLED_RUN_FINALLY:
            return r.SKIP_GRACEFULLY_CANCELLED
        if self.spec_status == r.SPEC_STOPPED_RUN_FINALLY:
            return r.SKIP_GRACEFULLY_STOPPED
        parents_done = self.parents_done(t)
        if parents_done and self.when_false(t):
            return r.SKIP_WHEN
        for parent in self.graph.parents[t.name]:
            reason = self.skip(self.tasks[parent])
            if reason and reason != r.SKIP_WHEN:
                return r.SKIP_PARENT
        if parents_done and self.timed_out:
            return r.SKIP_PIPELINE_TIMEOUT
        if parents_done and self.tasks_timed_out:
            return r.SKIP_TASKS_TIMEOUT
        return ""

    def _finally_skip(self, t: PipelineTaskState) -> str:
        if t.scheduled or not self.dag_done():
            return ""
        if self.missing_results(t):
            return r.SKIP_MISSING_RESULTS
        if self.when_false(t):
            return r.SKIP_WHEN
        if self.timed_out:
            return r.SKIP_PIPELINE_TIMEOUT
        if self.finally_timed_out:
            return r.SKIP_FINALLY_TIMEOUT
        return ""

    def missing_results(self, t: PipelineTaskState) -> bool:
        return any(
            ref_task not in self.tasks or ref_result not in self.tasks[ref_task].results
            for ref_task, ref_result in pipeline_task_references(t.task)
        )

    def result_replacements(self) -> Replacements:
        rep = Replacements()
        for t in self.tasks.values():
            for result_name, value in t.results.items():
                rep.add_param(f"tasks.{t.name}.results", result_name, value)
        return rep

    def status_replacements(self) -> Replacements:
        """$(tasks.<name>.status) and $(tasks.status), which `finally` tasks may read."""
        rep = Replacements()
        for t in self.dag():
            rep.strings[f"tasks.{t.name}.status"] = (
                r.TR_SUCCEEDED if t.successful else r.TR_FAILED if t.failure else "None"
            )
        aggregate = "None"
        if self.dag_done():
            aggregate = r.PR_SUCCEEDED
            for t in self.dag():
                if t.failure:
                    aggregate = r.PR_FAILED
                    break
                if self.skip(t):
                    aggregate = r.PR_COMPLETED
        rep.strings["tasks.status"] = aggregate
        return rep

    def when_false(self, t: PipelineTaskState) -> bool:
        expressions = t.task.get("when") or []
        if not expressions:
            return False
        rep = self.replacements.merged(self.result_replacements()).merged(self.status_replacements())
        for expression in expressions:
            if "input" not in expression:
                continue  # CEL expressions are not evaluated by the emulator
            value = rep.text(str(expression.get("input", "")))
            values = [str(v) for v in rep.items(list(expression.get("values") or []))]
            operator = expression.get("operator", "in")
            if (value in values) != (operator == "in"):
                return True
        return False


class PipelineRunReconciler:
    def __init__(self):
        # Called as listener(namespace, name, condition, when) right after a run's final status is
        # stored (so its watch event is out), `when` the controller's clock then (sub-second,
        # unlike the condition's lastTransitionTime): the benchmarks time waiting from it.
        self.finished_listeners = []

    def reconcile(self, state: ClusterState, types) -> bool:
        pending = False
        for pr in list(state._bucket(types.pipelineruns).values()):
            if pr["metadata"].get("deletionTimestamp"):
                continue
            try:
                pending = self._reconcile_one(state, types, pr) or pending
            except exceptions.ApiError:
                pending = True  # changed meanwhile: the next pass sees the new version
        return pending

    def _reconcile_one(self, state: ClusterState, types, pr: dict) -> bool:
        status = copy.deepcopy(pr.get("status") or {})
        if is_done(status):
            return False
        before = copy.deepcopy(status)
        now = state.clock.stamp()
        spec = pr.get("spec") or {}
        name = pr["metadata"]["name"]
        pr = self._propagate_pipeline_label(state, types, pr)
        if not status.get("startTime") and spec.get("status") != r.SPEC_PENDING:
            status["startTime"] = now
            set_condition(status, "Unknown", r.PR_STARTED, "", now)
        if spec.get("status") == r.SPEC_CANCELLED:
            for child in self._children(state, types, pr, status):
                self._cancel_task_run(state, types, child, r.TR_CANCELLED_BY_PIPELINE)
            set_condition(status, "False", r.PR_CANCELLED, f'PipelineRun "{name}" was cancelled', now)
            status["completionTime"] = now
        else:
            try:
                self._run(state, types, pr, status, now)
            except RunFailed as failed:
                set_condition(status, "False", failed.reason, failed.message, now)
                status["completionTime"] = now
        if status != before:
            state.update(
                types.pipelineruns,
                pr["metadata"]["namespace"],
                name,
                {**pr, "status": status},
                CONTROLLER,
                subresource="status" if types.pipelineruns.status_subresource else "",
            )
            if is_done(status):
                when = state.clock.now()
                condition = next(c for c in status["conditions"] if c.get("type") == "Succeeded")
                for listener in list(self.finished_listeners):
                    listener(pr["metadata"]["namespace"], name, dict(condition), when)
        return not is_done(status)

    # ------------------------------------------------------------------ resolution and validation

    def _propagate_pipeline_label(self, state, types, pr: dict) -> dict:
        """Tekton labels a run with its Pipeline's name (tekton.dev/pipeline)."""
        labels = pr["metadata"].get("labels") or {}
        if r.LABEL_PIPELINE in labels:
            return pr
        spec = pr.get("spec") or {}
        ref = (spec.get("pipelineRef") or {}).get("name")
        value = ref or pr["metadata"].get("generateName") or pr["metadata"]["name"]
        if not ref and pr["metadata"].get("generateName"):
            value = value[:-1] if value.endswith("-") else value
        body = copy.deepcopy(pr)
        body["metadata"].setdefault("labels", {})[r.LABEL_PIPELINE] = value
        updated, _ = state.update(
            types.pipelineruns, pr["metadata"]["namespace"], pr["metadata"]["name"], body, CONTROLLER
        )
        return state.find(types.pipelineruns, pr["metadata"]["namespace"], pr["metadata"]["name"]) or updated

    def _pipeline(self, state, types, pr: dict, status: dict) -> tuple[str, dict]:
        namespace, name = pr["metadata"]["namespace"], pr["metadata"]["name"]
        spec = pr.get("spec") or {}
        ref = (spec.get("pipelineRef") or {}).get("name")
        if status.get("pipelineSpec"):  # stored on the first pass: the source of truth afterwards
            return ref or name, status["pipelineSpec"]
        if ref:
            pipeline = state.find(types.pipelines, namespace, ref)
            if pipeline is None:
                raise RunFailed(
                    r.PR_COULDNT_GET_PIPELINE,
                    f"Error retrieving pipeline for pipelinerun {namespace}/{name}: error when getting "
                    "Pipeline "
                    f"for PipelineRun {name}: tekton client cannot get pipeline {ref} from local cluster: "
                    f'pipelines.tekton.dev "{ref}" not found',
                )
            return ref, copy.deepcopy(pipeline.get("spec") or {})
        if spec.get("pipelineSpec"):
            return name, copy.deepcopy(spec["pipelineSpec"])
        raise RunFailed(
            r.PR_COULDNT_GET_PIPELINE,
            f"Error retrieving pipeline for pipelinerun {namespace}/{name}: pipelineRun {name} not providing "
            "PipelineRef or PipelineSpec",
        )

    @staticmethod
    def _validate_params(pr: dict, pipeline: str, pipeline_spec: dict) -> dict:
        namespace, name = pr["metadata"]["namespace"], pr["metadata"]["name"]
        given = {p.get("name"): p.get("value") for p in (pr.get("spec") or {}).get("params") or []}
        declared = pipeline_spec.get("params") or []
        missing = [p.get("name") for p in declared if "default" not in p and p.get("name") not in given]
        if missing:
            raise RunFailed(
                r.PR_PARAMETER_MISSING,
                f"{r.USER_ERROR}PipelineRun {namespace}/{name} is missing some parameters required by "
                "Pipeline "
                f"{namespace}/{pipeline}: pipelineRun missing parameters: {go_list(missing)}",
            )
        wrong = []
        for p in declared:
            if p.get("name") in given:
                value = given[p["name"]]
                kind = (
                    "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "string"
                )
                if kind != p.get("type", "array" if isinstance(p.get("default"), list) else "string"):
                    wrong.append(p["name"])
        if wrong:
            raise RunFailed(
                r.PR_PARAMETER_TYPE_MISMATCH,
                f"{r.USER_ERROR}PipelineRun {namespace}/{name} parameters have mismatching types with "
                "Pipeline "
                f"{namespace}/{pipeline}'s parameters: parameters have inconsistent types : {go_list(wrong)}",
            )
        values = {p.get("name"): p.get("default") for p in declared if "default" in p}
        values.update(given)
        return values

    @staticmethod
    def _validate_workspaces(pr: dict, pipeline: str, pipeline_spec: dict) -> None:
        namespace, name = pr["metadata"]["namespace"], pr["metadata"]["name"]
        bound = {w.get("name") for w in (pr.get("spec") or {}).get("workspaces") or []}
        for ws in pipeline_spec.get("workspaces") or []:
            if not ws.get("optional") and ws.get("name") not in bound:
                raise RunFailed(
                    r.PR_INVALID_WORKSPACE_BINDING,
                    f"{r.USER_ERROR}PipelineRun {namespace}/{name} doesn't bind Pipeline "
                    f"{namespace}/{pipeline}'s "
                    f'Workspaces correctly: pipeline requires workspace with name "{ws.get("name")}" be '
                    "provided by pipelinerun",
                )

    def _resolve_tasks(
        self, state, types, pr, pipeline, pipeline_spec, status
    ) -> dict[str, PipelineTaskState]:
        namespace, name = pr["metadata"]["namespace"], pr["metadata"]["name"]
        known_runs = {c.get("pipelineTaskName"): c.get("name") for c in status.get("childReferences") or []}
        resolved: dict[str, PipelineTaskState] = {}
        for final, tasks in (
            (False, pipeline_spec.get("tasks") or []),
            (True, pipeline_spec.get("finally") or []),
        ):
            for task in tasks:
                run_name = known_runs.get(task["name"]) or r.child_name(name, "-" + task["name"])
                run = state.find(types.taskruns, namespace, run_name)
                if task.get("taskRef"):
                    ref = task["taskRef"].get("name", "")
                    stored = ((run or {}).get("status") or {}).get("taskSpec")
                    found = state.find(types.tasks, namespace, ref) if stored is None else None
                    if stored is None and found is None:
                        raise RunFailed(
                            r.PR_COULDNT_GET_TASK,
                            f"Pipeline {namespace}/{pipeline} can't be Run; it contains Tasks that don't "
                            "exist: "
                            f'Couldn\'t retrieve Task "{ref}": tasks.tekton.dev "{ref}" not found',
                        )
                    task_spec = stored if stored is not None else copy.deepcopy(found.get("spec") or {})
                    resolved[task["name"]] = PipelineTaskState(task, final, task_spec, ref, run_name, run)
                elif task.get("taskSpec"):
                    task_spec = {
                        k: v
                        for k, v in task["taskSpec"].items()
                        if k not in ("metadata", "apiVersion", "kind")
                    }
                    resolved[task["name"]] = PipelineTaskState(task, final, task_spec, "", run_name, run)
                else:
                    raise RunFailed(
                        r.PR_FAILED_VALIDATION,
                        f"{r.USER_ERROR}PipelineRun {namespace}/{name} can't be Run; couldn't resolve all "
                        "references: "
                        f'PipelineTask "{task["name"]}" must specify one of TaskRef, TaskSpec, PipelineRef, '
                        "or "
                        "PipelineSpec",
                    )
        for t in resolved.values():
            given = {p.get("name") for p in t.task.get("params") or []}
            missing = [
                p.get("name")
                for p in t.task_spec.get("params") or []
                if "default" not in p and p.get("name") not in given
            ]
            if missing and not t.scheduled:
                raise RunFailed(
                    r.PR_FAILED_VALIDATION,
                    f"{r.USER_ERROR}Validation failed for pipelinerun {name} with error invalid input params "
                    "for task "
                    f"{t.task_name}: missing values for these params which have no default values: "
                    f"{go_list(missing)}",
                )
        return resolved

    @staticmethod
    def _validate_result_references(pr, pipeline_spec, tasks: dict[str, PipelineTaskState]) -> None:
        def problem(ref_task: str, ref_result: str) -> str:
            if ref_task not in tasks:
                return f'referenced pipeline task "{ref_task}" does not exist'
            declared = {res.get("name") for res in tasks[ref_task].task_spec.get("results") or []}
            if ref_result not in declared:
                return f'"{ref_result}" is not a named result returned by pipeline task "{ref_task}"'
            return ""

        for t in tasks.values():
            for ref_task, ref_result in pipeline_task_references(t.task):
                message = problem(ref_task, ref_result)
                if message:
                    raise RunFailed(
                        r.PR_INVALID_TASK_RESULT_REFERENCE,
                        f'invalid result reference in pipeline task "{t.name}": {message}',
                    )
        for result in pipeline_spec.get("results") or []:
            for ref_task, ref_result in result_references(result.get("value")):
                message = problem(ref_task, ref_result)
                if message:
                    raise RunFailed(
                        r.PR_INVALID_PIPELINE_RESULT_REFERENCE,
                        f'Failed to resolve pipeline result reference for "{pr["metadata"]["name"]}" with '
                        "error "
                        f'invalid pipeline result "{result.get("name")}": {message}',
                    )

    # ------------------------------------------------------------------ one pass over a run

    def _run(self, state, types, pr: dict, status: dict, now: str) -> None:
        namespace, name = pr["metadata"]["namespace"], pr["metadata"]["name"]
        spec = pr.get("spec") or {}
        if spec.get("status") == r.SPEC_PENDING:
            set_condition(status, "Unknown", r.PR_PENDING, f'PipelineRun "{name}" is pending', now)
            return
        pipeline, pipeline_spec = self._pipeline(state, types, pr, status)
        status["pipelineSpec"] = pipeline_spec
        try:
            graph = Graph(pipeline_spec.get("tasks") or [])
        except GraphError as error:
            raise RunFailed(
                r.PR_INVALID_GRAPH,
                f"{r.USER_ERROR}PipelineRun {namespace}/{name}'s Pipeline DAG is invalid: {error}",
            ) from None
        try:
            finally_graph = Graph(pipeline_spec.get("finally") or [], with_dependencies=False)
        except GraphError as error:
            raise RunFailed(
                r.PR_INVALID_GRAPH,
                f"{r.USER_ERROR}PipelineRun {namespace}/{name}'s Pipeline DAG is invalid for finally clause: "
                f"{error}",
            ) from None
        values = self._validate_params(pr, pipeline, pipeline_spec)
        self._validate_workspaces(pr, pipeline, pipeline_spec)
        tasks = self._resolve_tasks(state, types, pr, pipeline, pipeline_spec, status)
        if not any(t.scheduled for t in tasks.values()):
            self._validate_result_references(pr, pipeline_spec, tasks)

        rep = Replacements()
        for param_name, value in values.items():
            rep.add_param("params", param_name, value)
        rep.strings.update(
            {
                "context.pipelineRun.name": name,
                "context.pipelineRun.namespace": namespace,
                "context.pipelineRun.uid": pr["metadata"]["uid"],
                "context.pipeline.name": pipeline,
            }
        )
        timeouts = spec.get("timeouts") or {}
        pipeline_timeout = _seconds(timeouts.get("pipeline"), r.DEFAULT_TIMEOUT_SECONDS)
        tasks_timeout = _seconds(timeouts.get("tasks"), None)
        finally_timeout = _seconds(timeouts.get("finally"), None)
        if finally_timeout is None and "pipeline" in timeouts and tasks_timeout and pipeline_timeout:
            finally_timeout = pipeline_timeout - tasks_timeout
        clock_now = state.clock.now()
        elapsed = (clock_now - parse_time(status["startTime"])).total_seconds()
        finally_started = parse_time(status.get("finallyStartTime"))
        facts = Facts(
            tasks=tasks,
            graph=graph,
            finally_graph=finally_graph,
            spec_status=spec.get("status", ""),
            timed_out=bool(pipeline_timeout) and elapsed > pipeline_timeout,
            tasks_timed_out=bool(tasks_timeout) and elapsed > tasks_timeout,
            finally_timed_out=bool(finally_timeout)
            and finally_started is not None
            and (clock_now - finally_started).total_seconds() > finally_timeout,
            replacements=rep,
        )

        # Graceful cancel: the running DAG tasks are cancelled; finally still runs.
        if facts.spec_status == r.SPEC_CANCELLED_RUN_FINALLY:
            for t in facts.dag():
                if t.running:
                    self._cancel_task_run(state, types, t.run, r.TR_CANCELLED_BY_PIPELINE)
        if not status.get("finallyStartTime"):
            if facts.tasks_timed_out:
                for t in facts.dag():
                    if t.running:
                        self._cancel_task_run(state, types, t.run, r.TR_CANCELLED_BY_PIPELINE_TIMEOUT)
        elif facts.finally_timed_out:
            for t in facts.finals():
                if t.running:
                    self._cancel_task_run(state, types, t.run, r.TR_CANCELLED_BY_PIPELINE_TIMEOUT)

        self._schedule(state, types, pr, status, facts, now)
        facts._skips.clear()

        if facts.timed_out:
            for t in tasks.values():
                if t.running:
                    self._cancel_task_run(state, types, t.run, r.TR_CANCELLED_BY_PIPELINE_TIMEOUT)
        cond_status, reason, message = self._condition(pr, facts, pipeline_timeout, tasks_timeout)
        set_condition(status, cond_status, reason, message, now)
        children = []
        for t in tasks.values():
            if t.scheduled:
                child = {
                    "apiVersion": "tekton.dev/v1",
                    "kind": "TaskRun",
                    "name": t.run_name,
                    "pipelineTaskName": t.name,
                }
                if t.task.get("when"):
                    child["whenExpressions"] = t.task["when"]
                children.append(child)
        if children:
            status["childReferences"] = children
        skipped = []
        for t in tasks.values():
            reason_skipped = facts.skip(t)
            if reason_skipped:
                entry = {"name": t.name, "reason": reason_skipped}
                if t.task.get("when") and (not t.final or reason_skipped == r.SKIP_WHEN):
                    entry["whenExpressions"] = t.task["when"]
                skipped.append(entry)
        if skipped:
            status["skippedTasks"] = skipped
        else:
            status.pop("skippedTasks", None)
        if cond_status in ("True", "False"):
            status["completionTime"] = now
            results = self._pipeline_results(pipeline_spec, facts)
            if results:
                status["results"] = results

    def _schedule(self, state, types, pr, status, facts: Facts, now: str) -> None:
        """Create the TaskRuns whose turn has come: DAG tasks whose parents are done, unless the run
        is stopping; then, once the DAG is done, the `finally` tasks."""
        next_tasks: list[PipelineTaskState] = []
        if not (
            facts.stopping or facts.spec_status in (r.SPEC_CANCELLED_RUN_FINALLY, r.SPEC_STOPPED_RUN_FINALLY)
        ):
            done = {t.name for t in facts.dag() if facts.done(t)}
            for task_name in facts.graph.ready(done):
                t = facts.tasks[task_name]
                if t.scheduled or facts.skip(t):
                    continue
                problem = self._missing_result(facts, t)
                if problem:
                    facts.validation_failed[t.name] = problem
                    next_tasks = []
                    break
                next_tasks.append(t)
            facts._skips.clear()
        if facts.dag_done():
            for t in facts.finals():
                if not t.scheduled:
                    if not status.get("finallyStartTime"):
                        status["finallyStartTime"] = now
                    next_tasks.append(t)
        for t in next_tasks:
            if facts.skip(t):
                continue
            t.run = self._create_task_run(state, types, pr, facts, t)

    @staticmethod
    def _missing_result(facts: Facts, t: PipelineTaskState) -> str:
        for ref_task, ref_result in pipeline_task_references(t.task):
            parent = facts.tasks.get(ref_task)
            if parent is not None and parent.successful and ref_result not in parent.results:
                return (
                    f'task "{ref_task}" completed successfully but did not emit the result "{ref_result}", '
                    f'which is referenced by task "{t.name}"'
                )
        return ""

    # ------------------------------------------------------------------ TaskRuns

    def _create_task_run(self, state, types, pr, facts: Facts, t: PipelineTaskState) -> dict:
        namespace = pr["metadata"]["namespace"]
        existing = state.find(types.taskruns, namespace, t.run_name)
        if existing is not None:
            return existing
        spec = pr.get("spec") or {}
        rep = facts.replacements.merged(facts.result_replacements())
        if t.final:
            rep = rep.merged(facts.status_replacements())
        rep.strings["context.pipelineTask.retries"] = str(t.task.get("retries", 0))
        params = [
            {"name": p.get("name"), "value": rep.param_value(p.get("value"))}
            for p in t.task.get("params") or []
        ]
        labels = {k: v for k, v in (pr["metadata"].get("labels") or {}).items()}
        labels.update(
            {
                r.LABEL_PIPELINE_RUN: pr["metadata"]["name"],
                r.LABEL_PIPELINE_RUN_UID: pr["metadata"]["uid"],
                r.LABEL_PIPELINE_TASK: t.name,
                r.LABEL_MEMBER_OF: "finally" if t.final else "tasks",
            }
        )
        embedded_metadata = (t.task.get("taskSpec") or {}).get("metadata") or {}
        labels.update(embedded_metadata.get("labels") or {})
        if t.task_name:
            labels[r.LABEL_TASK] = t.task_name
        labels.setdefault(r.LABEL_MANAGED_BY, r.MANAGED_BY)  # the webhook's default
        annotations = {
            k: v
            for k, v in (pr["metadata"].get("annotations") or {}).items()
            if k != "kubectl.kubernetes.io/last-applied-configuration"
        }
        annotations.update(embedded_metadata.get("annotations") or {})
        if t.task.get("onError") == "continue":
            annotations[r.ANNOTATION_ON_ERROR] = "continue"
        run_spec = self._task_run_spec(spec, t)
        body_spec: dict = {"params": params} if params else {}
        body_spec["serviceAccountName"] = run_spec.get("serviceAccountName") or (
            (spec.get("taskRunTemplate") or {}).get("serviceAccountName") or "default"
        )
        if t.task_name:
            body_spec["taskRef"] = copy.deepcopy(t.task["taskRef"])
            body_spec["taskRef"].setdefault("kind", "Task")
        else:
            # Propagated params, results and context: an embedded taskSpec sees the Pipeline's
            # values for the variables it does not declare itself.
            scoped = Replacements(
                {k: v for k, v in rep.strings.items() if not _declared_param(k, t.task_spec)},
                {k: v for k, v in rep.arrays.items() if not _declared_param(k, t.task_spec)},
            )
            body_spec["taskSpec"] = scoped.apply(copy.deepcopy(t.task_spec))
        timeout = self._task_timeout(spec, t, run_spec)
        body_spec["timeout"] = timeout
        workspaces = self._task_workspaces(state, types, pr, t)
        if workspaces:
            body_spec["workspaces"] = workspaces
        body = {
            "metadata": {
                "name": t.run_name,
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [controller_reference(pr)],
            },
            "spec": body_spec,
        }
        if annotations:
            body["metadata"]["annotations"] = annotations
        return state.create(types.taskruns, namespace, body, CONTROLLER)

    @staticmethod
    def _task_run_spec(spec: dict, t: PipelineTaskState) -> dict:
        for entry in spec.get("taskRunSpecs") or []:
            if entry.get("pipelineTaskName") == t.name:
                return entry
        return {}

    @staticmethod
    def _task_timeout(spec: dict, t: PipelineTaskState, run_spec: dict) -> str:
        """pipelineRunTimeout: the task's own timeout, else the run's tasks / finally timeout when it
        exceeds the default, else the default the webhook writes (60 minutes)."""
        if run_spec.get("timeout"):
            return run_spec["timeout"]
        if t.task.get("timeout"):
            return t.task["timeout"]
        timeouts = spec.get("timeouts") or {}
        bound = timeouts.get("finally" if t.final else "tasks")
        if bound is not None:
            seconds = _seconds(bound, None)
            if seconds == 0 or (seconds or 0) > r.DEFAULT_TIMEOUT_SECONDS:
                return bound
        return r.go_duration(r.DEFAULT_TIMEOUT_SECONDS)

    def _task_workspaces(self, state, types, pr: dict, t: PipelineTaskState) -> list[dict]:
        bindings = {b.get("name"): b for b in (pr.get("spec") or {}).get("workspaces") or []}
        result = []
        for ws in t.task.get("workspaces") or []:
            pipeline_ws = ws.get("workspace") or ws.get("name")
            binding = bindings.get(pipeline_ws)
            if binding is None:
                continue  # optional and unbound: the Task sees it unbound
            sub_path = "/".join(p for p in (binding.get("subPath"), ws.get("subPath")) if p)
            if binding.get("volumeClaimTemplate"):
                claim = self._claim_for_template(state, types, pr, binding)
                entry = {"name": ws.get("name"), "persistentVolumeClaim": {"claimName": claim}}
            else:
                entry = {k: copy.deepcopy(v) for k, v in binding.items() if k != "subPath"}
                entry["name"] = ws.get("name")
            if sub_path:
                entry["subPath"] = sub_path
            result.append(entry)
        return result

    @staticmethod
    def _claim_for_template(state, types, pr: dict, binding: dict) -> str:
        """Tekton's PVC for a volumeClaimTemplate workspace: "<template name or pvc>-<sha256 of
        workspace name + run uid, 10 hex>", created once per run, owned by the run."""
        template = binding["volumeClaimTemplate"]
        prefix = (template.get("metadata") or {}).get("name") or "pvc"
        identity = hashlib.sha256((binding.get("name", "") + pr["metadata"]["uid"]).encode()).hexdigest()[:10]
        claim = f"{prefix}-{identity}"
        namespace = pr["metadata"]["namespace"]
        if state.find(types.pvcs, namespace, claim) is None:
            metadata = copy.deepcopy(template.get("metadata") or {})
            metadata.update(
                {"name": claim, "namespace": namespace, "ownerReferences": [controller_reference(pr)]}
            )
            state.create(
                types.pvcs,
                namespace,
                {"metadata": metadata, "spec": copy.deepcopy(template.get("spec") or {})},
                CONTROLLER,
            )
        return claim

    @staticmethod
    def _cancel_task_run(state, types, task_run: dict, message: str) -> None:
        current = state.find(types.taskruns, task_run["metadata"]["namespace"], task_run["metadata"]["name"])
        if current is None or is_done(current.get("status") or {}):
            return
        if (current.get("spec") or {}).get("status") == r.TR_SPEC_CANCELLED:
            return
        body = copy.deepcopy(current)
        body["spec"]["status"] = r.TR_SPEC_CANCELLED
        body["spec"]["statusMessage"] = message
        state.update(
            types.taskruns, body["metadata"]["namespace"], body["metadata"]["name"], body, CONTROLLER
        )

    def _children(self, state, types, pr: dict, status: dict) -> list[dict]:
        namespace = pr["metadata"]["namespace"]
        found = []
        for child in status.get("childReferences") or []:
            run = state.find(types.taskruns, namespace, child.get("name", ""))
            if run is not None:
                found.append(run)
        return found

    # ------------------------------------------------------------------ status

    @staticmethod
    def _condition(pr: dict, facts: Facts, pipeline_timeout, tasks_timeout) -> tuple[str, str, str]:
        """Tekton's GetPipelineConditionStatus."""
        name = pr["metadata"]["name"]
        has_finals = bool(facts.finals())
        finals_done = all(facts.done(t) for t in facts.finals())
        if facts.timed_out:
            return (
                "False",
                r.PR_TIMEOUT,
                f'PipelineRun "{name}" failed to finish within "{r.go_duration(pipeline_timeout)}"',
            )
        if facts.tasks_timed_out and (not has_finals or finals_done):
            return (
                "False",
                r.PR_TIMEOUT,
                f'PipelineRun "{name}" failed due to tasks failed to finish within '
                f'"{r.go_duration(tasks_timeout)}"',
            )
        succeeded = failed = cancelled = ignored = incomplete = skipped = timeout_skipped = invalid = 0
        for t in facts.tasks.values():
            reason = facts.skip(t)
            if t.successful:
                succeeded += 1
            elif t.cancelled_for_timeout:
                failed += 1
            elif t.cancelled:
                cancelled += 1
            elif t.failure:
                if t.task.get("onError") == "continue":
                    ignored += 1
                else:
                    failed += 1
            elif t.name in facts.validation_failed:
                invalid += 1
            elif reason in (r.SKIP_PIPELINE_TIMEOUT, r.SKIP_TASKS_TIMEOUT, r.SKIP_FINALLY_TIMEOUT):
                skipped += 1
                timeout_skipped += 1
            elif reason:
                skipped += 1
            else:
                incomplete += 1
        completed = succeeded + failed + cancelled + ignored
        if incomplete == 0:
            if ignored:
                message = (
                    f"Tasks Completed: {completed} (Failed: {failed + ignored} (Ignored: {ignored}), "
                    f"Cancelled {cancelled}), Skipped: {skipped}"
                )
            else:
                message = (
                    f"Tasks Completed: {completed} (Failed: {failed + ignored}, Cancelled {cancelled}), "
                    f"Skipped: {skipped}"
                )
            if invalid:
                message += f", Failed Validation: {invalid}"
                errors = "; ".join(facts.validation_failed[k] for k in sorted(facts.validation_failed))
                if len(errors) > 1024:
                    errors = errors[:1024] + "..."
                message += f" ({errors})"
            status, reason = "True", r.PR_COMPLETED if skipped else r.PR_SUCCEEDED
            if invalid:
                status, reason = "False", r.PR_FAILED_VALIDATION
            elif failed or timeout_skipped:
                status, reason = "False", r.PR_FAILED
            elif facts.spec_status in (r.SPEC_CANCELLED_RUN_FINALLY, r.SPEC_STOPPED_RUN_FINALLY):
                status, reason, message = "False", r.PR_CANCELLED, f'PipelineRun "{name}" was cancelled'
            elif cancelled:
                status, reason = "False", r.PR_CANCELLED
            return status, reason, message
        reason = r.PR_RUNNING
        if facts.tasks_timed_out and has_finals and not finals_done:
            reason = r.PR_TIMEOUT_RUNNING_FINALLY
        elif facts.spec_status == r.SPEC_CANCELLED_RUN_FINALLY:
            reason = r.PR_CANCELLED_RUNNING_FINALLY
        elif facts.spec_status == r.SPEC_STOPPED_RUN_FINALLY:
            reason = r.PR_STOPPED_RUNNING_FINALLY
        elif cancelled or (failed and finals_done):
            reason = r.PR_STOPPING
        return (
            "Unknown",
            reason,
            f"Tasks Completed: {completed} (Failed: {failed}, Cancelled {cancelled}), Incomplete: "
            f"{incomplete}, "
            f"Skipped: {skipped}",
        )

    @staticmethod
    def _pipeline_results(pipeline_spec: dict, facts: Facts) -> list[dict]:
        rep = facts.result_replacements().merged(facts.status_replacements())
        results = []
        for result in pipeline_spec.get("results") or []:
            value = result.get("value")
            substituted = rep.param_value(value) if isinstance(value, str) else rep.apply(value)
            if any(v.startswith("tasks.") for v in variables(substituted)):
                continue  # a result that cannot be resolved (its task failed or was skipped) is left out
            results.append({"name": result.get("name"), "value": substituted})
        return results


def _seconds(text, default):
    if text is None:
        return default
    try:
        return r.parse_duration(text)
    except ValueError:
        return default


def _declared_param(key: str, task_spec: dict) -> bool:
    declared = {p.get("name") for p in task_spec.get("params") or []}
    if not key.startswith("params."):
        return False
    rest = key[len("params.") :]
    return any(rest == d or rest.startswith(d + "[") or rest.startswith(d + ".") for d in declared)
