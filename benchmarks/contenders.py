"""The tools compared, each reaching the same end state from the same manifests.

A contender turns one run (a repetition's names, the manifests, the kubeconfig to use) into one
command line and its environment; the harness times it. Each contender keeps its own HOME (and
XDG cache) across repetitions, so discovery caches are warm after the warm-up run, as on a user's
machine where the tool has run before.

To add a contender, subclass ``Contender`` and list it in ``default_contenders`` (the comparison
on provision.yml's objects) or ``scaling_contenders`` (N tenants: its run's ``extra_vars`` hold
``bench_tenants``, its ``objects`` every tenant's, see benchmarks/scaling.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT_BIN = ROOT / ".venv" / "bin"
BENCH_VENV = ROOT / ".cache" / "bench-venv"
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"
BENCH_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
# The environment switch of plugins/plugin_utils/handler_action.py that forces module processes.
MODULE_PROCESS_SWITCH = "TEKTON_CD_MODULE_PROCESS"
FIELD_MANAGER = "benchmark"


@dataclass
class Run:
    """What one invocation needs: the repetition's names and extra vars, the manifests file and
    the objects in it, the kubeconfig, and a directory for this run's files."""

    names: object
    objects: list[dict]
    manifests: Path
    kubeconfig: Path
    workdir: Path
    extra_vars: dict = field(default_factory=dict)


class Contender:
    key = ""  # short identifier, used in file names and by --only
    label = ""  # how the report names it
    uses_ansible = True
    runs_modules = True  # its tasks talk to the cluster (False: the empty playbook reference)

    def available(self) -> str | None:
        """None when it can run here, else the reason it is skipped."""
        return None

    def home(self, base: Path) -> Path:
        return base / "homes" / self.key

    def command(self, run: Run) -> list[str]:
        raise NotImplementedError

    def environment(self, run: Run, base: Path, profile_file: Path) -> dict[str, str]:
        home = self.home(base)
        (home / ".cache").mkdir(parents=True, exist_ok=True)
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ANSIBLE_", "K8S_AUTH_", "TEKTON_CD_")) and key != "KUBECONFIG"
        }
        environment.update(
            HOME=str(home),
            XDG_CACHE_HOME=str(home / ".cache"),
            NO_PROXY=",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("NO_PROXY")])),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCAL_TEMP=str(home / "ansible-local"),
            ANSIBLE_REMOTE_TEMP=str(home / "ansible-remote"),
            ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
            ANSIBLE_CALLBACKS_ENABLED="bench_profile",
            TEKTON_CD_BENCH_PROFILE=str(profile_file),
        )
        return environment


class ProvisionPlaybook(Contender):
    """playbooks/provision.yml with the local inventory: a kubeconfig login, access review on."""

    key = "provision"
    label = "tekton-cd `provision.yml`"
    playbook = ROOT / "playbooks" / "provision.yml"

    def command(self, run):
        variables = {**run.extra_vars, "cluster_login_kubeconfig": str(run.kubeconfig)}
        vars_file = run.workdir / "extra-vars.json"
        vars_file.write_text(json.dumps(variables))
        return [
            str(PROJECT_BIN / "ansible-playbook"),
            "-i",
            str(ROOT / "inventories" / "local"),
            "-e",
            f"@{vars_file}",
            str(self.playbook),
        ]

    def environment(self, run, base, profile_file):
        environment = super().environment(run, base, profile_file)
        environment.update(
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            PATH=f"{PROJECT_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        return environment


class ProvisionModuleProcesses(ProvisionPlaybook):
    """The same playbook with every module task run as a module process (the old cost)."""

    key = "provision-module-process"
    label = "tekton-cd `provision.yml`, module processes"

    def environment(self, run, base, profile_file):
        return {**super().environment(run, base, profile_file), MODULE_PROCESS_SWITCH: "1"}


class TenantsRole(ProvisionPlaybook):
    """N tenants (scaling): role pipeline_accounts once with its tenants list, one module call per
    kind for all tenants (benchmarks/playbooks/tenants-role.yml)."""

    key = "tenants-role"
    label = "tekton-cd, role `pipeline_accounts` with N tenants"
    playbook = BENCH_PLAYBOOKS / "tenants-role.yml"


class TenantsRoleNoReview(TenantsRole):
    """The same N tenants with the access review off: the same work as kubectl's and
    kubernetes.core's (they prove nothing either), to compare like with like."""

    key = "tenants-role-no-review"
    label = "tekton-cd, role `pipeline_accounts` with N tenants, access review off"

    def command(self, run):
        return [*super().command(run), "-e", "pipeline_accounts_access_review=false"]


class EmptyPlaybook(Contender):
    """An empty play: what starting ansible-playbook costs before any task."""

    key = "empty-playbook"
    label = "empty `ansible-playbook` (reference)"
    runs_modules = False

    def command(self, run):
        playbook = run.workdir / "empty.yml"
        playbook.write_text(
            yaml.safe_dump([{"name": "Nothing", "hosts": "localhost", "gather_facts": False, "tasks": []}])
        )
        return [str(PROJECT_BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)]

    def environment(self, run, base, profile_file):
        environment = super().environment(run, base, profile_file)
        environment["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
        return environment


class KubernetesCore(Contender):
    """kubernetes.core.k8s by server-side apply, from the benchmark's own virtualenv."""

    def available(self):
        if not (BENCH_VENV / "bin" / "ansible-playbook").exists():
            return (
                f"the benchmark virtualenv ({BENCH_VENV.relative_to(ROOT)}) with kubernetes.core is not "
                "installed; `make bench` installs it from benchmarks/requirements.txt"
            )
        return None

    def tasks(self, run) -> list[dict]:
        raise NotImplementedError

    def command(self, run):
        play = {
            "name": "Apply the manifests with kubernetes.core",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": self.tasks(run),
        }
        playbook = run.workdir / "kubernetes-core.yml"
        playbook.write_text(yaml.safe_dump([play], sort_keys=False))
        python = BENCH_VENV / "bin" / "python"
        return [
            str(BENCH_VENV / "bin" / "ansible-playbook"),
            "-i",
            "localhost,",
            "-e",
            "ansible_connection=local",
            "-e",
            f"ansible_python_interpreter={python}",
            str(playbook),
        ]

    def environment(self, run, base, profile_file):
        environment = super().environment(run, base, profile_file)
        config = self.home(base) / "ansible.cfg"
        config.write_text("[defaults]\nretry_files_enabled = false\ninterpreter_python = auto_silent\n")
        environment.update(
            ANSIBLE_CONFIG=str(config),
            K8S_AUTH_KUBECONFIG=str(run.kubeconfig),
            PATH=f"{BENCH_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        return environment

    @staticmethod
    def apply_options() -> dict:
        return {
            "state": "present",
            "apply": True,
            "server_side_apply": {"field_manager": FIELD_MANAGER, "force_conflicts": False},
        }


class KubernetesCoreOneTask(KubernetesCore):
    key = "kubernetes-core-one-task"
    label = "`kubernetes.core.k8s`, one task (multi-document file)"

    def tasks(self, run):
        return [
            {
                "name": "Apply all the objects",
                "kubernetes.core.k8s": {"src": str(run.manifests), **self.apply_options()},
            }
        ]


class KubernetesCorePerObject(KubernetesCore):
    key = "kubernetes-core-per-object"
    label = "`kubernetes.core.k8s`, one task per object"

    def tasks(self, run):
        return [
            {
                "name": f"Apply {body['kind']} {body['metadata']['name']}",
                "kubernetes.core.k8s": {"definition": body, **self.apply_options()},
            }
            for body in run.objects
        ]


class KubectlApply(Contender):
    key = "kubectl"
    label = "`kubectl apply --server-side`"
    uses_ansible = False

    def available(self):
        if not (PROJECT_BIN / "kubectl").exists():
            return "the project's .venv/bin/kubectl is missing; run `make setup`"
        return None

    def command(self, run):
        # --validate=false: the emulator serves no OpenAPI v2 document (docs/emulator.md); used
        # on every cluster alike, it spares kubectl that download (in kubectl's favour).
        return [
            str(PROJECT_BIN / "kubectl"),
            "--kubeconfig",
            str(run.kubeconfig),
            "apply",
            "--server-side",
            f"--field-manager={FIELD_MANAGER}",
            "--validate=false",
            "-f",
            str(run.manifests),
        ]


def scaling_contenders() -> list[Contender]:
    """The scaling runs (N tenants): tekton-cd both ways, and the two fastest other forms."""
    return [TenantsRole(), TenantsRoleNoReview(), KubernetesCoreOneTask(), KubectlApply()]


def default_contenders() -> list[Contender]:
    """In report order; the first kubernetes.core form is the baseline when available."""
    return [
        ProvisionPlaybook(),
        ProvisionModuleProcesses(),
        KubernetesCoreOneTask(),
        KubernetesCorePerObject(),
        KubectlApply(),
        EmptyPlaybook(),
    ]
