"""How the emulated Tekton controller runs a step: a pluggable executor chosen per step.

The controller turns each step of a TaskRun into a `StepContext` (everything resolved: image,
script, command, args, env, workspace directories, the results directory, a log writer) and asks
the `ExecutorTable` which `StepExecutor` runs it: the first entry whose image pattern (and script
pattern, if given) matches. A `StepOutcome` says how it ended: the exit code decides the step's,
and so the TaskRun's, outcome, as in Tekton. Results are what the step wrote into
`results_dir/<name>` (Tekton's `$(results.<name>.path)`), plus any the outcome names.

Executors run on worker threads, one TaskRun at a time per thread, never on the API server's
loop: they may take minutes (a real image build). They must return soon after
`context.cancelled` is set (the TaskRun was cancelled or timed out) and should use
`context.sleep()` rather than `time.sleep()` to spend time, which follows the emulator's clock.

The default table holds one entry, the `SimulatedExecutor`, for every image. Real executors (git
clone, buildah, helm: emulator/builds/) register entries in front of it.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SIMULATED_RESULT_PREFIX = "simulated-"


@dataclass
class StepContext:
    namespace: str
    task_run: str  # the TaskRun's name
    pipeline_run: str  # "" for a TaskRun that no PipelineRun owns
    pipeline_task: str  # the PipelineTask's name ("" when standalone)
    task: str  # the Task's name (taskRef) or "" for an embedded taskSpec
    step: str  # the step's name
    index: int  # its position in the Task
    image: str
    script: str  # after substitution; "" when the step has none
    command: list[str]
    args: list[str]
    env: dict[str, str]
    working_dir: str
    params: dict  # the TaskRun's params after defaults: name -> string / list / dict
    workspaces: dict[str, Path]  # workspace name -> a real directory
    results_dir: Path  # write a result R to results_dir / R
    result_names: list[str]  # the results the Task declares
    log: Callable[[str], None]  # appends text to the step's container log (`step-<name>`)
    cancelled: threading.Event
    clock: Callable[[], float] = time.time  # the emulator's clock, in seconds since the epoch

    @property
    def container(self) -> str:
        return f"step-{self.step}"

    def sleep(self, seconds: float) -> bool:
        """Let `seconds` pass on the emulator's clock (tests can advance it); False when the step
        was cancelled meanwhile."""
        deadline = self.clock() + seconds
        while not self.cancelled.is_set():
            remaining = deadline - self.clock()
            if remaining <= 0:
                return True
            self.cancelled.wait(min(remaining, 0.05))
        return False


@dataclass
class StepOutcome:
    exit_code: int = 0
    results: dict[str, str] = field(default_factory=dict)


class StepExecutor:
    """Runs one step. Subclasses override `run`."""

    name = "executor"

    def run(self, step: StepContext) -> StepOutcome:
        raise NotImplementedError


@dataclass
class Entry:
    image: re.Pattern
    script: re.Pattern | None
    executor: StepExecutor
    description: str


class ExecutorTable:
    """Which executor runs a step, by image (and script): the first matching entry wins."""

    def __init__(self, fallback: StepExecutor):
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self.fallback = fallback

    def register(
        self, image: str, executor: StepExecutor, script: str | None = None, description: str = ""
    ) -> None:
        """Steps whose image matches the regular expression `image` (searched) and, when given,
        whose script matches `script` (searched) run on `executor`; later registrations come after
        earlier ones, all before the fallback."""
        entry = Entry(re.compile(image), re.compile(script) if script else None, executor, description)
        with self._lock:
            self._entries.append(entry)

    def unregister(self, executor: StepExecutor) -> None:
        with self._lock:
            self._entries = [e for e in self._entries if e.executor is not executor]

    def choose(self, image: str, script: str) -> StepExecutor:
        with self._lock:
            entries = list(self._entries)
        for entry in entries:
            if entry.image.search(image) and (entry.script is None or entry.script.search(script)):
                return entry.executor
        return self.fallback

    def describe(self) -> list[tuple[str, str, str]]:
        """(image pattern, script pattern, executor name) rows, the fallback last."""
        with self._lock:
            rows = [
                (e.image.pattern, e.script.pattern if e.script else "", e.executor.name)
                for e in self._entries
            ]
        return rows + [(".*", "", self.fallback.name)]


@dataclass
class StepBehaviour:
    """What a test makes a simulated step do (see `StepControls.script`)."""

    task: re.Pattern
    step: re.Pattern
    exit_code: int = 0
    log: str = ""
    duration: float = 0.0
    results: dict[str, str] = field(default_factory=dict)


class StepControls:
    """Test controls for simulated steps: fail with an exit code and log lines, take a given time on
    the emulator's clock, or emit given results. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._behaviours: list[StepBehaviour] = []

    def script(
        self,
        task: str = ".*",
        step: str = ".*",
        exit_code: int = 0,
        log: str = "",
        duration: float = 0.0,
        results: dict[str, str] | None = None,
    ) -> None:
        """Simulated steps whose pipeline task (or, standalone, TaskRun) name fully matches `task`
        and whose step name fully matches `step` log `log`, take `duration` seconds, end with
        `exit_code` and report `results` (on top of the derived ones). The latest match wins."""
        if duration < 0:
            raise ValueError(f"a step duration must not be negative, got {duration}")
        if not 0 <= exit_code <= 255:
            raise ValueError(f"an exit code is 0..255, got {exit_code}")
        behaviour = StepBehaviour(
            re.compile(task), re.compile(step), exit_code, log, float(duration), dict(results or {})
        )
        with self._lock:
            self._behaviours.append(behaviour)

    def clear(self) -> None:
        with self._lock:
            self._behaviours.clear()

    def find(self, task: str, step: str) -> StepBehaviour | None:
        with self._lock:
            for behaviour in reversed(self._behaviours):
                if behaviour.task.fullmatch(task) and behaviour.step.fullmatch(step):
                    return behaviour
        return None


_LITERAL_WRITE = re.compile(
    r"""(?:echo(?:\s+-n)?|printf(?:\s+(?:'%s'|"%s"))?)\s+"""
    r"""(?P<value>'[^'$`]*'|"[^"$`\\]*"|[^\s'"$`|;&<>]+)\s*>{1,2}\s*["']?(?P<path>[^\s'";&|]+)"""
)


class SimulatedExecutor(StepExecutor):
    """Runs nothing: logs that the step is simulated and its script, and gives results.

    Results: a result is written when the step's script, command or args name its path
    (`$(results.R.path)`, i.e. /tekton/results/R). Its value is the literal the script writes there
    when that is a plain `echo [-n] VALUE > path` or `printf '%s' VALUE > path`; otherwise one
    derived from the step's inputs (Task name, step, result name, params): for a result whose name
    ends in DIGEST, `sha256:` and the SHA-256 of those inputs; for any other, `simulated-` and its
    first 16 hex digits. Same inputs, same value: reruns are reproducible.
    """

    name = "simulated"

    def __init__(self, controls: StepControls | None = None):
        self.controls = controls or StepControls()

    def run(self, step: StepContext) -> StepOutcome:
        behaviour = self.controls.find(step.pipeline_task or step.task_run, step.step)
        step.log(f"[simulated] step {step.step!r} (image {step.image}) was not run; its script:\n")
        shown = step.script or shlex.join(step.command + step.args)
        if shown:
            step.log(shown if shown.endswith("\n") else shown + "\n")
        if behaviour and behaviour.duration and not step.sleep(behaviour.duration):
            return StepOutcome(exit_code=1)
        if behaviour and behaviour.log:
            step.log(behaviour.log if behaviour.log.endswith("\n") else behaviour.log + "\n")
        results = derived_results(step)
        if behaviour:
            results.update(behaviour.results)
        for name, value in results.items():
            (step.results_dir / name).write_text(value)
        return StepOutcome(exit_code=behaviour.exit_code if behaviour else 0)


def derived_results(step: StepContext) -> dict[str, str]:
    text = "\n".join([step.script, *step.command, *step.args])
    paths = {name: (f"/tekton/results/{name}", str(step.results_dir / name)) for name in step.result_names}
    literal = {}
    for match in _LITERAL_WRITE.finditer(text):
        value = match["value"]
        if value[:1] in "'\"" and value[-1:] == value[:1]:
            value = value[1:-1]
        literal[match["path"]] = value
    results = {}
    for name, (container_path, host_path) in paths.items():
        if container_path not in text and host_path not in text:
            continue
        written = literal.get(host_path, literal.get(container_path))
        if written is not None:
            results[name] = written
            continue
        inputs = (step.task or step.pipeline_task, step.step, name, sorted(step.params.items(), key=str))
        digest = hashlib.sha256(repr(inputs).encode()).hexdigest()
        if name.upper().endswith("DIGEST"):
            results[name] = f"sha256:{digest}"
        else:
            results[name] = SIMULATED_RESULT_PREFIX + digest[:16]
    return results
