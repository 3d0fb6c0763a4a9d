"""Each role's input check (tasks/check.yml) lists its module tasks exactly as the tasks call them.

check_inputs can only vouch for the arguments it is given: a task whose arguments changed without
its check entry would go unchecked. So, from the role's own YAML: every tekton-cd module task has
an entry with the same name, module and arguments (the same template text), every entry is such a
task, and every role variable a task's arguments use (directly or through vars/main.yml) is mapped
to an option in the entry's ``variables``, so that any bad value is reported by its own name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECK_MODULE = "tekton_cd.pipeline.check_inputs"
ROLES = ("pipeline_accounts", "cluster_login")


def module_tasks(tasks):
    for task in tasks or []:
        for part in ("block", "rescue", "always"):
            yield from module_tasks(task.get(part))
        for key, args in task.items():
            if key.startswith("tekton_cd.pipeline.") and key != CHECK_MODULE:
                yield task["name"], key, args


def role_files(role):
    return sorted((ROOT / "roles" / role / "tasks").glob("*.yml"))


def check_calls(role):
    tasks = yaml.safe_load((ROOT / "roles" / role / "tasks" / "check.yml").read_text())
    (check,) = [task[CHECK_MODULE] for task in tasks if CHECK_MODULE in task]
    return check["calls"]


def variables_used(text, role, derived):
    """Role variables a template text uses, following derived variables (vars/main.yml) to their sources."""
    found, pending = set(), set(re.findall(rf"\b{role}_\w+", text))
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        if name in derived:
            pending |= set(re.findall(rf"\b{role}_\w+", yaml.safe_dump(derived[name])))
    return {name for name in found if name not in derived}


@pytest.mark.parametrize("role", ROLES)
def test_every_module_task_is_checked_with_its_own_arguments(role):
    tasks = {(name, module): args for path in role_files(role)
             for name, module, args in module_tasks(yaml.safe_load(path.read_text()))}
    calls = {(call["name"], call["module"]): call for call in check_calls(role)}
    assert set(calls) == set(tasks)
    for key, args in tasks.items():
        assert calls[key]["args"] == args, key


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_a_task_uses_is_named_by_its_check(role):
    derived = yaml.safe_load((ROOT / "roles" / role / "vars" / "main.yml").read_text()) or {}
    settable = set(yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()))
    for call in check_calls(role):
        used = variables_used(yaml.safe_dump(call["args"]), role, derived) & settable
        mapped = {name.strip() for names in call["variables"].values() for name in str(names).split(",")}
        assert used <= mapped, (call["name"], sorted(used - mapped))
        assert mapped <= settable, (call["name"], sorted(mapped - settable))
