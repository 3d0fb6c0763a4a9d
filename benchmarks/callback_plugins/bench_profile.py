"""Ansible callback for the benchmarks: the wall-clock time of each task (per host), written as
JSON lines to the file $TEKTON_CD_BENCH_PROFILE. Like profile_tasks, but machine-readable and with
absolute times, so the harness can line tasks up with the API server's request log.

Loaded by both virtualenvs (the project's and the benchmark's), so it uses only ansible-core."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_profile"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("TEKTON_CD_BENCH_PROFILE")
        self._started = {}

    def _write(self, entry):
        if self._path:
            with open(self._path, "a") as handle:
                handle.write(json.dumps(entry) + "\n")

    def v2_playbook_on_start(self, playbook):
        self._write({"event": "playbook_start", "time": time.time()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.time()

    def v2_playbook_on_handler_task_start(self, task):
        self._started[task._uuid] = time.time()

    def _finished(self, result, status):
        task = result._task
        self._write(
            {
                "event": "task",
                "task": task.get_name(),
                "action": task.action,
                "host": result._host.get_name(),
                "status": status,
                "changed": bool(result._result.get("changed")),
                "start": self._started.get(task._uuid, time.time()),
                "end": time.time(),
            }
        )

    def v2_runner_on_ok(self, result):
        self._finished(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._finished(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._finished(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._finished(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._write({"event": "playbook_end", "time": time.time()})
