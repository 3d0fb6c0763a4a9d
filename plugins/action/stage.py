"""Action behind tekton_cd.pipeline.stage (documented in plugins/modules/stage.py).

A role's stage in one task: every module call of the stage is listed (module, arguments, and which
role variables feed which option). First each is checked by the module's own validation, offline
(plugins/plugin_utils/inputs_check.py): the first bad input fails the task with the module's
sentence, retold in the role's terms (the variable to correct and where it is set), and nothing has
been sent to any API. Then the calls run in order, each as its module's own task would
(HandlerAction.run_module), and the first failure stops the stage.

Why one task and not a check task followed by one task per module: Ansible costs about 30 ms per
task (a worker process, templating, callbacks), and the check task templated every argument a
second time; a stage of five calls was 0.3-0.4 s of a 2.5 s provision (docs/benchmarks.md).
"""

from __future__ import annotations

import copy
import datetime
import os
import re
import time

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.tekton_cd.pipeline.plugins.module_utils import kube_runner
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_client import shared_connections
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import TaskFailure
from ansible_collections.tekton_cd.pipeline.plugins.modules.stage import ARGUMENT_SPEC
from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.handler_action import (
    HandlerAction,
    as_module_sees,
    module_declaration,
    task_environment,
)
from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.inputs_check import check_validated_inputs
from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.tenants import malformed_tenant, per_tenant

OPTION_IN_MESSAGE = re.compile(r"option '([^']+)'|argument '([^']+)'|Option ([\w.\[\]]+)(?= is )")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
SKIPPED_IN_CHECK_MODE = ("check mode: an earlier call of the stage would have changed what this call reads, "
                         "and check mode only pretended to change it")


class ActionModule(HandlerAction):
    _supports_check_mode = True

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        """Template the calls one by one, and the arguments of an enabled call only: most of a
        role's listed calls are for the other login method, and templating their arguments (each
        expression compiled anew in the worker) was half the task's time."""
        if name != "calls" or not isinstance(value, list):
            return super().finalize_task_arg(name, value, templar, context)
        return [_finalized_call(call, templar) for call in value]

    def run(self, tmp=None, task_vars=None):
        result = ActionBase.run(self, tmp, task_vars)
        task_vars = task_vars or {}
        params = self._validated_task_args()
        problem = self._role_variables_problem(params["role"], task_vars)
        if problem:
            result.update(failed=True, msg=problem)
            return result
        calls = [call for call in params["calls"] if call["enabled"]]
        problem = malformed_tenant(params["tenants"]) if any(call["per_tenant"] for call in calls) else None
        if problem:
            result.update(failed=True, msg=f"The stage's tenants are not as the calls need them: {problem}.")
            return result
        checked, secret_values, planned = [], set(), []
        with task_environment(self._task_environment()):
            for call in calls:
                declaration = module_declaration(call["module"])
                args = dict(call["args"])
                for option in call["per_tenant"]:
                    if isinstance(args.get(option), list):
                        args[option] = per_tenant(args[option], params["tenants"])
                if declaration.kube_connection:
                    args = {**params["connection"], **args}  # as module_defaults gives a task of its own
                args = as_module_sees(args)
                try:
                    validated = declaration.validate(args)
                except TaskFailure as failure:
                    secret_values |= _secrets_named(declaration, args)
                    return self._bad_input(result, failure, call, params, task_vars, checked, secret_values)
                secret_values |= validated[1]
                # on a copy: a handler may normalise its params in place, and the run gets them next
                failure = check_validated_inputs(declaration, copy.deepcopy(validated[0]))
                if failure is not None:
                    return self._bad_input(result, failure, call, params, task_vars, checked, secret_values)
                checked.append(call["name"])
                planned.append((call, args, validated))
        with shared_connections():
            result.update(checked=checked, **self._run_calls(planned, task_vars, secret_values))
        return kube_runner.masked(result, secret_values)

    def _role_variables_problem(self, role_name, task_vars):
        """The role's own argument spec (meta/argument_specs.yml, the entry point this task runs
        from) checked against its variables, as Ansible's validation task does at role start: a
        sentence naming the first wrong variable and where it is set, or None. The project's
        playbooks import the roles with rolespec_validate: false, so that this stage is the one
        check (a task of its own costs about 40 ms); a role imported without it is checked twice."""
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

        role = getattr(self._task, "_role", None)
        path = getattr(role, "_role_path", None)
        candidates = [os.path.join(path, "meta", f"argument_specs{ext}")
                      for ext in (".yml", ".yaml")] if path else []
        specs_file = next((candidate for candidate in candidates if os.path.isfile(candidate)), None)
        if specs_file is None:
            return None
        entry_point = (getattr(role, "_from_files", None) or {}).get("tasks", "main")
        specs = (self._loader.load_from_file(specs_file) or {}).get("argument_specs") or {}
        spec = (specs.get(entry_point) or {}).get("options")
        if not spec:
            return None
        values = self._templar.template({name: task_vars[name] for name in spec if name in task_vars})
        values.update(getattr(role, "_role_params", None) or {})
        errors = ArgumentSpecValidator(spec).validate(values, validate_role_argument_spec=True).error_messages
        if not errors:
            return None
        named = [name for name in spec if re.search(rf"\b{re.escape(name)}\b", errors[0])]
        variable = max(named, key=len) if named else None
        where = where_to_set([variable], role_name, task_vars) if variable else (
            f"see roles/{role_name}/meta/argument_specs.yml for what each variable takes")
        more = f" ({len(errors) - 1} more: {'; '.join(errors[1:])})" if len(errors) > 1 else ""
        return f"Role {role_name} refuses its variables ({where}): {errors[0].rstrip('.')}{more}."

    @staticmethod
    def _bad_input(result, failure, call, params, task_vars, checked, secret_values):
        message = explain(failure.msg, call, params["role"], task_vars)
        result.update(failed=True, msg=message, task=call["name"], checked=checked, results={})
        return kube_runner.masked(result, secret_values)

    def _validated_task_args(self):
        """The task's arguments checked against ARGUMENT_SPEC (AnsibleActionFail on a malformed
        task). The validator deep-copies what it checks, and of a call's args and variables it only
        checks that they are dicts: so those are set aside for the check (7% of pipeline_accounts'
        stage task, profiled) and put back after it."""
        calls = self._task.args.get("calls")
        set_aside = {}
        if isinstance(calls, list):
            for index, call in enumerate(calls):
                if isinstance(call, dict):
                    set_aside[index] = {key: call[key] for key in ("args", "variables")
                                        if isinstance(call.get(key), dict)}
            calls = [{**call, **{key: {} for key in set_aside[index]}} if index in set_aside else call
                     for index, call in enumerate(calls)]
        saved, self._task.args = self._task.args, {**self._task.args, "calls": calls}
        try:
            params = self.validate_argument_spec(ARGUMENT_SPEC)[1]
        finally:
            self._task.args = saved
        for index, parts in set_aside.items():
            params["calls"][index].update(parts)
        return params

    def _run_calls(self, planned, task_vars, secret_values):
        """Run the checked calls that are to run, in order; stop at the first failure."""
        progress = self._progress(task_vars, secret_values) or _silent
        results, diffs, warnings, changed = {}, [], [], False
        for call, args, validated in planned:
            if not call["run"]:
                continue
            entry = {"name": call["name"], "module": call["module"]}
            if call["reads_earlier_calls"] and self._task.check_mode and changed:
                results[call["id"] or call["name"]] = {**entry, "changed": False, "skipped": True,
                                                       "skip_reason": SKIPPED_IN_CHECK_MODE}
                progress(f"skipped: {call['name']} (in check mode, after changes it would read)")
                continue
            started = time.time()
            outcome = self.run_module(call["module"], args, task_vars, validated=validated, invocation=False)
            outcome.update(_times(started, time.time()))
            warnings.extend(outcome.pop("warnings", None) or [])
            # Diffs are big (every object before and after) and only shown in diff mode: a stage of
            # 50 tenants would otherwise hand Ansible megabytes it has to copy and never shows.
            if self._task.diff:
                diff = outcome.get("diff")
                diffs.extend(diff if isinstance(diff, list) else [diff] if diff else [])
            else:
                outcome.pop("diff", None)
            results[call["id"] or call["name"]] = {**entry, **outcome}
            if outcome.get("failed"):
                progress(f"failed: {call['name']}")
                failure = {"failed": True, "msg": outcome.get("msg", ""), "task": call["name"]}
                if "exception" in outcome:
                    failure["exception"] = outcome["exception"]
                return {**failure, "changed": changed, "results": results, **_extras(diffs, warnings)}
            changed = changed or bool(outcome.get("changed"))
            progress(f"{'changed' if outcome.get('changed') else 'ok'}: {call['name']}")
        return {"changed": changed, "results": results, **_extras(diffs, warnings)}


def _times(started, ended):
    """When a call ran, as the command module gives it (local time): start, end and delta."""
    def shown(moment):
        return datetime.datetime.fromtimestamp(moment).strftime(TIME_FORMAT)

    return {"start": shown(started), "end": shown(ended),
            "delta": str(datetime.timedelta(seconds=ended - started))}


def _silent(_text):
    """No progress lines for a no_log task."""


def _extras(diffs, warnings):
    return {**({"diff": diffs} if diffs else {}), **({"warnings": warnings} if warnings else {})}


def _finalized_call(call, templar):
    if not isinstance(call, dict) or "enabled" not in call:
        return templar.template(call)
    enabled = templar.template(call["enabled"])
    if boolean(enabled, strict=False):
        return templar.template(call)
    finalized = {key: templar.template(part) for key, part in call.items() if key not in ("args", "enabled")}
    return {**finalized, "enabled": False, "args": {}}


def _secrets_named(declaration, args):
    """The no_log option values of arguments the module's spec refused: masked all the same."""
    return {value for option, spec in declaration.argument_spec.items()
            if spec.get("no_log") and isinstance(value := args.get(option), str) and value}


def explain(message, call, role, task_vars):
    """The module's sentence with the option replaced by the role variable behind it, and where
    that variable is set: 'Invalid value for pipeline_accounts_token_lifetime (option
    'token_lifetime' of k8s_cluster_secret; set in inventories/dev/group_vars/clusters.yml:12): ...'."""
    module = call["module"].rpartition(".")[2]
    found = OPTION_IN_MESSAGE.search(message)
    option = next(group for group in found.groups() if group) if found else None
    variables = variables_behind(option, call["variables"]) if option else []
    if not variables:
        variables = most_likely(sorted(set(call["variables"].values())), role, task_vars)
        return (f"{message.rstrip('.')} (in task '{call['name']}' of role {role}, fed by "
                f"{', '.join(variables) or 'no role variable'}; {where_to_set(variables, role, task_vars)}).")
    variables = most_likely(variables, role, task_vars)
    named = " / ".join(variables)
    source = f"option '{option}' of {module}; {where_to_set(variables, role, task_vars)}"
    return message.replace(found.group(0), f"{named} ({source})", 1)


def most_likely(variables, role, task_vars):
    """Of several variables behind an option, the ones the user set (not left at the role's
    default), since a bad value is most likely among them; all of them when none or all were set."""
    chosen = [name for name in variables if not _is_default(name, role, task_vars)]
    return chosen or variables


def _is_default(name, role, task_vars):
    origin = _origin(task_vars.get(name))
    return origin is None or _in_role_defaults(origin[0], role)


def _in_role_defaults(path, role):
    return bool(path) and f"{os.sep}roles{os.sep}{role}{os.sep}defaults{os.sep}" in path


def variables_behind(option, variables):
    """The role variables mapped to the longest pattern matching ``option`` ('roles[0].rules[2].verbs'
    matches 'roles[0].rules'; '[*]' matches any index). A value may name several, comma-separated."""
    best, best_length = [], -1
    for pattern, names in variables.items():
        regex = re.escape(pattern).replace(r"\[\*\]", r"\[\d+\]")
        if re.match(f"{regex}($|[.\\[])", option) and len(pattern) > best_length:
            best, best_length = [name.strip() for name in str(names).split(",") if name.strip()], len(pattern)
    return best


def where_to_set(variables, role, task_vars):
    """Where the value comes from: the file and line the first variable is set at, when Ansible
    tracked it; the role's defaults mean it was left unset, so say where it can be set."""
    for name in variables:
        origin = _origin(task_vars.get(name))
        if origin is None:
            continue
        path, line, description = origin
        if _in_role_defaults(path, role):
            continue
        if path:
            return f"set in {_shown(path)}{f':{line}' if line else ''}"
        if description:
            return f"set in {description}"
    return (f"the default comes from role {role} (roles/{role}/defaults/main.yml); set the variable in the "
            "inventory's group_vars or the play's vars")


def _origin(value):
    """(path, line, description) Ansible recorded for a variable's value, or None (2.19 data tags)."""
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:  # another ansible-core: say where to set it, without the file
        return None
    origin = Origin.get_tag(value) if value is not None else None
    if origin is None or origin is Origin.UNKNOWN:
        return None
    return origin.path, origin.line_num, origin.description


def _shown(path):
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative
