"""The collection's Python, imported once into Ansible's main process, from Python's bytecode cache.

Why the main process: the strategy loads an action plugin there when a play first queues one of
its tasks (to read BYPASS_HOST_LOOP), and every task's worker is forked from that process. What the
main process has imported, every task inherits; what a worker imports is lost when its task ends.

Why from bytecode: Ansible's collection loader compiles a collection's source on every import and
keeps no bytecode (ansible-core 2.19: ``_AnsibleCollectionPkgLoaderBase.get_code`` calls
``compile`` each time), and this collection's 7,000 lines cost about 90 ms of every run that way.
While ``import_every_module`` runs, a finder ahead of Ansible's serves this collection's plugin
modules (files, not packages) with Python's own source loader, which reads ``__pycache__`` as for
any installed package and writes it where it may (``make setup`` writes it where
PYTHONDONTWRITEBYTECODE keeps Python from doing so; an edited source is compiled again). The finder
is removed when the imports are done, so Ansible's import machinery is left as it was (ansible-test's
import sanity test holds plugins to that); the code that runs is the same source.

`requests`, which only the IBM Cloud modules use, is not imported here: their action plugins import
it (``import_in_main_process`` below), so a kubeconfig login never pays for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from contextlib import suppress

COLLECTION = "ansible_collections.tekton_cd.pipeline"
PLUGINS_PACKAGE = f"{COLLECTION}.plugins."
PLUGINS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CachedSourceFinder:
    """A meta path finder for this collection's plugin modules (``.py`` files below plugins/)."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if not fullname.startswith(PLUGINS_PACKAGE):
            return None
        source = os.path.join(PLUGINS_DIR, *fullname[len(PLUGINS_PACKAGE):].split(".")) + ".py"
        if not os.path.isfile(source):
            return None  # a package, or no such module: Ansible's loader answers
        return importlib.util.spec_from_file_location(fullname, source)


def import_every_module():
    """Import every module and plugin_utils file of the collection and what they import
    (module_utils, the Tekton validator, ...), served from bytecode while this runs."""
    sys.meta_path.insert(0, CachedSourceFinder)
    try:
        for kind in ("modules", "plugin_utils"):
            package = importlib.import_module(f"{COLLECTION}.plugins.{kind}")
            for found in pkgutil.iter_modules(package.__path__):
                try:
                    importlib.import_module(f"{COLLECTION}.plugins.{kind}.{found.name}")
                except ImportError:  # a module whose optional library is missing fails in its own task
                    continue
    finally:
        sys.meta_path.remove(CachedSourceFinder)


def import_in_main_process(library):
    """Import an optional library now. An action plugin file calls this at its top: Ansible's main
    process loads that file when a play first queues its module, before it forks the task's
    worker, so this and every later worker inherit the library. A missing library is left to the
    module's own error."""
    with suppress(ImportError):
        importlib.import_module(library)
