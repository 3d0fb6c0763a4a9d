"""Runs every contender against one cluster: warm-up, then N repetitions, each a first converge
in fresh namespaces followed by a no-op re-run of the same command, interleaved across contenders
(repetition 1 of every contender, then repetition 2, ...) so that a change in the machine's load
during the run falls on all of them alike. Wall time is taken around the process; the request log
and the callback's task times are kept per run for the report."""

from __future__ import annotations

import json
import secrets
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.contenders import Contender, Run
from benchmarks.manifests import Names, provision_and_definition_objects, write_manifests
from benchmarks.requests_log import Request, RequestSummary, between, summarize


def repetition_names(repetition: int, contender: Contender, tag: str) -> Names:
    """The two fresh namespaces of one repetition of one contender."""
    return Names(
        f"b{repetition}-{contender.key[:14]}-ci-{tag}", f"b{repetition}-{contender.key[:14]}-app-{tag}"
    )


PHASES = ("first", "noop")
PHASE_LABELS = {"first": "first converge", "noop": "no-op"}
RUN_TIMEOUT = 600


@dataclass
class RunRecord:
    contender: str
    phase: str
    repetition: int  # 0 is the warm-up
    seconds: float
    rc: int
    launched: float
    finished: float
    requests: list[Request] | None  # None: not counted in this run (timed runs on a real cluster)
    profile: list[dict] = field(default_factory=list)
    output_tail: str = ""
    counting_only: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass
class TaskTime:
    name: str
    action: str
    seconds: float
    requests: int
    api_span: float  # from the task's first request to its last
    status: str = "ok"  # ok | failed | skipped | unreachable

    @property
    def overhead(self) -> float:
        """The task's time outside its API exchange: set-up before the first request and result
        handling after the last (it includes the last request's own round trip)."""
        return max(0.0, self.seconds - self.api_span)


def task_times(record: RunRecord) -> list[TaskTime]:
    """Each task of an Ansible run, with the requests the server saw while it ran."""
    tasks = []
    for entry in record.profile:
        if entry.get("event") != "task":
            continue
        during = between(record.requests, entry["start"], entry["end"]) if record.requests is not None else []
        span = (during[-1].time - during[0].time) if during else 0.0
        tasks.append(
            TaskTime(
                entry["task"],
                entry["action"],
                entry["end"] - entry["start"],
                len(during),
                span,
                entry.get("status", "ok"),
            )
        )
    return tasks


def requests_by_action(result) -> dict[str, int]:
    """Requests of the median counted run, summed per module (the requests the server received
    while that module's tasks ran)."""
    if result is None or result.requests() is None:
        return {}
    median_total = result.requests().total
    record = next(
        (r for r in result.counted if r.ok and r.requests is not None and len(r.requests) == median_total),
        None,
    )
    if record is None:
        return {}
    found: dict[str, int] = {}
    for task in task_times(record):
        name = task.action.rpartition(".")[2]
        found[name] = found.get(name, 0) + task.requests
    return found


@dataclass
class Breakdown:
    """One run's wall time split: launch to first task, the tasks, the gaps between them, and
    from the last task's end to the process's exit."""

    total: float
    startup: float
    tasks: float
    module_tasks: float
    task_count: int
    module_task_count: int
    exit: float

    @property
    def gaps(self) -> float:
        return max(0.0, self.total - self.startup - self.tasks - self.exit)


def breakdown(record: RunRecord, is_module_task) -> Breakdown | None:
    tasks = [entry for entry in record.profile if entry.get("event") == "task"]
    if not tasks:
        return None
    durations = [entry["end"] - entry["start"] for entry in tasks]
    module = [
        d
        for entry, d in zip(tasks, durations, strict=True)
        if is_module_task(entry["action"]) and entry.get("status") != "skipped"
    ]
    return Breakdown(
        record.seconds,
        tasks[0]["start"] - record.launched,
        sum(durations),
        sum(module),
        len(tasks),
        len(module),
        max(0.0, record.finished - tasks[-1]["end"]),
    )


def startup_seconds(record: RunRecord) -> float | None:
    """From launching ansible-playbook to its first task starting (None without a task)."""
    starts = [entry["start"] for entry in record.profile if entry.get("event") == "task"]
    return min(starts) - record.launched if starts else None


@dataclass
class Spread:
    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Spread | None:
        return cls(statistics.median(values), min(values), max(values), len(values)) if values else None


@dataclass
class PhaseResult:
    contender: Contender
    phase: str
    timed: list[RunRecord]
    counted: list[RunRecord]

    @property
    def failures(self) -> list[RunRecord]:
        return [record for record in self.timed + self.counted if not record.ok]

    @property
    def time(self) -> Spread | None:
        return Spread.of([record.seconds for record in self.timed if record.ok])

    def summaries(self) -> list[RequestSummary]:
        return [
            summarize(record.requests) for record in self.counted if record.ok and record.requests is not None
        ]

    def requests(self) -> RequestSummary | None:
        """The median repetition's requests (by total); None when no run was counted."""
        summaries = sorted(self.summaries(), key=lambda summary: summary.total)
        return summaries[(len(summaries) - 1) // 2] if summaries else None

    def request_totals(self) -> Spread | None:
        return Spread.of([summary.total for summary in self.summaries()])

    def writes(self) -> Spread | None:
        return Spread.of([summary.writes for summary in self.summaries()])

    def tasks(self) -> list[tuple[TaskTime, Spread, Spread]]:
        """Per task (in run order): the median counted repetition's task (its requests), the spread
        of its time over the timed repetitions, and of its overhead over the counted ones (overhead
        needs the request times; on a real cluster only the counting repetition has them)."""
        counted = [task_times(record) for record in self.counted if record.ok and record.requests is not None]
        timed = [task_times(record) for record in self.timed if record.ok and record.profile]
        if not counted:
            return []
        shortest = min(len(run) for run in counted + timed)
        rows = []
        for index in range(shortest):
            same = sorted((run[index] for run in counted), key=lambda task: task.seconds)
            times = [run[index].seconds for run in timed] or [task.seconds for task in same]
            rows.append(
                (
                    same[(len(same) - 1) // 2],
                    Spread.of(times),
                    Spread.of([task.overhead for task in same]),
                )
            )
        return rows

    def median_run(self) -> RunRecord | None:
        """The timed repetition of median wall time."""
        runs = sorted((record for record in self.timed if record.ok), key=lambda record: record.seconds)
        return runs[(len(runs) - 1) // 2] if runs else None

    def startup(self) -> Spread | None:
        return Spread.of(
            [
                value
                for record in self.timed
                if record.ok
                for value in [startup_seconds(record)]
                if value is not None
            ]
        )


@dataclass
class TargetResults:
    target_label: str
    version: str
    repetitions: int
    warmups: int
    phases: dict[tuple[str, str], PhaseResult]
    skipped: dict[str, str]  # contender key -> reason
    contenders: list[Contender]
    counts_timed_runs: bool
    object_summary: str
    seconds: float

    def phase(self, key: str, phase: str) -> PhaseResult | None:
        return self.phases.get((key, phase))


class Harness:
    def __init__(
        self,
        target,
        contenders: list[Contender],
        workdir: Path,
        repetitions: int = 5,
        warmups: int = 1,
        objects=provision_and_definition_objects,
        log=print,
        names=repetition_names,
        label: str = "",
    ):
        self.target = target
        self.contenders = contenders
        self.workdir = Path(workdir)
        self.repetitions = repetitions
        self.warmups = warmups
        self.objects = objects
        self.log = log
        self.names = names  # (repetition, contender, tag) -> what objects() and the contender take
        self.label = label or target.label

    def run(self) -> TargetResults:
        began = time.monotonic()
        skipped = {c.key: reason for c in self.contenders for reason in [c.available()] if reason}
        active = [c for c in self.contenders if c.key not in skipped]
        for key, reason in skipped.items():
            self.log(f"  skipping {key}: {reason}")
        records: list[RunRecord] = []
        object_summary = ""
        for repetition in range(self.warmups + self.repetitions):
            for contender in active:
                kind = (
                    "warm-up" if repetition < self.warmups else f"repetition {repetition - self.warmups + 1}"
                )
                self.log(f"  {self.label}: {contender.key}, {kind}")
                new, object_summary = self._repetition(
                    contender, repetition, self.target.kubeconfig, counted=self.target.counts_timed_runs
                )
                records += new
        if not self.target.counts_timed_runs:
            # One more repetition each through the counting proxy, after a warm-up through it too
            # (discovery caches are per server address, and the proxy's is a new one).
            for contender in active:
                for warmup in range(min(self.warmups, 1)):
                    self.log(f"  {self.label}: {contender.key}, warm-up through the counting proxy")
                    self._repetition(
                        contender,
                        self.warmups + self.repetitions + warmup,
                        self.target.counting_kubeconfig,
                        counted=False,
                        counting_only=True,
                    )
                self.log(f"  {self.label}: {contender.key}, counting repetition")
                new, _ = self._repetition(
                    contender,
                    self.warmups + self.repetitions + 1,
                    self.target.counting_kubeconfig,
                    counted=True,
                    counting_only=True,
                )
                records += new
        phases = {}
        for contender in active:
            for phase in PHASES:
                mine = [r for r in records if r.contender == contender.key and r.phase == phase]
                timed = [r for r in mine if r.repetition >= self.warmups and not r.counting_only]
                counted = [
                    r
                    for r in mine
                    if r.requests is not None and (r.counting_only or r.repetition >= self.warmups)
                ]
                phases[(contender.key, phase)] = PhaseResult(contender, phase, timed, counted)
        return TargetResults(
            self.target.label,
            self.target.version(),
            self.repetitions,
            self.warmups,
            phases,
            skipped,
            active,
            self.target.counts_timed_runs,
            object_summary,
            time.monotonic() - began,
        )

    def _repetition(
        self,
        contender: Contender,
        repetition: int,
        kubeconfig: Path,
        counted: bool,
        counting_only: bool = False,
    ) -> tuple[list[RunRecord], str]:
        from benchmarks.manifests import summary

        names = self.names(repetition, contender, secrets.token_hex(2))
        rundir = (
            self.workdir / "runs" / f"{contender.key}-{repetition}{'-counting' if counting_only else ''}"
        )
        rundir.mkdir(parents=True, exist_ok=True)
        server, ca_pem = _server_of(kubeconfig)
        objects = self.objects(names, server, ca_pem)
        manifests = write_manifests(objects, rundir / "manifests.yml")
        run = Run(names, objects, manifests, kubeconfig, rundir, extra_vars=names.extra_vars())
        records = []
        try:
            for phase in PHASES:
                records.append(self._invoke(contender, run, phase, repetition, counted, counting_only))
                if not records[-1].ok:
                    break
        finally:
            if contender.runs_modules:
                self.target.delete_namespaces(names.namespaces)
        return records, summary(objects)

    def _invoke(self, contender, run, phase, repetition, counted, counting_only) -> RunRecord:
        profile_file = run.workdir / f"{phase}-profile.jsonl"
        profile_file.unlink(missing_ok=True)
        command = contender.command(run)
        environment = contender.environment(run, self.workdir, profile_file)
        if counted:
            self.target.begin_counting()
        launched = time.time()
        started = time.perf_counter()
        try:
            completed = subprocess.run(
                command,
                cwd=run.workdir,
                env=environment,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,
            )
            rc, output = completed.returncode, completed.stdout + completed.stderr
        except subprocess.TimeoutExpired as expired:
            rc, output = -1, f"timed out after {RUN_TIMEOUT} s: {expired.stdout or ''}"
        seconds = time.perf_counter() - started
        finished = time.time()
        requests = self.target.counted() if counted else None
        (run.workdir / f"{phase}-output.txt").write_text(output)
        profile = []
        if profile_file.exists():
            profile = [json.loads(line) for line in profile_file.read_text().splitlines() if line.strip()]
        return RunRecord(
            contender.key,
            phase,
            repetition,
            seconds,
            rc,
            launched,
            finished,
            requests,
            profile,
            "\n".join(output.strip().splitlines()[-15:]) if rc else "",
            counting_only,
        )


def _server_of(kubeconfig: Path) -> tuple[str, str]:
    import yaml

    from benchmarks.clusters import _ca_pem, _current_cluster

    config = yaml.safe_load(Path(kubeconfig).read_text())
    cluster = _current_cluster(config, Path(kubeconfig))
    return cluster["server"], _ca_pem(cluster, Path(kubeconfig))
