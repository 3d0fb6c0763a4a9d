"""The action plugin behind every tekton-cd module: the module's handler runs inside Ansible's
worker process, so a task costs a function call, not a module process.

What a module process costs and this avoids: packaging the module and its module_utils into a
payload, starting a new Python, importing everything again, and a new TLS connection (0.6-1 s a
task, measured in docs/benchmarks.md). The strategy imports this file in Ansible's main process
when it first meets one of our tasks (to read BYPASS_HOST_LOOP), and every worker is forked from
that process, so the shared core is imported once per run, not once per task (all of it, by
plugins/action/__init__.py: plugins/plugin_utils/preload.py).

The task's arguments are checked against the module's own argument spec (``MODULE.validate``:
AnsibleModule's validator, with the module's constraints and environment fallbacks), then
``MODULE.execute`` runs the same handler and funnel as the module process would, so results,
check mode, diff, warnings and errors are the same either way. Options marked no_log are masked
in the result exactly as AnsibleModule masks them.

Progress: a handler declared with ``reports_progress`` gets ``progress(text)``, which prints a line
at once through Ansible's Display (from the worker, the line reaches the console while the task
runs); a module process has no such channel, so there it is a no-op.

Delegation: the modules talk to APIs, so they run where Ansible runs them. A task whose
connection is local (``ansible_connection: local``, ``delegate_to: localhost``) runs in-process;
a task delegated to a host reached over another connection (ssh, say: a bastion that alone can
reach the API server) ships the module to that host as usual (``_execute_module``), where it runs
as a module process with the same handler.

For measurement only, the environment variable ``TEKTON_CD_MODULE_PROCESS=1`` (in
ansible-playbook's environment) sends every task down that module-process path even when its
connection is local, so ``make bench`` can show what the in-process path saves
(docs/benchmarks.md). Results are the same either way; it is not meant for normal runs.
"""

from __future__ import annotations

import importlib
import json
import os
from contextlib import contextmanager

from ansible.plugins.action import ActionBase
from ansible_collections.tekton_cd.pipeline.plugins.module_utils import kube_errors, kube_runner
from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.preload import COLLECTION

LOCAL_CONNECTIONS = frozenset({"local", "ansible.builtin.local"})
MODULE_PROCESS_SWITCH = "TEKTON_CD_MODULE_PROCESS"


class HandlerAction(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        module_name = self._task.resolved_action or self._task.action
        result.update(self.run_module(module_name, self._task.args, task_vars))
        return result

    def run_module(self, module_name, args, task_vars, *, validated=None, invocation=True):
        """What a task of ``module_name`` with ``args`` returns: its handler's result, in this
        process when the connection is local, else as a module process where the task runs.
        ``validated``: what ``MODULE.validate`` already returned for ``args`` (the stage's check)."""
        if not self._runs_on_controller() or os.environ.get(MODULE_PROCESS_SWITCH) == "1":
            return self._execute_module(module_name=module_name, module_args=args, task_vars=task_vars)
        declaration = module_declaration(module_name)
        with task_environment(self._task_environment()):
            try:
                params, secret_values = validated or declaration.validate(as_module_sees(args))
            except kube_errors.TaskFailure as exc:
                return {"failed": True, "msg": exc.msg}
            outcome = declaration.execute(params, check_mode=bool(self._task.check_mode),
                                          no_log=bool(self._task.no_log), module_name=module_name,
                                          progress=self._progress(task_vars, secret_values))
        if invocation:
            outcome["invocation"] = {"module_args": params}
        return kube_runner.masked(outcome, secret_values)

    def _progress(self, task_vars, secret_values):
        """progress(text) for the handler: one line on the console at once, as ``HOST | text``. A
        worker's Display hands the line to the main process, which prints it while the task still
        runs. A no_log task shows nothing; option secrets are masked as in the result."""
        if self._task.no_log:
            return None
        from ansible.utils.display import Display

        display = Display()
        host = (task_vars or {}).get("inventory_hostname") or "localhost"

        def progress(text):
            display.display(f"{host} | {kube_runner.masked(str(text), secret_values)}")

        return progress

    def _runs_on_controller(self):
        connection = getattr(self._connection, "transport", None) or self._play_context.connection
        return connection in LOCAL_CONNECTIONS

    def _task_environment(self):
        """The task's ``environment:`` keyword, templated, as a module process would see it."""
        environment = {}
        self._compute_environment_string(environment)
        return {str(key): str(value) for key, value in environment.items()}


def module_declaration(module_name):
    """The ModuleDeclaration (``MODULE``) of one of the collection's modules, by any of its names."""
    short_name = module_name.rpartition(".")[2]
    return importlib.import_module(f"{COLLECTION}.plugins.modules.{short_name}").MODULE


def as_module_sees(args):
    """The task arguments as a module process receives them: serialized and read back with the
    module JSON profile, so values are plain (no data tags) and vaulted strings decrypted."""
    from ansible.module_utils.common.json import Direction, get_module_decoder, get_module_encoder

    text = json.dumps(dict(args), cls=get_module_encoder("legacy", Direction.CONTROLLER_TO_MODULE))
    return json.loads(text, cls=get_module_decoder("legacy", Direction.CONTROLLER_TO_MODULE))


@contextmanager
def task_environment(overrides):
    """os.environ with ``overrides`` for the duration (environment fallbacks read it)."""
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
