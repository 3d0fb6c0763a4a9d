"""Run real ``ansible-playbook`` tasks from a test and get per-task results back.

    from tests.playbook import run_tasks

    play = run_tasks(
        [{"name": "ns", "k8s_namespace": {"name": "demo", "labels": {"a": "b"}}}],
        tmp_path=tmp_path, kubeconfig=cluster.kubeconfig_path, check=False, diff=True,
    )
    assert play.rc == 0, play.stdout
    task = play.task("ns")          # TaskResult: status, changed, failed, msg, diff, result (raw dict)
    assert task.changed and task.result["result"]["metadata"]["name"] == "demo"

What happens: the tasks go into ``tmp_path/playbook.yml`` as one play on ``localhost`` (local
connection, no fact gathering, the project's virtualenv Python as interpreter); the project's
``ansible.cfg`` is used (ANSIBLE_CONFIG), so ``plugins/modules`` and ``plugins/module_utils``
resolve as in real use; ``.venv/bin/ansible-playbook`` runs it with ``-i localhost,`` (no project
inventory), ``--check``/``--diff``/``-v…`` as asked. ``kubeconfig`` reaches the modules through
``K8S_AUTH_KUBECONFIG``, the way users set it. A small callback plugin, written into ``tmp_path``,
records every task result as JSON lines; the human-readable output (the configured stdout
callback) stays in ``PlayResult.stdout`` for assertions such as "no secret was printed".

``task_runner(tmp_path, kubeconfig=..., env=...)`` binds those options once for a test that runs
several plays: each call gets a fresh run directory under ``tmp_path`` (so results never mix), and
``environment(workdir)`` can add variables that name that directory (a HOME of its own, say).
``isolated_environment(workdir)`` is such a function: HOME and Ansible's remote temp inside the run
directory, the caller's IBM Cloud variables emptied, 127.0.0.1 kept off any proxy.

``use_project_module_utils()`` makes ``ansible.module_utils.<name>`` import the project's
plugins/module_utils in-process, for unit tests of the shared core and the modules' handlers.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
COLLECTIONS_DIR = ROOT / ".cache" / "collections"
COLLECTION = "ansible_collections.tekton_cd.pipeline"

_RECORDER = '''
import itertools
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Appends one JSON line per task result to $TEKTON_CD_TEST_RESULTS."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "test_recorder"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status):
        with open(os.environ["TEKTON_CD_TEST_RESULTS"], "a") as handle:
            line = {"task": result.task_name, "action": result._task.action, "host": result._host.name,
                    "status": status, "result": result._result}
            handle.write(json.dumps(line, default=str) + "\\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
'''


@dataclass
class TaskResult:
    name: str
    action: str
    status: str  # ok | changed | failed | skipped | unreachable
    result: dict = field(default_factory=dict)

    @property
    def changed(self):
        return bool(self.result.get("changed"))

    @property
    def failed(self):
        return self.status in ("failed", "unreachable")

    @property
    def msg(self):
        return self.result.get("msg", "")

    @property
    def diff(self):
        return self.result.get("diff")


@dataclass
class PlayResult:
    rc: int
    stdout: str
    stderr: str
    tasks: list[TaskResult]

    def task(self, name):
        """The (last) result of the task, or of a call of a stage task, with that name; KeyError
        names the tasks that ran."""
        for task in [*reversed(self.tasks), *reversed(self.steps)]:
            if task.name == name:
                return task
        raise KeyError(f"no result for task {name!r}; tasks that ran: {[t.name for t in self.steps]}")

    @property
    def steps(self):
        """The tasks as a person reads the run: a stage task (tekton_cd.pipeline.stage) as the
        calls it ran or skipped, each with its module's own result; a stage that ran no call
        (its input check failed, say) as itself."""
        return [step for task in self.tasks for step in (stage_calls(task) or [task])]

    @property
    def changed(self):
        return [t for t in self.steps if t.changed]

    @property
    def failed(self):
        return [t for t in self.steps if t.failed]


def stage_calls(task):
    """One TaskResult per call of a stage task's result (empty for any other task)."""
    if task.action.rpartition(".")[2] != "stage" or not isinstance(task.result.get("results"), dict):
        return []
    calls = []
    for result in task.result["results"].values():
        status = ("skipped" if result.get("skipped") else "failed" if result.get("failed")
                  else "changed" if result.get("changed") else "ok")
        calls.append(TaskResult(result["name"], result["module"], status, result))
    return calls


def run_tasks(tasks, *, tmp_path, kubeconfig=None, check=False, diff=False, extra_vars=None, env=None,
              verbosity=0, timeout=600):
    """Run ``tasks`` (a list of task dicts) in one play on localhost; returns a PlayResult."""
    workdir = Path(tmp_path)
    workdir.mkdir(parents=True, exist_ok=True)
    plugin_dir = workdir / "test_callbacks"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "test_recorder.py").write_text(_RECORDER)
    results_file = workdir / "task-results.jsonl"
    results_file.unlink(missing_ok=True)
    playbook = workdir / "playbook.yml"
    play = {"name": "tasks under test", "hosts": "localhost", "gather_facts": False,
            "collections": ["tekton_cd.pipeline"], "tasks": tasks}
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))

    python = VENV_BIN / "python"
    variables = {"ansible_connection": "local",
                 "ansible_python_interpreter": str(python if python.exists() else Path(sys.executable))}
    variables.update(extra_vars or {})
    vars_file = workdir / "extra-vars.json"
    vars_file.write_text(json.dumps(variables))

    command = [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-e", f"@{vars_file}", str(playbook)]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    if verbosity:
        command.append("-" + "v" * verbosity)

    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("ANSIBLE_", "K8S_AUTH_")) and k != "KUBECONFIG"}
    environment.update({
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_CALLBACK_PLUGINS": str(plugin_dir),
        "ANSIBLE_CALLBACKS_ENABLED": "test_recorder",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-local"),
        "TEKTON_CD_TEST_RESULTS": str(results_file),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    if kubeconfig is not None:
        environment["K8S_AUTH_KUBECONFIG"] = str(kubeconfig)
    environment.update(env or {})

    completed = subprocess.run(command, cwd=workdir, env=environment, capture_output=True, text=True,
                               timeout=timeout, check=False)
    recorded = []
    if results_file.exists():
        for line in results_file.read_text().splitlines():
            entry = json.loads(line)
            recorded.append(TaskResult(entry["task"], entry["action"], entry["status"], entry["result"]))
    return PlayResult(completed.returncode, completed.stdout, completed.stderr, recorded)


# Variables of the caller's environment that would change what the IBM Cloud modules do.
IBMCLOUD_VARIABLES = ("IC_API_KEY", "IBMCLOUD_API_KEY", "IBMCLOUD_IAM_API_ENDPOINT",
                      "IBMCLOUD_CS_API_ENDPOINT", "IBMCLOUD_CR_API_ENDPOINT", "IBMCLOUD_CA_CERT",
                      "IBMCLOUD_OPENSHIFT_OAUTH_ENDPOINT", "IBMCLOUD_REGION", "IC_REGION")


def isolated_environment(workdir):
    """HOME and Ansible's remote temp inside ``workdir`` (so every file a run leaves behind can be
    inspected), the caller's IBM Cloud variables empty (the modules take empty as unset: run_tasks
    passes the caller's environment on), and requests to 127.0.0.1 kept off any proxy."""
    workdir = Path(workdir)
    (workdir / "home").mkdir(parents=True, exist_ok=True)
    return {
        **{name: "" for name in IBMCLOUD_VARIABLES},
        "HOME": str(workdir / "home"),
        "ANSIBLE_REMOTE_TEMP": str(workdir / "ansible-remote"),
        "NO_PROXY": ",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("NO_PROXY")])),
    }


_BOUND = object()


def task_runner(tmp_path, *, kubeconfig=None, env=None, environment=None):
    """``run_tasks`` with ``kubeconfig`` and ``env`` bound, each call in a fresh directory under
    ``tmp_path``. A call may still pass ``kubeconfig`` (None: no K8S_AUTH_KUBECONFIG at all) and
    ``env`` (merged over the bound one); ``environment(workdir)``, if given, adds variables first."""
    runs = itertools.count()
    bound_kubeconfig, bound_env = kubeconfig, dict(env or {})

    def run(tasks, *, kubeconfig=_BOUND, env=None, **options):
        workdir = Path(tmp_path) / f"run{next(runs)}"
        workdir.mkdir(parents=True)
        merged = {**(environment(workdir) if environment else {}), **bound_env, **(env or {})}
        chosen = bound_kubeconfig if kubeconfig is _BOUND else kubeconfig
        return run_tasks(tasks, tmp_path=workdir, kubeconfig=chosen, env=merged, **options)

    return run


def use_project_module_utils():
    """Let ``import ansible_collections.tekton_cd.pipeline.…`` find this checkout in this process
    (through the link scripts/setup.d/collection.sh makes), as the collection loader does in Ansible."""
    path = str(COLLECTIONS_DIR)
    if path not in sys.path:
        sys.path.insert(0, path)


def load_module(name):
    """Import plugins/modules/<name>.py as a Python module (its handler, spec, docs)."""
    import importlib

    use_project_module_utils()
    return importlib.import_module(f"{COLLECTION}.plugins.modules.{name}")
