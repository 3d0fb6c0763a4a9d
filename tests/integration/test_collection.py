"""The collection as users get it: `ansible-galaxy collection build` and `install` work, the built
artifact holds what users need and none of the development tree, and a playbook that names the
modules and roles by FQCN runs against the installed copy alone (no project ansible.cfg, no
checkout on the collections path) — its modules still run in-process through their action plugins."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile

import pytest
import yaml

from tests.playbook import ROOT, VENV_BIN


def _run(command, config, **options):
    """``command`` with an empty Ansible configuration ``config``: nothing of the checkout's."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "K8S_AUTH_"))}
    environment.update(options.pop("env", {}), ANSIBLE_CONFIG=str(config), ANSIBLE_NOCOLOR="1")
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300,
                          check=False, **options)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(collections path, built tarball, empty config) of the collection built from this checkout
    and installed."""
    work = tmp_path_factory.mktemp("collection")
    config = work / "ansible.cfg"
    config.write_text("[defaults]\n")
    built = _run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work)],
                 config, cwd=ROOT)
    assert built.returncode == 0, built.stderr
    tarball = next(work.glob("tekton_cd-pipeline-*.tar.gz"))
    target = work / "collections"
    done = _run([str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--force", "-p", str(target),
                 str(tarball)],
                config)
    assert done.returncode == 0, done.stderr
    return target, tarball, config


def test_the_built_collection_holds_the_plugins_and_roles_but_not_the_development_tree(installed):
    _path, tarball, _config = installed
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
        manifest = json.loads(archive.extractfile("MANIFEST.json").read())
    assert manifest["collection_info"]["namespace"] == "tekton_cd"
    assert manifest["collection_info"]["name"] == "pipeline"
    for wanted in ("plugins/modules/k8s_namespace.py", "plugins/action/k8s_namespace.py",
                   "plugins/plugin_utils/handler_action.py", "plugins/module_utils/kube_runner.py",
                   "roles/pipeline_accounts/tasks/main.yml", "meta/runtime.yml", "playbooks/provision.yml"):
        assert wanted in names, wanted
    for unwanted in (".venv", ".cache", "emulator", "tests/integration", "benchmarks", "molecule"):
        assert not any(name == unwanted or name.startswith(unwanted + "/") for name in names), unwanted


def test_a_playbook_runs_against_the_installed_collection(installed, cluster, namespace, tmp_path):
    collections, _tarball, config = installed
    name = cluster.unique_name("coll")
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Use the installed collection",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/tekton_cd.pipeline.kube": {"kubeconfig": str(cluster.kubeconfig_path)}},
        "tasks": [
            {"name": "namespace", "tekton_cd.pipeline.k8s_namespace": {"name": name}},
            {"name": "account",
             "tekton_cd.pipeline.k8s_service_account": {"name": "robot", "namespace": name}},
            {"name": "again", "tekton_cd.pipeline.k8s_namespace": {"name": name}, "register": "again"},
            {"name": "report", "ansible.builtin.debug": {"msg": "again changed={{ again.changed }}"}},
            {"name": "cleanup", "tekton_cd.pipeline.k8s_namespace": {"name": name, "state": "absent"}},
        ],
    }]))
    python = VENV_BIN / "python"
    run = _run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                "-e", f"ansible_python_interpreter={python}", "-vvv", str(playbook)],
               config, cwd=tmp_path, env={"ANSIBLE_COLLECTIONS_PATH": str(collections)})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "again changed=False" in run.stdout
    # Loaded from the installed copy, not the checkout; and in-process: no module was shipped.
    assert str(collections) in run.stdout
    assert "PUT " not in run.stdout and "AnsiballZ" not in run.stdout
