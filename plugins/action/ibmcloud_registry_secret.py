"""Runs its module in Ansible's worker process (plugins/plugin_utils/handler_action.py)."""

from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.handler_action import (
    HandlerAction as ActionModule,
)
from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.preload import import_in_main_process

# Only a run that talks to IBM Cloud imports requests, in the main process (see the function).
import_in_main_process("requests")

__all__ = ["ActionModule"]
