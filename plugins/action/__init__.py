"""Ansible loads this package before any of the collection's action plugins, in its main process:
the collection's code is imported here once, for every task's worker to inherit, and from Python's
bytecode cache (plugins/plugin_utils/preload.py says why)."""

from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.preload import import_every_module

import_every_module()
