"""Action behind tekton_cd.pipeline.check_inputs (documented in plugins/modules/check_inputs.py).

A role's first task: every later module task of the role is listed (module, the same arguments,
and which role variables feed which option), and each is checked by the module's own validation,
offline (plugins/plugin_utils/inputs_check.py). The first bad input fails the task with the
module's sentence, retold in the role's terms: the variable to correct and where it is set.
Nothing is sent to any API, so a run with a bad value fails before its first write.
"""

from __future__ import annotations

import importlib
import os
import re

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.tekton_cd.pipeline.plugins.module_utils import kube_runner
from ansible_collections.tekton_cd.pipeline.plugins.modules.check_inputs import ARGUMENT_SPEC
from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.handler_action import (
    COLLECTION,
    as_module_sees,
    task_environment,
)
from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.inputs_check import check_task_inputs

OPTION_IN_MESSAGE = re.compile(r"option '([^']+)'|argument '([^']+)'|Option ([\w.\[\]]+)(?= is )")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
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
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        spec_check = self.validate_argument_spec(ARGUMENT_SPEC)[0]  # raises on a malformed task
        params = spec_check.validated_parameters
        checked, secret_values = [], set()
        with task_environment(self._task_environment()):
            for call in params["calls"]:
                if not call["enabled"]:
                    continue
                declaration = _declaration(call["module"])
                args = dict(call["args"])
                if declaration.kube_connection:
                    args = {**params["connection"], **args}  # as module_defaults gives the real task
                args = as_module_sees(args)
                secret_values |= _secrets_of(declaration, args)
                failure = check_task_inputs(declaration, args)
                if failure is not None:
                    message = explain(failure.msg, call, params["role"], task_vars)
                    result.update(failed=True, msg=message, task=call["name"])
                    return kube_runner.masked(result, secret_values)
                checked.append(call["name"])
        result.update(changed=False, checked=checked)
        return kube_runner.masked(result, secret_values)

    def _task_environment(self):
        environment = {}
        self._compute_environment_string(environment)
        return {str(key): str(value) for key, value in environment.items()}


def _finalized_call(call, templar):
    if not isinstance(call, dict) or "enabled" not in call:
        return templar.template(call)
    enabled = templar.template(call["enabled"])
    if boolean(enabled, strict=False):
        return templar.template(call)
    finalized = {key: templar.template(part) for key, part in call.items() if key not in ("args", "enabled")}
    return {**finalized, "enabled": False, "args": {}}


def _declaration(module):
    short_name = module.rpartition(".")[2]
    return importlib.import_module(f"{COLLECTION}.plugins.modules.{short_name}").MODULE


def _secrets_of(declaration, args):
    try:
        return declaration.validate(args)[1]
    except Exception:  # invalid arguments: the check reports them; mask what can be named
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
