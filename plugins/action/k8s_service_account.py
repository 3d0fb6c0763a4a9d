"""Runs its module in Ansible's worker process (plugins/plugin_utils/handler_action.py)."""

from ansible_collections.tekton_cd.pipeline.plugins.plugin_utils.handler_action import (
    HandlerAction as ActionModule,
)

__all__ = ["ActionModule"]
