"""What Ansible's main process pays to load the collection's plugins: loaded through Ansible's own
collection finder, as ansible-playbook loads them, the action plugins leave `requests` out of a
kubeconfig run, and the collection's Python is read from Python's bytecode cache, not compiled
again on every run (plugins/plugin_utils/preload.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.playbook import COLLECTION, ROOT, VENV_BIN

LOADER = f"""
import json, sys
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
import importlib
seen = {{}}
for action in sys.argv[2:]:
    importlib.import_module("{COLLECTION}.plugins.action." + action)
    seen[action] = "requests" in sys.modules
utils = "{COLLECTION}.plugins.module_utils."
service = sys.modules[utils + "kube_service"]
print(json.dumps({{"requests_after": seen, "loader": type(service.__loader__).__name__,
                   "cached": service.__spec__.cached, "file": service.__file__,
                   "first_finder": type(sys.meta_path[0]).__name__,
                   "edited": getattr(sys.modules[utils + "kube_names"], "EDITED_AFTER_CACHING", False)}}))
"""


@pytest.fixture
def collection_copy(tmp_path):
    """A copy of the collection's plugins on a collections path of its own, without bytecode."""
    target = tmp_path / "ansible_collections" / "tekton_cd" / "pipeline"
    shutil.copytree(ROOT / "plugins", target / "plugins", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "meta", target / "meta")
    return tmp_path


def load(collections, *actions, env=None):
    """Load these action plugins as ansible-playbook's main process does; what it then holds."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([str(VENV_BIN / "python"), "-c", LOADER, str(collections), *actions],
                          capture_output=True, text=True, env={**environment, **(env or {})}, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_kubeconfig_run_never_imports_requests_and_an_ibm_cloud_action_imports_it_in_the_main_process(
        collection_copy):
    loaded = load(collection_copy, "stage", "k8s_namespace", "tekton_resources", "ibmcloud_auth")
    assert loaded["requests_after"] == {"stage": False, "k8s_namespace": False, "tekton_resources": False,
                                        "ibmcloud_auth": True}


def test_the_collections_python_is_compiled_once_and_read_from_the_bytecode_cache(collection_copy):
    first = load(collection_copy, "stage")
    plugins = collection_copy / "ansible_collections" / "tekton_cd" / "pipeline" / "plugins"
    assert first["loader"] == "SourceFileLoader"
    assert first["file"] == str(plugins / "module_utils" / "kube_service.py")
    cached = first["cached"]
    assert cached.startswith(str(plugins / "module_utils" / "__pycache__")) and os.path.isfile(cached)
    # Ansible's import machinery is left as it was: its finder first again
    assert first["first_finder"] == "_AnsibleCollectionFinder"
    written = os.stat(cached).st_mtime_ns
    again = load(collection_copy, "stage")
    assert again["cached"] == cached and os.stat(cached).st_mtime_ns == written  # read, not rewritten


def test_an_edited_source_is_compiled_again_and_no_bytecode_is_written_where_the_user_said_not_to(
        collection_copy):
    plugins = collection_copy / "ansible_collections" / "tekton_cd" / "pipeline" / "plugins"
    load(collection_copy, "stage", env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert not list(plugins.rglob("*.pyc"))
    assert load(collection_copy, "stage")["edited"] is False  # and now cached
    source = plugins / "module_utils" / "kube_names.py"
    source.write_text(source.read_text() + "\nEDITED_AFTER_CACHING = True\n")
    assert load(collection_copy, "stage")["edited"] is True
