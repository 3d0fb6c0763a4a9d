"""Offline validation of Tekton Pipelines tekton.dev/v1 definitions (Tasks, Pipelines and,
optionally, PipelineRuns), before anything is sent to a cluster. Standard library only.

    problems, warnings = validate(objects, feature_flags=None, known_tasks=())

`problems` are what Tekton's webhook or the run itself would refuse; `warnings` are where a run
would likely fail later. Both are lists of `Finding(ref, path, message)`: `ref` is "Kind/name",
`path` the field path inside the object (`spec.tasks[2].runAfter[0]`), `message` one sentence
saying what is wrong and how to fix it; `str(finding)` joins the three. Every problem in every
object is reported in one call, object by object (for a Pipeline: names, then what each task runs
and its params and workspaces, then references and runAfter, then the DAG).

`feature_flags` is the data of the cluster's `feature-flags` ConfigMap; when None, Tekton
v1.15.0's defaults are assumed and features they do not enable are reported as warnings instead
of problems (the cluster may enable them). `known_tasks` names Tasks that exist on the cluster but
are not in `objects` (their params and results are then not checked).
"""

from __future__ import annotations

import re
from collections import namedtuple

API_VERSION = "tekton.dev/v1"
DEFAULT_TASK_TIMEOUT_SECONDS = 3600  # Tekton's default-timeout-minutes: 60
RESULT_LIMIT_BYTES = 4096  # termination-message limit shared by all results of a TaskRun pod
DEFAULT_FEATURE_FLAGS = {  # Tekton v1.15.0 config/config-feature-flags.yaml, the keys used here
    "enable-api-fields": "beta",
    "coschedule": "workspaces",
    "results-from": "termination-message",
    "enable-param-enum": "false",
    "enable-cel-in-whenexpression": "false",
    "enable-step-actions": "true",
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PARAM_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.-]*$")
_RESULT_NAME = re.compile(r"^([a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?)$")
# Tekton substitutes $(NAMESPACE.…) for these namespaces only; anything else, such as the shell's
# $(date +%s), is left as written.
_VARIABLE = re.compile(
    r"(?<!\$)\$\(\s*((?:params|tasks|workspaces|context|results|steps|step|credentials|artifacts)"
    r"[.\[][^()\s]*)\s*\)"
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_DURATION_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_LEVELS = {"stable": 0, "beta": 1, "alpha": 2}


class Finding(namedtuple("Finding", "ref path message")):
    __slots__ = ()

    def __str__(self):
        return f"{self.ref} {self.path}: {self.message}" if self.path else f"{self.ref}: {self.message}"


def validate(objects, feature_flags=None, known_tasks=()):
    """Validate `objects` together; returns (problems, warnings), lists of Finding."""
    run = _Validation(objects, feature_flags, known_tasks)
    run.all()
    return run.problems, run.warnings


def parse_duration(text):
    """Seconds in a Go duration ("1h30m", "90s", "0"); None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    if text == "0":
        return 0.0
    parts = _DURATION_PART.findall(text)
    if "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_SECONDS[u] for n, u in parts)


class _Validation:
    def __init__(self, objects, feature_flags, known_tasks):
        self.objects = list(objects or [])
        self.flags_known = feature_flags is not None
        self.flags = dict(DEFAULT_FEATURE_FLAGS, **(feature_flags or {}))
        self.known_tasks = set(known_tasks or ())
        self.problems = []
        self.warnings = []
        self.tasks = {}  # name -> spec of the Tasks in `objects`
        self.pipelines = {}
        for obj in self.objects:
            if isinstance(obj, dict) and isinstance(obj.get("spec"), dict):
                name = (obj.get("metadata") or {}).get("name")
                if obj.get("kind") == "Task":
                    self.tasks[name] = obj["spec"]
                elif obj.get("kind") == "Pipeline":
                    self.pipelines[name] = obj["spec"]

    # ------------------------------------------------------------------ reporting

    def problem(self, ref, path, message):
        self.problems.append(Finding(ref, path, message))

    def warning(self, ref, path, message):
        self.warnings.append(Finding(ref, path, message))

    def gated(self, ref, path, feature, level=None, flag=None):
        """A feature that needs `enable-api-fields` >= level, or the boolean `flag`."""
        if level is not None:
            current = self.flags.get("enable-api-fields", "beta")
            if _LEVELS.get(current, 1) >= _LEVELS[level]:
                return
            fix = f'set enable-api-fields to "{level}" in the feature-flags ConfigMap'
            what = f'{feature} is a {level} feature and enable-api-fields is "{current}"'
        else:
            if str(self.flags.get(flag, "false")).lower() == "true":
                return
            fix = f'set {flag} to "true" in the feature-flags ConfigMap'
            what = f"{feature} needs the feature flag {flag}"
        if self.flags_known:
            self.problem(ref, path, f"{what}; {fix}, or do not use it.")
        else:
            self.warning(ref, path, f"{what} by Tekton's defaults; {fix} unless the cluster already does.")

    # ------------------------------------------------------------------ objects

    def all(self):
        names = {}
        for index, obj in enumerate(self.objects):
            if not isinstance(obj, dict):
                self.problem(f"objects[{index}]", "", "is not a mapping; give each definition as a dict.")
                continue
            kind = obj.get("kind")
            name = (obj.get("metadata") or {}).get("name")
            ref = f"{kind}/{name}"
            if kind not in ("Task", "Pipeline", "PipelineRun"):
                self.problem(
                    ref, "kind", f'"{kind}" is not validated here; give Task, Pipeline or PipelineRun.'
                )
                continue
            if obj.get("apiVersion") != API_VERSION:
                self.problem(ref, "apiVersion", f'is "{obj.get("apiVersion")}"; write {API_VERSION}.')
            self.name(ref, "metadata.name", name, "the object")
            if (kind, name) in names:
                self.problem(ref, "metadata.name", "is defined twice in this list; keep one definition.")
            names[(kind, name)] = True
            spec = obj.get("spec")
            if not isinstance(spec, dict):
                self.problem(ref, "spec", "is missing or not a mapping; give the definition under spec.")
                continue
            if kind == "Task":
                self.task(ref, "spec", spec)
            elif kind == "Pipeline":
                self.pipeline(ref, spec)
            else:
                self.pipeline_run(ref, spec)

    def name(self, ref, path, name, what):
        if not isinstance(name, str) or not name:
            self.problem(ref, path, f"{what} has no name; give a lowercase DNS-1123 label such as build-api.")
        elif len(name) > 63 or not _DNS_LABEL.match(name):
            self.problem(
                ref,
                path,
                f'"{name}" is not a valid name: use at most 63 lowercase letters, digits and "-", '
                "starting and ending with a letter or digit.",
            )

    def declared(self, ref, base, items, what, pattern=None, rule=""):
        """(path, name, item) of each entry of a list of named declarations (params, results,
        workspaces) whose name is valid; a name that breaks ``pattern`` (explained by ``rule``) or
        is declared again is reported here, in one wording for every kind."""
        seen = set()
        for n, item in enumerate(items or []):
            path = f"{base}[{n}]"
            name = item.get("name") if isinstance(item, dict) else None
            if pattern is not None and (not isinstance(name, str) or not pattern.match(name)):
                self.problem(ref, f"{path}.name", f'"{name}" is not a valid {what} name; {rule}')
                continue
            if name in seen:
                self.problem(ref, f"{path}.name", f'{what} "{name}" is declared twice; declare it once.')
            seen.add(name)
            yield path, name, item

    # ------------------------------------------------------------------ Task

    def task(self, ref, base, spec):
        params = self.param_specs(ref, f"{base}.params", spec.get("params"))
        results = {}
        result_rule = 'use letters, digits, "-" and "_", starting and ending with a letter or digit.'
        for path, name, result in self.declared(ref, f"{base}.results", spec.get("results"), "result",
                                                _RESULT_NAME, result_rule):
            kind = result.get("type", "string")
            results[name] = kind
            if kind in ("array", "object") and self.flags.get("results-from") != "sidecar-logs":
                self.warning(
                    ref,
                    path,
                    f'{kind} result "{name}" is written as JSON into the {RESULT_LIMIT_BYTES}-byte '
                    "termination message all results share; keep it small or set results-from to "
                    '"sidecar-logs".',
                )
        workspaces = {name: ws for _path, name, ws in
                      self.declared(ref, f"{base}.workspaces", spec.get("workspaces"), "workspace")}
        steps = spec.get("steps")
        if not steps:
            self.problem(ref, f"{base}.steps", "is empty; give the Task at least one step.")
        seen = set()
        for n, step in enumerate(steps or []):
            path = f"{base}.steps[{n}]"
            if not isinstance(step, dict):
                self.problem(ref, path, "is not a mapping; describe the step with name, image and script.")
                continue
            name = step.get("name")
            if not name:
                self.problem(ref, f"{path}.name", "is missing; give every step a name (a DNS-1123 label).")
            else:
                self.name(ref, f"{path}.name", name, "the step")
                if name in seen:
                    self.problem(
                        ref, f"{path}.name", f'step name "{name}" is used twice; make step names unique.'
                    )
                seen.add(name)
            if "ref" in step:
                self.gated(ref, f"{path}.ref", "a StepAction reference", flag="enable-step-actions")
            elif not step.get("image"):
                self.problem(ref, f"{path}.image", "is missing; give the step an image (pinned by digest).")
            if step.get("script") and step.get("command"):
                self.problem(ref, path, "has both script and command; keep one of them.")
            if str(step.get("script", "")).startswith("#!win"):
                self.gated(ref, f"{path}.script", "a Windows script", level="alpha")
            for stream in ("stdoutConfig", "stderrConfig"):
                if stream in step:
                    self.gated(ref, f"{path}.{stream}", stream, level="alpha")
            if step.get("workspaces"):
                self.gated(ref, f"{path}.workspaces", "step workspaces", level="beta")
        for n, sidecar in enumerate(spec.get("sidecars") or []):
            if isinstance(sidecar, dict) and sidecar.get("workspaces"):
                self.gated(ref, f"{base}.sidecars[{n}].workspaces", "sidecar workspaces", level="beta")
        scope = _TaskScope(params, results, workspaces)
        for n, step in enumerate(steps or []):
            if isinstance(step, dict):
                self.task_container(ref, f"{base}.steps[{n}]", step, scope)
        for n, sidecar in enumerate(spec.get("sidecars") or []):
            if isinstance(sidecar, dict):
                self.task_container(ref, f"{base}.sidecars[{n}]", sidecar, scope)
        if isinstance(spec.get("stepTemplate"), dict):
            self.task_container(ref, f"{base}.stepTemplate", spec["stepTemplate"], scope)
        return params, results, workspaces

    def param_specs(self, ref, base, specs):
        params = {}
        rule = 'start with a letter or "_" and use letters, digits, "_", "-" and ".".'
        for path, name, param in self.declared(ref, base, specs, "param", _PARAM_NAME, rule):
            kind = param.get("type", _type_of(param.get("default"), "string"))
            if kind not in ("string", "array", "object"):
                self.problem(
                    ref, f"{path}.type", f'"{kind}" is not a param type; use string, array or object.'
                )
            elif "default" in param and _type_of(param["default"], kind) != kind:
                self.problem(
                    ref,
                    f"{path}.default",
                    f'is a {_type_of(param["default"], "?")} but param "{name}" '
                    f"is of type {kind}; give a {kind} default or change the type.",
                )
            if param.get("enum"):
                self.gated(ref, f"{path}.enum", "a param enum", flag="enable-param-enum")
            params[name] = {"type": kind, "has_default": "default" in param}
        return params

    def task_container(self, ref, path, container, scope):
        for field, value in _strings(container, path):
            isolated_element = bool(re.match(rf"^{re.escape(path)}\.(args|command)\[\d+\]$", field))
            in_script = field == f"{path}.script"
            for expression, whole in _references(value):
                self.task_reference(ref, field, expression, whole and isolated_element, in_script, scope)

    def task_reference(self, ref, field, expression, isolated, in_script, scope):
        head, _dot, rest = expression.partition(".")
        if head == "params" or expression.startswith("params["):
            name, accessor = _param_accessor(expression)
            param = scope.params.get(name)
            if param is None:
                self.problem(
                    ref,
                    field,
                    f'$({expression}) names param "{name}", which the Task does not declare; '
                    "declare it under spec.params or fix the name.",
                )
                return
            self.param_use(ref, field, expression, name, param["type"], accessor, isolated, in_script)
        elif head == "results":
            name = rest.split(".")[0]
            if name not in scope.results:
                self.problem(
                    ref,
                    field,
                    f'$({expression}) names result "{name}", which the Task does not declare; '
                    "declare it under spec.results.",
                )
        elif head == "workspaces":
            name, _dot, attribute = rest.partition(".")
            if name not in scope.workspaces:
                self.problem(
                    ref,
                    field,
                    f'$({expression}) names workspace "{name}", which the Task does not declare; '
                    "declare it under spec.workspaces.",
                )
            elif attribute not in ("path", "bound", "claim", "volume"):
                self.problem(
                    ref,
                    field,
                    f"$({expression}) is not a workspace variable; use "
                    f"$(workspaces.{name}.path), .bound, .claim or .volume.",
                )
        elif head == "context":
            if rest not in (
                "taskRun.name",
                "taskRun.namespace",
                "taskRun.uid",
                "task.name",
                "task.retry-count",
            ):
                self.problem(
                    ref,
                    field,
                    f"$({expression}) is not a Task context variable; use context.taskRun.name, "
                    ".namespace, .uid, context.task.name or context.task.retry-count.",
                )
        elif head in ("steps", "step", "credentials", "artifacts"):
            return  # resolved by Tekton from the step's own environment
        else:
            self.problem(
                ref, field, f"$({expression}) is not a Tekton variable; write $$( to keep it literal."
            )

    def param_use(self, ref, field, expression, name, kind, accessor, isolated, in_script):
        if accessor == "[*]":
            if kind == "string":
                self.problem(
                    ref,
                    field,
                    f'$({expression}) expands string param "{name}" as an array; '
                    f"write $(params.{name}) or declare the param as type array.",
                )
            elif in_script:
                self.problem(
                    ref,
                    field,
                    f'$({expression}) expands {kind} param "{name}" in a script, where only '
                    'strings can go; pass it through args and read "$@" instead.',
                )
            elif not isolated:
                self.problem(
                    ref,
                    field,
                    f"$({expression}) must be a whole element of args or command; "
                    "move it into its own list item.",
                )
        elif accessor.startswith("["):
            if kind != "array":
                self.problem(
                    ref,
                    field,
                    f'$({expression}) indexes {kind} param "{name}"; only array params take an index.',
                )
        elif accessor.startswith("."):
            if kind != "object":
                self.problem(
                    ref,
                    field,
                    f'$({expression}) reads a key of {kind} param "{name}"; only object params have keys.',
                )
        elif kind != "string":
            self.problem(
                ref,
                field,
                f'$({expression}) uses {kind} param "{name}" where a string goes; write '
                f"$(params.{name}[*]) as a whole args/command element"
                + (f" or $(params.{name}[0])." if kind == "array" else f" or $(params.{name}.KEY)."),
            )

    # ------------------------------------------------------------------ Pipeline

    def pipeline(self, ref, spec):
        params = self.param_specs(ref, "spec.params", spec.get("params"))
        declared_ws = {name: ws for _path, name, ws in
                       self.declared(ref, "spec.workspaces", spec.get("workspaces"), "workspace")}
        tasks = [("spec.tasks", n, t) for n, t in enumerate(spec.get("tasks") or [])]
        final = [("spec.finally", n, t) for n, t in enumerate(spec.get("finally") or [])]
        if not tasks:
            self.problem(ref, "spec.tasks", "is empty; give the Pipeline at least one task.")
        names = {}
        for base, n, task in tasks + final:
            name = task.get("name") if isinstance(task, dict) else None
            self.name(ref, f"{base}[{n}].name", name, "the pipeline task")
            if name in names:
                self.problem(
                    ref,
                    f"{base}[{n}].name",
                    f'pipeline task "{name}" is defined twice; '
                    "make task names unique across tasks and finally.",
                )
            names[name] = (base, task)
        dag_names = {task.get("name") for _base, _n, task in tasks if isinstance(task, dict)}
        edges = {}
        task_results = {}
        for base, n, task in tasks + final:
            if not isinstance(task, dict):
                continue
            path = f"{base}[{n}]"
            task_results[task.get("name")] = self.pipeline_task_target(ref, path, task)
        for base, n, task in tasks + final:
            if not isinstance(task, dict):
                continue
            path = f"{base}[{n}]"
            is_final = base == "spec.finally"
            deps = edges.setdefault(task.get("name"), [])
            for m, after in enumerate(task.get("runAfter") or []):
                if is_final:
                    self.problem(
                        ref, f"{path}.runAfter", "finally tasks run after all tasks; remove runAfter."
                    )
                    break
                if after not in dag_names:
                    self.problem(
                        ref,
                        f"{path}.runAfter[{m}]",
                        f'names task "{after}", which is not in spec.tasks; '
                        f"use one of: {', '.join(sorted(n for n in dag_names if n))}.",
                    )
                elif after == task.get("name"):
                    self.problem(ref, f"{path}.runAfter[{m}]", "names the task itself; remove it.")
                else:
                    deps.append(after)
            scope = _PipelineScope(params, declared_ws, dag_names, task_results, is_final, task.get("name"))
            for field, value in _strings(_referencing_parts(task), path):
                for expression, whole in _references(value):
                    dep = self.pipeline_reference(ref, field, expression, scope, whole)
                    if dep and not is_final:
                        deps.append(dep)
            self.pipeline_task_gates(ref, path, task)
            self.pipeline_task_workspaces(ref, path, task, declared_ws)
        for n, result in enumerate(spec.get("results") or []):
            scope = _PipelineScope(params, declared_ws, dag_names, task_results, True, None, in_results=True)
            for field, value in _strings(result.get("value"), f"spec.results[{n}].value"):
                for expression, _whole in _references(value):
                    self.pipeline_reference(ref, field, expression, scope)
        cycle = _find_cycle(edges)
        if cycle:
            self.problem(
                ref,
                "spec.tasks",
                f"the tasks form a cycle, {' → '.join(cycle)}, through runAfter or "
                "result references; break it so the tasks form a DAG.",
            )

    def pipeline_task_target(self, ref, path, task):
        """Check what the pipeline task runs; returns its results by name (None when unknown)."""
        if "pipelineRef" in task or "pipelineSpec" in task:
            field = "pipelineRef" if "pipelineRef" in task else "pipelineSpec"
            self.gated(ref, f"{path}.{field}", "a Pipeline in a Pipeline", level="alpha")
            return None
        if isinstance(task.get("taskSpec"), dict):
            params, results, workspaces = self.task(ref, f"{path}.taskSpec", task["taskSpec"])
            self.pipeline_task_params(ref, path, task, params)
            self.pipeline_task_bindings(ref, path, task, workspaces)
            return results
        task_ref = task.get("taskRef")
        if not isinstance(task_ref, dict):
            self.problem(ref, path, "has neither taskRef nor taskSpec; name the Task to run in taskRef.name.")
            return None
        if task_ref.get("resolver") or task_ref.get("params"):
            self.gated(ref, f"{path}.taskRef", "remote resolution (taskRef.resolver)", level="beta")
            return None
        name = task_ref.get("name")
        if name in self.tasks:
            spec = self.tasks[name]
            params = _declared_params(spec.get("params"))
            self.pipeline_task_params(ref, path, task, params)
            workspaces = {w.get("name"): w for w in spec.get("workspaces") or [] if isinstance(w, dict)}
            self.pipeline_task_bindings(ref, path, task, workspaces)
            return {
                r.get("name"): r.get("type", "string")
                for r in spec.get("results") or []
                if isinstance(r, dict)
            }
        if name not in self.known_tasks:
            self.problem(
                ref,
                f"{path}.taskRef.name",
                f'names Task "{name}", which is neither in this list nor known '
                "to exist; add its definition or fix the name.",
            )
        return None

    def pipeline_task_params(self, ref, path, task, declared):
        given = {}
        for n, param in enumerate(task.get("params") or []):
            name = param.get("name") if isinstance(param, dict) else None
            given[name] = n
            if name not in declared:
                self.warning(
                    ref,
                    f"{path}.params[{n}]",
                    f'param "{name}" is not declared by the Task and is ignored; '
                    "remove it or declare it in the Task.",
                )
                continue
            value = param.get("value")
            wanted = declared[name]["type"]
            if (
                not (isinstance(value, str) and _VARIABLE.fullmatch(value.strip()))
                and _type_of(value, wanted) != wanted
            ):
                self.problem(
                    ref,
                    f"{path}.params[{n}].value",
                    f"is a {_type_of(value, '?')} but the Task declares "
                    f'param "{name}" as {wanted}; give a {wanted} value.',
                )
        for name, param in declared.items():
            if not param["has_default"] and name not in given and name not in _matrix_params(task):
                self.problem(
                    ref,
                    f"{path}.params",
                    f'gives no value for param "{name}", which the Task requires '
                    "(it has no default); add it to params.",
                )

    def pipeline_task_bindings(self, ref, path, task, workspaces):
        bound = {}
        for n, binding in enumerate(task.get("workspaces") or []):
            name = binding.get("name") if isinstance(binding, dict) else None
            bound[name] = n
            if name not in workspaces:
                self.problem(
                    ref,
                    f"{path}.workspaces[{n}].name",
                    f'binds workspace "{name}", which the Task does not '
                    f"declare; use one of: {', '.join(sorted(str(w) for w in workspaces)) or 'none'}.",
                )
        for name, declaration in workspaces.items():
            if name not in bound and not declaration.get("optional"):
                self.problem(
                    ref,
                    f"{path}.workspaces",
                    f'does not bind workspace "{name}", which the Task requires; '
                    "bind it to a Pipeline workspace.",
                )

    def pipeline_task_workspaces(self, ref, path, task, declared):
        for n, binding in enumerate(task.get("workspaces") or []):
            if not isinstance(binding, dict):
                continue
            target = binding.get("workspace", binding.get("name"))
            if target not in declared:
                self.problem(
                    ref,
                    f"{path}.workspaces[{n}].workspace",
                    f'names Pipeline workspace "{target}", which '
                    "is not declared in spec.workspaces; declare it or fix the name.",
                )

    def pipeline_task_gates(self, ref, path, task):
        if "matrix" in task:
            self.gated(ref, f"{path}.matrix", "matrix", level="beta")
        if "onError" in task:
            self.gated(ref, f"{path}.onError", "a pipeline task's onError", level="beta")
        for n, when in enumerate(task.get("when") or []):
            if isinstance(when, dict) and when.get("cel"):
                self.gated(
                    ref,
                    f"{path}.when[{n}].cel",
                    "CEL in when expressions",
                    flag="enable-cel-in-whenexpression",
                )

    def pipeline_reference(self, ref, field, expression, scope, whole=False):
        """Check one $(…) in a pipeline task; returns the task it depends on, if any."""
        head, _dot, rest = expression.partition(".")
        if head == "params" or expression.startswith("params["):
            name, accessor = _param_accessor(expression)
            param = scope.params.get(name)
            if param is None:
                self.problem(
                    ref,
                    field,
                    f'$({expression}) names param "{name}", which the Pipeline does not '
                    "declare; declare it under spec.params or fix the name.",
                )
            elif accessor == "[*]" and param["type"] == "string":
                self.problem(
                    ref,
                    field,
                    f'$({expression}) expands string param "{name}" as an array; write '
                    f"$(params.{name}) or declare the param as type array.",
                )
            elif accessor == "[*]" and not (_whole_value(field) and whole):
                self.problem(
                    ref,
                    field,
                    f"$({expression}) must be the whole value of a param; give it as "
                    f'value: "$(params.{name}[*])".',
                )
            elif accessor == "" and param["type"] != "string":
                self.problem(
                    ref,
                    field,
                    f'$({expression}) uses {param["type"]} param "{name}" where a string goes; '
                    f"pass $(params.{name}[*]) as the whole value of a param.",
                )
            return None
        if head == "tasks":
            parts = rest.split(".")
            if parts == ["status"] or (len(parts) == 2 and parts[1] == "status"):
                if not scope.is_final or scope.in_results:
                    self.problem(
                        ref,
                        field,
                        f"$({expression}) is only available in finally tasks; move the task "
                        "to finally or drop the reference.",
                    )
                elif parts[0] != "status" and parts[0] not in scope.dag_names:
                    self.problem(
                        ref, field, f'$({expression}) names task "{parts[0]}", which is not in spec.tasks.'
                    )
                return None
            if len(parts) >= 3 and parts[1] == "results":
                task, result = parts[0], re.sub(r"\[.*$", "", parts[2])
                if task == scope.current:
                    self.problem(
                        ref,
                        field,
                        f"$({expression}) reads a result of the task itself; a task can only "
                        "use results of tasks that ran before it.",
                    )
                    return None
                if task not in scope.dag_names:
                    self.problem(
                        ref,
                        field,
                        f'$({expression}) names task "{task}", which is not in spec.tasks; '
                        f"use one of: {', '.join(sorted(n for n in scope.dag_names if n))}.",
                    )
                    return None
                results = scope.task_results.get(task)
                if results is not None and result not in results:
                    self.problem(
                        ref,
                        field,
                        f'$({expression}) names result "{result}", which task "{task}" does not '
                        f"declare; use one of: {', '.join(sorted(results)) or 'none'}.",
                    )
                return task
            self.problem(
                ref, field, f"$({expression}) is not a task variable; use $(tasks.TASK.results.RESULT)."
            )
            return None
        if head == "workspaces":
            name, _dot, attribute = rest.partition(".")
            if name not in scope.workspaces:
                self.problem(
                    ref,
                    field,
                    f'$({expression}) names workspace "{name}", which the Pipeline does not '
                    "declare; declare it under spec.workspaces.",
                )
            elif attribute != "bound":
                self.problem(
                    ref,
                    field,
                    f"$({expression}) is not available in a Pipeline; use $(workspaces.{name}.bound).",
                )
            return None
        if head == "context":
            if rest not in (
                "pipelineRun.name",
                "pipelineRun.namespace",
                "pipelineRun.uid",
                "pipeline.name",
                "pipelineTask.retries",
            ):
                self.problem(
                    ref,
                    field,
                    f"$({expression}) is not a Pipeline context variable; use "
                    "context.pipelineRun.name, .namespace, .uid, context.pipeline.name or "
                    "context.pipelineTask.retries.",
                )
            return None
        self.problem(ref, field, f"$({expression}) is not a Tekton variable; write $$( to keep it literal.")
        return None

    # ------------------------------------------------------------------ PipelineRun

    def pipeline_run(self, ref, spec):
        pipeline_ref = spec.get("pipelineRef") or {}
        pipeline = (
            self.pipelines.get(pipeline_ref.get("name"))
            if "pipelineSpec" not in spec
            else spec["pipelineSpec"]
        )
        if pipeline is None:
            self.problem(
                ref,
                "spec.pipelineRef.name",
                f'names Pipeline "{pipeline_ref.get("name")}", which is not '
                "in this list; add it or fix the name.",
            )
            return
        given = {p.get("name") for p in spec.get("params") or [] if isinstance(p, dict)}
        for param in pipeline.get("params") or []:
            if isinstance(param, dict) and "default" not in param and param.get("name") not in given:
                self.problem(
                    ref,
                    "spec.params",
                    f'gives no value for param "{param.get("name")}", which the Pipeline '
                    "requires (it has no default); add it.",
                )
        bindings = {b.get("name"): b for b in spec.get("workspaces") or [] if isinstance(b, dict)}
        for ws in pipeline.get("workspaces") or []:
            if isinstance(ws, dict) and not ws.get("optional") and ws.get("name") not in bindings:
                self.problem(
                    ref,
                    "spec.workspaces",
                    f'does not bind workspace "{ws.get("name")}", which the '
                    "Pipeline requires; bind it to a volumeClaimTemplate, secret or claim.",
                )
        self.affinity(ref, pipeline, bindings)
        self.timeouts(ref, pipeline, spec.get("timeouts") or {})

    def affinity(self, ref, pipeline, bindings):
        if self.flags.get("coschedule", "workspaces") != "workspaces":
            return
        claims = {
            name for name, b in bindings.items() if "persistentVolumeClaim" in b or "volumeClaimTemplate" in b
        }
        for base in ("tasks", "finally"):
            for _n, task in enumerate(pipeline.get(base) or []):
                used = sorted(
                    {
                        w.get("workspace", w.get("name"))
                        for w in (task.get("workspaces") or [])
                        if isinstance(w, dict)
                    }
                    & claims
                )
                if len(used) > 1:
                    self.warning(
                        ref,
                        "spec.workspaces",
                        f'pipeline task "{task.get("name")}" binds the PVC-backed '
                        f"workspaces {', '.join(used)}, which the affinity assistant (coschedule: "
                        "workspaces) refuses; back all but one with emptyDir/secret, or set coschedule to "
                        '"pipelineruns".',
                    )

    def timeouts(self, ref, pipeline, timeouts):
        budget = {}
        for key in ("pipeline", "tasks", "finally"):
            if key in timeouts:
                seconds = parse_duration(timeouts[key])
                if seconds is None:
                    self.problem(
                        ref, f"spec.timeouts.{key}", f'"{timeouts[key]}" is not a duration; write e.g. 1h30m.'
                    )
                    return
                budget[key] = seconds
        total = budget.get("pipeline")
        if total:  # 0 means no timeout
            spent = budget.get("tasks", 0) + budget.get("finally", 0)
            if spent > total:
                self.warning(
                    ref,
                    "spec.timeouts",
                    f"tasks ({timeouts.get('tasks', '0')}) plus finally "
                    f"({timeouts.get('finally', '0')}) exceed pipeline ({timeouts['pipeline']}), "
                    "which Tekton refuses; make their sum at most the pipeline timeout.",
                )
        limit = budget.get("tasks") or total
        if not limit:
            return
        for _n, task in enumerate(pipeline.get("tasks") or []):
            own = parse_duration(task.get("timeout")) if task.get("timeout") else None
            seconds = DEFAULT_TASK_TIMEOUT_SECONDS if own is None else own
            if seconds > limit:
                why = f"timeout {task['timeout']}" if own is not None else "default timeout of 1h"
                self.warning(
                    ref,
                    "spec.timeouts",
                    f'pipeline task "{task.get("name")}" has a {why}, longer than the '
                    "pipeline's budget for tasks; the pipeline timeout cuts it first, so set the task's "
                    "timeout within that budget.",
                )


class _TaskScope(namedtuple("_TaskScope", "params results workspaces")):
    __slots__ = ()


class _PipelineScope:
    def __init__(self, params, workspaces, dag_names, task_results, is_final, current, in_results=False):
        self.params, self.workspaces, self.dag_names = params, workspaces, dag_names
        self.task_results, self.is_final, self.current, self.in_results = (
            task_results,
            is_final,
            current,
            in_results,
        )


def _declared_params(specs):
    return {
        p.get("name"): {
            "type": p.get("type", _type_of(p.get("default"), "string")),
            "has_default": "default" in p,
        }
        for p in specs or []
        if isinstance(p, dict)
    }


def _matrix_params(task):
    matrix = task.get("matrix") or {}
    names = {p.get("name") for p in matrix.get("params") or [] if isinstance(p, dict)}
    for include in matrix.get("include") or []:
        names |= {p.get("name") for p in include.get("params") or [] if isinstance(p, dict)}
    return names


def _referencing_parts(task):
    """The parts of a pipeline task where pipeline-level variables are substituted."""
    return {
        k: task[k] for k in ("params", "when", "matrix", "workspaces", "displayName", "timeout") if k in task
    }


def _type_of(value, fallback):
    if value is None:
        return fallback
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string" if isinstance(value, str) else type(value).__name__


def _strings(node, path):
    """(field path, text) of every string inside `node`."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _strings(value, f"{path}[{n}]")


def _references(text):
    """(expression, is the whole string) of each $(…) in `text` ($$( is an escaped literal)."""
    for match in _VARIABLE.finditer(text):
        yield match.group(1).strip(), match.group(0) == text.strip()


def _param_accessor(expression):
    """params.x[*] -> ("x", "[*]"); params["x.y"] -> ("x.y", ""); params.o.key -> ("o", ".key")."""
    rest = expression[len("params") :]
    quoted = re.match(r"""^\[(['"])(.+?)\1\](.*)$""", rest)
    if quoted:
        return quoted.group(2), quoted.group(3)
    match = re.match(r"^\.([a-zA-Z_][a-zA-Z0-9_-]*)(.*)$", rest)
    if not match:
        return rest, ""
    return match.group(1), match.group(2)


def _whole_value(field):
    return bool(re.search(r"\.params\[\d+\]\.value$", field))


def _find_cycle(edges):
    """A cycle in task -> dependencies as a path ["a", "b", "a"], or None."""
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in edges.get(node, ()):
            if state.get(dep) == "open":
                return stack[stack.index(dep) :] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in list(edges):
        if node not in state:
            found = visit(node)
            if found:
                return list(reversed(found))
    return None
