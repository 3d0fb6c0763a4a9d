"""Each role's stage task (tekton_cd.pipeline.stage) checks every module call of the role.

The stage can only vouch for the arguments it is given: a module task of the role outside the stage
(the IBM Cloud login's, which run one after the other in ibmcloud.yml) must be listed in the stage
as a checked-only call with the same name, module and arguments (the same template text), and every
checked-only call must be such a task. And every role variable a call's arguments use (directly or
through vars/main.yml) is mapped to an option in the call's ``variables``, so that any bad value is
reported by its own name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STAGE_MODULE = "tekton_cd.pipeline.stage"
ROLES = ("pipeline_accounts", "cluster_login")


def walk(tasks):
    for task in tasks or []:
        for part in ("block", "rescue", "always"):
            yield from walk(task.get(part))
        yield task


def role_tasks(role):
    for path in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
        yield from walk(yaml.safe_load(path.read_text()))


def module_tasks(role):
    """(name, module, args) of the role's tekton-cd module tasks other than its stage."""
    for task in role_tasks(role):
        for key, args in task.items():
            if key.startswith("tekton_cd.pipeline.") and key != STAGE_MODULE:
                yield task["name"], key, args


def stage_calls(role):
    (stage,) = [task[STAGE_MODULE] for task in role_tasks(role) if STAGE_MODULE in task]
    return stage["calls"]


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
def test_every_module_task_outside_the_stage_is_checked_with_its_own_arguments(role):
    tasks = {(name, module): args for name, module, args in module_tasks(role)}
    checked_only = {(call["name"], call["module"]): call
                    for call in stage_calls(role) if call.get("run") is False}
    assert set(checked_only) == set(tasks)
    for key, args in tasks.items():
        assert checked_only[key]["args"] == args, key


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_a_call_uses_is_named_by_it(role):
    derived = yaml.safe_load((ROOT / "roles" / role / "vars" / "main.yml").read_text()) or {}
    settable = set(yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()))
    for call in stage_calls(role):
        used = variables_used(yaml.safe_dump(call["args"]), role, derived) & settable
        mapped = {name.strip() for names in call["variables"].values() for name in str(names).split(",")}
        assert used <= mapped, (call["name"], sorted(used - mapped))
        assert mapped <= settable, (call["name"], sorted(mapped - settable))

