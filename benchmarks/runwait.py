"""Run-wait latency (issue 17): how soon `tekton_pipelinerun` returns once the Tekton controller
has marked its run finished, and what following a run costs the API server.

Emulated cluster only (a real cluster here has Tekton's CRDs but no controller to run a run). Each
repetition applies, untimed, the objects provision.yml makes (benchmarks/manifests.py) plus a
registry secret in fresh namespaces, then runs benchmarks/playbooks/run-wait.yml: one
tekton_pipelinerun task that starts a run of health-cd and waits for it. The steps are simulated
(no real builds); the three builds each hold `build_seconds` on the emulator's clock, so the wait
is long enough to show whether anything polls.

- *finished*: the controller's clock right after it stored the run's final status (its hook
  ``TektonController.on_run_finished``; the condition's lastTransitionTime has whole seconds only);
- *returned*: the task's end as Ansible's callback saw it (benchmarks/callback_plugins);
- latency = returned - finished. Both clocks are this machine's (the emulator runs in this process).
- Requests while waiting: from the request that created the run to *finished*, from the
  emulator's request log; *after the watches opened*: those that came once the task's last WATCH
  was open (a follower that polls sends them all the time; one that watches sends none).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.contenders import BENCH_PLAYBOOKS, PROJECT_BIN, ProvisionPlaybook, Run
from benchmarks.harness import RUN_TIMEOUT, Spread, repetition_names
from benchmarks.manifests import provision_and_definition_objects, role_defaults, write_manifests
from benchmarks.requests_log import Request, RequestSummary, summarize

REGISTRY_SECRET = "bench-registry"
LATENCY_TARGET = 0.5  # seconds, issue 17
RUN_TASK_ACTION = "tekton_pipelinerun"


class RunWaitPlaybook(ProvisionPlaybook):
    key = "run-wait"
    label = "tekton-cd `tekton_pipelinerun` (wait)"
    playbook = BENCH_PLAYBOOKS / "run-wait.yml"


@dataclass
class RunWaitRecord:
    repetition: int  # 0.. warm-ups first
    rc: int
    launched: float
    exited: float
    requests: list[Request]
    profile: list[dict] = field(default_factory=list)
    finished: float | None = None  # the controller's clock when the run's final status was stored
    reason: str = ""  # the run's Succeeded condition reason
    output_tail: str = ""

    @property
    def returned(self) -> float | None:
        ends = [
            entry["end"]
            for entry in self.profile
            if entry.get("event") == "task" and entry["action"].endswith(RUN_TASK_ACTION)
        ]
        return ends[-1] if ends else None

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.finished is not None and self.returned is not None

    @property
    def latency(self) -> float | None:
        return self.returned - self.finished if self.ok else None

    @property
    def created(self) -> float | None:
        """When the request creating the run arrived."""
        posts = [r for r in self.requests if r.verb == "POST" and r.path.endswith("/pipelineruns")]
        return posts[0].time if posts else None

    def waiting(self) -> list[Request]:
        """The requests from the run's creation (excluded) to its end."""
        if self.created is None or self.finished is None:
            return []
        return [r for r in self.requests if self.created < r.time <= self.finished]

    def after_watches(self) -> list[Request]:
        """Requests that came once the last WATCH of the wait was open, until the run ended."""
        waiting = self.waiting()
        watches = [r for r in waiting if r.category == "watch"]
        if not watches:
            return waiting
        return [r for r in waiting if r.time > watches[-1].time]

    @property
    def wait_seconds(self) -> float | None:
        if self.created is None or self.finished is None:
            return None
        return self.finished - self.created


@dataclass
class RunWaitResults:
    records: list[RunWaitRecord]  # measured repetitions only
    warmups: int
    build_seconds: float
    seconds: float  # the whole part's wall time

    @property
    def failures(self) -> list[RunWaitRecord]:
        return [record for record in self.records if not record.ok]

    def latency(self) -> Spread | None:
        return Spread.of([r.latency for r in self.records if r.ok])

    def exit_after_finish(self) -> Spread | None:
        return Spread.of([r.exited - r.finished for r in self.records if r.ok])

    def wait(self) -> Spread | None:
        return Spread.of([r.wait_seconds for r in self.records if r.ok and r.wait_seconds is not None])

    def waiting_summary(self) -> RequestSummary | None:
        """The median repetition's requests while waiting."""
        summaries = sorted((summarize(r.waiting()) for r in self.records if r.ok), key=lambda s: s.total)
        return summaries[(len(summaries) - 1) // 2] if summaries else None

    def per_minute(self) -> Spread | None:
        """Requests per minute while waiting (creation to end), per repetition."""
        return Spread.of(
            [len(r.waiting()) * 60 / r.wait_seconds for r in self.records if r.ok and r.wait_seconds]
        )

    def after_watches_per_minute(self) -> Spread | None:
        values = []
        for record in self.records:
            if not record.ok:
                continue
            watches = [r for r in record.waiting() if r.category == "watch"]
            start = watches[-1].time if watches else record.created
            span = record.finished - start
            if span > 0:
                values.append(len(record.after_watches()) * 60 / span)
        return Spread.of(values)


def run_wait(target, workdir: Path, repetitions: int, warmups: int, build_seconds: float = 5.0, log=print):
    """Against a started EmulatedTarget: warm-ups (discarded), then `repetitions` runs."""
    emulator = target.emulator
    finished: dict[str, tuple[float, str]] = {}  # namespace -> (when, reason)
    lock = threading.Lock()

    def on_finished(namespace, _name, condition, when):
        with lock:
            finished.setdefault(namespace, (when.timestamp(), condition.get("reason", "")))

    stop_listening = emulator.tekton.on_run_finished(on_finished)
    emulator.tekton.steps.script(task="build-.*", duration=build_seconds)
    contender = RunWaitPlaybook()
    began = time.monotonic()
    records = []
    try:
        for repetition in range(warmups + repetitions):
            kind = "warm-up" if repetition < warmups else f"repetition {repetition - warmups + 1}"
            log(f"  {target.label}: run-wait, {kind}")
            names = repetition_names(repetition, contender, secrets.token_hex(2))
            rundir = workdir / "runs" / f"run-wait-{repetition}"
            rundir.mkdir(parents=True, exist_ok=True)
            try:
                _arrange(target, names, rundir)
                record = _invoke(target, contender, names, rundir, repetition, workdir)
                with lock:
                    record.finished, record.reason = finished.get(names.pipeline_namespace, (None, ""))
            finally:
                target.delete_namespaces(names.namespaces)
            if repetition >= warmups:
                records.append(record)
    finally:
        emulator.tekton.steps.clear()
        stop_listening()
    return RunWaitResults(records, warmups, build_seconds, time.monotonic() - began)


def _arrange(target, names, rundir: Path) -> None:
    """The Pipeline, its Tasks and the accounts (as provision.yml leaves them) and a registry secret,
    applied by kubectl; not timed."""
    objects = provision_and_definition_objects(names, target.server, target.ca_pem)
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": REGISTRY_SECRET, "namespace": names.pipeline_namespace},
            "type": "Opaque",
            "stringData": {"config.json": "{}"},
        }
    )
    manifests = write_manifests(objects, rundir / "manifests.yml")
    subprocess.run(
        [str(PROJECT_BIN / "kubectl"), "--kubeconfig", str(target.kubeconfig), "apply", "--server-side",
         "--validate=false", "-f", str(manifests)],
        check=True, capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )


def _invoke(target, contender, names, rundir: Path, repetition: int, workdir: Path) -> RunWaitRecord:
    defaults = role_defaults()
    extra = {
        "bench_namespace": names.pipeline_namespace,
        "bench_registry_secret": REGISTRY_SECRET,
        "bench_credential_secret": defaults["pipeline_accounts_credential_secret"],
        "bench_builder": defaults["pipeline_accounts_builder"],
        "bench_deployer": defaults["pipeline_accounts_deployer"],
    }
    run = Run(names, [], rundir / "manifests.yml", target.kubeconfig, rundir, extra_vars=extra)
    profile_file = rundir / "profile.jsonl"
    profile_file.unlink(missing_ok=True)
    command = contender.command(run)
    environment = contender.environment(run, workdir, profile_file)
    target.begin_counting()
    launched = time.time()
    try:
        completed = subprocess.run(
            command, cwd=rundir, env=environment, capture_output=True, text=True, timeout=RUN_TIMEOUT,
            check=False,
        )
        rc, output = completed.returncode, completed.stdout + completed.stderr
    except subprocess.TimeoutExpired as expired:
        rc, output = -1, f"timed out after {RUN_TIMEOUT} s: {expired.stdout or ''}"
    exited = time.time()
    (rundir / "output.txt").write_text(output)
    profile = []
    if profile_file.exists():
        profile = [json.loads(line) for line in profile_file.read_text().splitlines() if line.strip()]
    return RunWaitRecord(
        repetition, rc, launched, exited, target.counted(), profile,
        output_tail="\n".join(output.strip().splitlines()[-15:]) if rc else "",
    )
