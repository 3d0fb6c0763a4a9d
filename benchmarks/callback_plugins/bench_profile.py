"""Ansible callback for the benchmarks: the wall-clock time of each task (per host), written as
JSON lines to the file $TEKTON_CD_BENCH_PROFILE. Like profile_tasks, but machine-readable and with
absolute times, so the harness can line tasks up with the API server's request log.

Loaded by both virtualenvs (the project's and the benchmark's), so it uses only ansible-core."""

from __future__ import annotations

import datetime
import json
import os
import time

from ansible.plugins.callback import CallbackBase

STAGE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # the stage module's start/end of each call


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
        entry = {
            "event": "task",
            "task": task.get_name(),
            "action": task.action,
            "host": result._host.get_name(),
            "status": status,
            "changed": bool(result._result.get("changed")),
            "start": self._started.get(task._uuid, time.time()),
            "end": time.time(),
        }
        for part in stage_parts(entry, result._result):
            self._write(part)

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


def stage_parts(entry, result):
    """A tekton_cd.pipeline.stage task as what it did one after the other: its own part until its
    first call started (templating, the check of every call), then each call that ran, with the
    call's module as the action, from the start and end the stage gives it. Any other task: itself."""
    results = result.get("results") if entry["action"].rpartition(".")[2] == "stage" else None
    calls = [call for call in (results.values() if isinstance(results, dict) else [])
             if isinstance(call, dict) and "start" in call and "end" in call]
    if not calls:
        return [entry]
    parts = [{**entry, "end": _epoch(calls[0]["start"]), "changed": False}]
    for call in calls:
        parts.append({**entry, "task": call["name"], "action": call["module"],
                      "status": "failed" if call.get("failed") else "ok",
                      "changed": bool(call.get("changed")),
                      "start": _epoch(call["start"]), "end": _epoch(call["end"])})
    return parts


def _epoch(shown):
    return datetime.datetime.strptime(shown, STAGE_TIME_FORMAT).timestamp()
