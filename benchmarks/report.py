"""docs/benchmarks.md from the results: machine, method, per cluster the times (median and spread,
as ratios to the baseline of the same run), requests and writes, each target of issue 11 with
whether it is met and, where missed, by how much and where the time goes; then the scaling
(benchmarks/report_scaling.py, with its plot) and run-wait (benchmarks/report_run_wait.py) parts
and every target of issue 17."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks import report_run_wait, report_scaling
from benchmarks.harness import (
    PHASE_LABELS,
    PHASES,
    PhaseResult,
    Spread,
    TargetResults,
    breakdown,
    requests_by_action,
)
from benchmarks.machine import Machine
from benchmarks.requests_log import kinds_read_per_object
from benchmarks.runwait import RunWaitResults
from benchmarks.scaling import ScalingResults
from benchmarks.targets import Check

OURS = "provision"
MODULE_PROCESSES = "provision-module-process"
BASELINE = "kubernetes-core-one-task"
EMULATED_LABEL = "emulated cluster"  # benchmarks.clusters.EmulatedTarget.label
FALLBACK_BASELINE = "kubectl"  # when kubernetes.core is not installed (the quick test)
KUBECTL = "kubectl"
EMPTY = "empty-playbook"
MODULE_ACTIONS = ("tekton_cd.pipeline.", "kubernetes.core.")
KINDS_MANAGED = 7  # Namespace, ServiceAccount, Role, RoleBinding, Secret, Task, Pipeline
REVIEW_MODULE = "k8s_access_review"
OVERHEAD_TARGET = 0.1
PER_OBJECT = "kubernetes-core-per-object"
PER_OBJECT_TARGET = 0.15  # issue 17: provision.yml at most 0.15x the one-task-per-object playbook


@dataclass
class BenchResults:
    """Everything one `make bench` measured: the comparison per cluster, the scaling per cluster,
    the run-wait latency (emulated cluster only)."""

    machine: Machine
    comparison: list[TargetResults] = field(default_factory=list)
    scaling: list[ScalingResults] = field(default_factory=list)
    run_wait: RunWaitResults | None = None
    command: str = "make bench"  # how it was measured, as the report's first line says

    def failed(self) -> bool:
        return (
            any(phase.failures for results in self.comparison for phase in results.phases.values())
            or any(
                phase.failures
                for scaling in self.scaling
                for results in scaling.by_count.values()
                for phase in results.phases.values()
            )
            or bool(self.run_wait and self.run_wait.failures)
        )


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def spread(value: Spread | None) -> str:
    return "–" if value is None else f"{value.low:.2f}–{value.high:.2f}"


def baseline_key(results: TargetResults) -> str:
    return BASELINE if results.phase(BASELINE, "first") else FALLBACK_BASELINE


def ratio(results: TargetResults, key: str, phase: str, against: str) -> float | None:
    mine, theirs = results.phase(key, phase), results.phase(against, phase)
    if not mine or not theirs or not mine.time or not theirs.time or theirs.time.median == 0:
        return None
    return mine.time.median / theirs.time.median


def is_module_task(action: str) -> bool:
    return action.startswith(MODULE_ACTIONS)


def module_overheads(phase: PhaseResult) -> list[tuple[str, float, float]]:
    """(task name, median time, median overhead) of each module task that ran (not skipped)."""
    rows = []
    for task, times, overheads in phase.tasks():
        if is_module_task(task.action) and task.requests:
            rows.append((task.name, times.median, overheads.median))
    return rows


def where_time_goes(results: TargetResults, phase: str) -> str:
    """How provision.yml's median run splits (start-up, tasks, exit) next to the baseline's median
    run, then the cost of a task that sends nothing and the largest module task."""
    ours = results.phase(OURS, phase)
    mine = ours.median_run() if ours else None
    split = breakdown(mine, is_module_task) if mine else None
    if split is None:
        return ""
    text = (
        f"Median run {split.total:.2f} s: start-up to the first task {split.startup:.2f} s, "
        f"{split.task_count} tasks {split.tasks:.2f} s ({split.module_task_count} module tasks that ran "
        f"{split.module_tasks:.2f} s), between tasks {split.gaps:.2f} s, after the last task to exit "
        f"{split.exit:.2f} s"
    )
    base = results.phase(BASELINE, phase)
    theirs = base.median_run() if base else None
    other = breakdown(theirs, is_module_task) if theirs else None
    if other is not None:
        text += (
            f"; the baseline's median run {other.total:.2f} s: start-up {other.startup:.2f} s, "
            f"{other.task_count} task(s) {other.tasks:.2f} s, exit {other.exit:.2f} s"
        )
    empty = results.phase(EMPTY, phase)
    if empty and empty.time:
        text += f"; an empty ansible-playbook {empty.time.median:.2f} s in all"
    floor = ansible_task_floor(ours)
    if floor is not None:
        text += (
            f". A task that sends no request (fail, set_fact, debug, skipped) costs Ansible {floor:.3f} s "
            "here (median), the floor under any module task's overhead"
        )
    module = [
        (task, times) for task, times, _ in ours.tasks() if is_module_task(task.action) and task.requests
    ]
    if module:
        largest, largest_time = max(module, key=lambda pair: pair[1].median)
        text += (
            f'; the largest task is "{short_task(largest.name)}", {largest_time.median:.2f} s for '
            f"{largest.requests} requests"
        )
    return text + "."


def paired_ratio(results: TargetResults, key: str, phase: str, against: str) -> float | None:
    """Median over repetitions of (this tool's time / the other's time in the same repetition):
    each pair ran back to back, so a change of load between repetitions cancels out."""
    mine, theirs = results.phase(key, phase), results.phase(against, phase)
    if not mine or not theirs:
        return None
    by_repetition = {record.repetition: record.seconds for record in theirs.timed if record.ok}
    ratios = sorted(
        record.seconds / by_repetition[record.repetition]
        for record in mine.timed
        if record.ok and by_repetition.get(record.repetition)
    )
    return ratios[(len(ratios) - 1) // 2] if ratios else None


def ansible_task_floor(phase: PhaseResult) -> float | None:
    """Median time of the tasks that sent no request: Ansible's own cost of running a task."""
    values = sorted(times.median for task, times, _ in phase.tasks() if not task.requests)
    return values[(len(values) - 1) // 2] if values else None


def short_task(name: str) -> str:
    return name.split(" : ", 1)[-1]


def checks(results: TargetResults) -> list[Check]:
    found = []
    has_baseline = results.phase(BASELINE, "first") is not None
    for phase in PHASES:
        label = PHASE_LABELS[phase]
        value = ratio(results, OURS, phase, BASELINE) if has_baseline else None
        if value is None:
            found.append(
                Check(
                    f"{label}: `provision.yml` ≤ 1.0× one kubernetes.core task",
                    None,
                    "not measured (kubernetes.core not installed)" if not has_baseline else "no result",
                )
            )
        else:
            met = value <= 1.0
            paired = paired_ratio(results, OURS, phase, BASELINE)
            text = f"{value:.2f}× (ratio of medians; paired by repetition {paired:.2f}×)"
            if not met:
                text += f", {value - 1:.2f}× over. {where_time_goes(results, phase)}"
            found.append(Check(f"{label}: `provision.yml` ≤ 1.0× one kubernetes.core task", met, text))
    ours = results.phase(OURS, "first")
    overheads = module_overheads(ours) if ours else []
    noop = results.phase(OURS, "noop")
    overheads += module_overheads(noop) if noop else []
    if overheads:
        worst = max(overheads, key=lambda row: row[2])
        values = sorted(row[2] for row in overheads)
        median = values[(len(values) - 1) // 2]
        met = worst[2] <= OVERHEAD_TARGET
        text = f'median {median:.3f} s, worst {worst[2]:.3f} s ("{short_task(worst[0])}")' + (
            "" if met else f": {worst[2] - OVERHEAD_TARGET:.3f} s over"
        )
        found.append(Check(f"per module task ≤ {OVERHEAD_TARGET} s of overhead (both phases)", met, text))
    else:
        found.append(
            Check(f"per module task ≤ {OVERHEAD_TARGET} s of overhead", None, "no module task was profiled")
        )
    for phase in PHASES:
        value = ratio(results, OURS, phase, KUBECTL)
        label = f"stretch, {PHASE_LABELS[phase]}: within 2× of kubectl"
        if value is None:
            found.append(Check(label, None, "no result"))
            continue
        text = f"{value:.2f}×"
        if value > 2.0:
            text += f", {value / 2:.1f}× the allowed 2×"
            floor = ratio(results, EMPTY, phase, KUBECTL)
            if floor is not None:
                text += f"; an empty ansible-playbook alone takes {floor:.1f}× kubectl's time"
        found.append(Check(label, value <= 2.0, text))
    if noop and noop.requests():
        requests = noop.requests()
        writes = noop.writes()
        found.append(
            Check("no-op: zero writes", writes.high == 0, f"{writes.median:g} (median; most {writes.high:g})")
        )
        discovery = requests.by_category.get("discovery", 0)
        found.append(
            Check(
                "no-op: no discovery requests with a warm cache",
                discovery == 0,
                f"{discovery} discovery request(s)",
            )
        )
        reviews = requests.by_category.get("review", 0)
        # The access review's own requests: its questions, or on a no-op the reads that show its
        # record still holds (the record, and the RBAC objects it fingerprints).
        review_requests = max(requests_by_action(noop).get(REVIEW_MODULE, 0), reviews)
        others = requests.total - review_requests
        limit = 2 * KINDS_MANAGED
        found.append(
            Check(
                f"no-op: ≤ 2 requests per kind managed ({KINDS_MANAGED} kinds: ≤ {limit}) plus the "
                "access review",
                others <= limit,
                f"{others} besides the access review's {review_requests} ({requests.describe()} in all); "
                + (
                    f"the review asked {reviews} question(s)"
                    if reviews
                    else "the review asked nothing: it read its record and the RBAC objects it fingerprints"
                )
                + ("" if others <= limit else f"; {others - limit} over"),
            )
        )
    else:
        found.append(Check("no-op: zero writes, no discovery, few requests", None, "no counted no-op run"))
    return found


def render(
    results: BenchResults, versions: dict[str, str], command: str, picture_stem: str = "benchmarks"
) -> tuple[str, dict[str, str]]:
    """The report's Markdown and the pictures it links to (file name -> SVG text, to be written
    next to it)."""
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` (code in `benchmarks/`) on {results.machine.date}; do not edit by hand, "
        "run it again. Issue 11 item 5 and issue 17; their targets are checked below.",
        "",
    ]
    lines += _machine_section(results.machine, versions)
    if results.comparison:
        lines += _method_section(results.comparison)
        for target in results.comparison:
            lines += _target_section(target)
    pictures = {}
    if results.scaling:
        lines += report_scaling.method_section(results.scaling)
        for scaling in results.scaling:
            name = f"{picture_stem}-scaling-{_slug(scaling.target_label)}.svg"
            section, pictures[name] = report_scaling.section(scaling, name)
            lines += section
    if results.run_wait:
        lines += report_run_wait.section(results.run_wait)
    lines += _issue17_section(results)
    return "\n".join(lines).rstrip() + "\n", pictures


def _slug(label: str) -> str:
    return label.split()[0].lower()  # "emulated cluster" -> emulated, "real cluster (...)" -> real


def _issue17_section(results: BenchResults) -> list[str]:
    labels = list(
        dict.fromkeys(
            [r.target_label for r in results.comparison] + [s.target_label for s in results.scaling]
        )
    )
    if not labels:
        return []
    lines = ["## Targets of issue 17", ""]
    for label in labels:
        found = []
        comparison = next((r for r in results.comparison if r.target_label == label), None)
        if comparison:
            found += issue17_checks(comparison)
        scaling = next((s for s in results.scaling if s.target_label == label), None)
        if scaling:
            found += report_scaling.checks(scaling)
        if results.run_wait and label == EMULATED_LABEL:
            found += report_run_wait.checks(results.run_wait)
        lines += [f"### {label}", "", "| target | met | measured |", "| --- | --- | --- |"]
        for check in found:
            met = {True: "yes", False: "**no**", None: "not measured"}[check.met]
            lines.append(f"| {check.target} | {met} | {check.measured} |")
        lines.append("")
    return lines


def issue17_checks(results: TargetResults) -> list[Check]:
    """Issue 17's targets for the comparison on provision.yml's objects."""
    found = []
    for phase in PHASES:
        label = PHASE_LABELS[phase]
        for other, limit in ((BASELINE, 1.0), (PER_OBJECT, PER_OBJECT_TARGET)):
            other_label = next((c.label for c in results.contenders if c.key == other), other)
            target = f"`provision.yml`, {label}: ≤ {limit:g}× {other_label}"
            value = ratio(results, OURS, phase, other)
            if value is None:
                found.append(Check(target, None, "not measured"))
                continue
            text = f"{value:.2f}×"
            if value > limit:
                text += f", {value - limit:.2f}× over"
                if other == BASELINE:
                    text += " (where the time goes: the targets of issue 11 above)"
                else:
                    mine = results.phase(OURS, phase).time.median
                    theirs = results.phase(other, phase).time.median
                    text += (
                        f": {mine:.2f} s against the {limit * theirs:.2f} s that {limit:g}× allows "
                        f"({mine - limit * theirs:.2f} s over). {where_time_goes(results, phase)}"
                    )
            found.append(Check(target, value <= limit, text))
        ours = results.phase(OURS, phase)
        mine = ours.requests() if ours else None
        others = {
            key: results.phase(key, phase).requests()
            for key in (KUBECTL, BASELINE, PER_OBJECT)
            if results.phase(key, phase) and results.phase(key, phase).requests()
        }
        target = f"`provision.yml`, {label}: fewer requests than kubectl and both kubernetes.core forms"
        if mine is None or not others:
            found.append(Check(target, None, "not measured"))
        else:
            fewest = min(summary.total for summary in others.values())
            met = mine.total < fewest
            text = f"{mine.describe()}; " + ", ".join(
                f"{next(c.label for c in results.contenders if c.key == key)} {summary.total}"
                for key, summary in others.items()
            )
            if not met:
                text += f"; {mine.total - fewest + 1} over (fewer than {fewest} needed)"
                reviews = mine.by_category.get("review", 0)
                if reviews:
                    text += (
                        f" ({reviews} of ours are the access review's SubjectAccessReviews, which the "
                        "others do not do; without them "
                        f"{mine.total - reviews})"
                    )
            found.append(Check(target, met, text))
    noop = results.phase(OURS, "noop")
    summary = noop.requests() if noop else None
    if summary is None:
        found.append(Check("`provision.yml`, no-op: zero writes, no discovery", None, "no counted no-op run"))
        return found
    writes = noop.writes()
    found.append(
        Check(
            "`provision.yml`, no-op: zero writes",
            writes.high == 0,
            f"{writes.median:g} (most {writes.high:g})",
        )
    )
    discovery = summary.by_category.get("discovery", 0)
    found.append(
        Check(
            "`provision.yml`, no-op: no discovery requests with a warm cache",
            discovery == 0,
            f"{discovery} discovery request(s)" + ("" if discovery == 0 else f", {discovery} over"),
        )
    )
    # A kind of several objects must be one LIST; one GET of a kind's only object costs the same one
    # request and does not grow either (the scaling part shows the no-op's requests for N tenants).
    per_object = {}
    for record in noop.counted:
        for resource, count in kinds_read_per_object(record.requests or []).items():
            per_object[resource] = max(count, per_object.get(resource, 0))
    gets = summary.by_category.get("get", 0)
    found.append(
        Check(
            "`provision.yml`, no-op: a label-selected LIST per kind, no GET per object",
            not per_object,
            f"{summary.describe()}"
            + (
                f"; each of the {gets} GET(s) reads the one object of its kind a call reads"
                if not per_object
                else "; read object by object: "
                + ", ".join(f"{count} GETs of {resource}" for resource, count in per_object.items())
            ),
        )
    )
    return found


def _load_note(machine: Machine) -> str:
    """How far the absolute seconds can be trusted: what else ran says the load average, measured
    before and after (with N CPUs, a load above N means processes waited for a CPU)."""
    busiest = max([*machine.load_at_start[:2], *(machine.load_at_end or ())[:2]])
    advice = ("Read the medians and the ratios between tools measured in the same run, interleaved; the "
              "spread shows how much the load moved them.")
    if busiest > machine.cpus:
        return (f"- The machine was busy around the run (a load average above its {machine.cpus} CPUs at "
                f"the start or the end), so the absolute seconds may carry other work. {advice}")
    return (f"- Nothing else kept the machine busy (load averages at most {busiest:.2f} on "
            f"{machine.cpus} CPUs). {advice}")


def _machine_section(machine: Machine, versions: dict[str, str]) -> list[str]:
    load = ", ".join(f"{value:.2f}" for value in machine.load_at_start)
    end = ", ".join(f"{value:.2f}" for value in machine.load_at_end) if machine.load_at_end else "–"
    lines = [
        "## Machine",
        "",
        f"- {machine.cpus} CPUs, {machine.cpu_model}; Python {machine.python}.",
        f"- Load average (1, 5, 15 min) at the start: {load}; at the end: {end}.",
        _load_note(machine),
        "",
        "| tool | version |",
        "| --- | --- |",
    ]
    lines += [f"| {tool} | {version} |" for tool, version in versions.items()]
    return lines + [""]


def _method_section(all_results: list[TargetResults]) -> list[str]:
    first = all_results[0]
    contenders = first.contenders
    lines = [
        "## What is measured",
        "",
        f"The end state `playbooks/provision.yml` reaches with the `local` inventory (kubeconfig login, "
        f"access review on): {first.object_summary}. The other tools apply the same objects, rendered "
        "from `roles/pipeline_accounts/defaults/main.yml` through the modules' own `desired_*` functions, "
        "and the Tekton Tasks and Pipeline from `roles/pipeline_definitions`' templates, defaults and "
        "vars, labelled by `tekton_resources`' own function (`benchmarks/manifests.py`), as one "
        "multi-document file. Two differences: `provision.yml` issues "
        "the deployer's token by TokenRequest (one more request, and on a first converge one more write), "
        "where the others store the same Secret with a fixed placeholder token; and its access review "
        "keeps a record of the last passing review (the RBAC fingerprint) in a ConfigMap, its own "
        "bookkeeping, written on a first converge and read on a no-op instead of asking every question "
        "again.",
        "",
        f"Each repetition uses fresh namespace names: a first converge, then the same command again "
        f"(no-op). {first.warmups} warm-up repetition(s) per tool are discarded (they fill each tool's "
        "discovery cache, kept in a HOME of its own, and the page cache), then "
        f"{first.repetitions} are measured; the tools take turns within each repetition. Wall time is "
        "the whole process, start-up included. The collection's Python bytecode is compiled before the "
        "first repetition, as `make setup` or a user's first run leaves it "
        "(plugins/plugin_utils/preload.py).",
        "",
        "| tool | command |",
        "| --- | --- |",
    ]
    commands = {
        "provision": "`.venv/bin/ansible-playbook -i inventories/local -e cluster_login_kubeconfig=… "
        "playbooks/provision.yml` (handlers in the worker process: main's action plugin)",
        "provision-module-process": "the same with `TEKTON_CD_MODULE_PROCESS=1`: every module task as a "
        "module process, as before the action plugin (for comparison)",
        "kubernetes-core-one-task": "one `kubernetes.core.k8s` task, `src:` the manifests file, "
        "`apply: true`, `server_side_apply: {field_manager: benchmark}` (benchmark venv)",
        "kubernetes-core-per-object": "one such `kubernetes.core.k8s` task per object, `definition:` inline",
        "kubectl": "`.venv/bin/kubectl apply --server-side --field-manager=benchmark --validate=false -f "
        "manifests.yml` (`--validate=false` on every cluster: the emulator serves no OpenAPI v2 "
        "document for kubectl's client-side validation)",
        "empty-playbook": "`ansible-playbook` of a play with no tasks: the fixed cost of starting Ansible",
    }
    for contender in contenders:
        lines.append(f"| {contender.label} | {commands.get(contender.key, '')} |")
    lines += [
        "",
        "Requests are counted by the API server's side of the connection: on the emulated cluster from "
        "its request log (`emulator/controls.py`), for every measured repetition; on a real cluster, "
        "whose log is not at hand, by a counting reverse proxy on 127.0.0.1 (`benchmarks/proxy.py`) "
        "that the tools reach through a kubeconfig of their own, in one extra repetition per tool that "
        "is not timed (the proxy adds a hop). *Writes* are requests that change stored state: POST, "
        "PUT, PATCH and DELETE, less access reviews and dry runs (a TokenRequest counts as a write). "
        "Verbs: *get* names an object, *list* a collection, *review* is a SubjectAccessReview (or "
        "another review, which stores nothing), *discovery* is `/api`, `/apis/…`, `/version`, `/openapi`.",
        "",
        "Per-task times come from the callback `benchmarks/callback_plugins/bench_profile.py` (like "
        "profile_tasks, with absolute times); the requests the server received while a task ran are "
        "that task's. A module task's *overhead* is its time outside its API exchange: its duration "
        "less the span from its first request to its last (so it includes the last request's own round "
        "trip).",
        "",
    ]
    return lines


def _target_section(results: TargetResults) -> list[str]:
    base = baseline_key(results)
    base_label = next((c.label for c in results.contenders if c.key == base), base)
    lines = [
        f"## {results.target_label}: {results.version}",
        "",
        f"{results.repetitions} measured repetitions (median, and min–max as spread); ratios are to "
        f"{base_label} in this run. The whole run against this cluster took {results.seconds:.0f} s.",
        "",
    ]
    for key, reason in results.skipped.items():
        lines.append(f"- Skipped `{key}`: {reason}.")
    if results.skipped:
        lines.append("")
    lines += [
        "### Wall time",
        "",
        "| tool | first converge s | spread | × baseline | no-op s | spread | × baseline |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for contender in results.contenders:
        cells = [contender.label]
        for phase in PHASES:
            result = results.phase(contender.key, phase)
            time = result.time if result else None
            value = ratio(results, contender.key, phase, base)
            cells += [seconds(time and time.median), spread(time), "–" if value is None else f"{value:.2f}×"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Requests and writes",
        "",
        "Requests of the median repetition, by verb; writes as median (min–max)."
        + (
            ""
            if results.counts_timed_runs
            else " Counted in the extra repetition through the counting proxy."
        ),
        "",
        "| tool | first converge requests | writes | no-op requests | writes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for contender in results.contenders:
        if not contender.runs_modules:
            continue
        cells = [contender.label]
        for phase in PHASES:
            result = results.phase(contender.key, phase)
            summary = result.requests() if result else None
            writes = result.writes() if result else None
            cells += [
                summary.describe() if summary else "–",
                "–" if writes is None else f"{writes.median:g} ({writes.low:g}–{writes.high:g})",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    failures = [
        (c, p)
        for c in results.contenders
        for p in PHASES
        if results.phase(c.key, p) and results.phase(c.key, p).failures
    ]
    if failures:
        lines += ["", "### Failed runs", ""]
        for contender, phase in failures:
            record = results.phase(contender.key, phase).failures[0]
            lines += [
                f"{contender.label}, {PHASE_LABELS[phase]} (exit {record.rc}):",
                "",
                "```",
                record.output_tail,
                "```",
                "",
            ]
    lines += ["", "### Targets of issue 11", "", "| target | met | measured |", "| --- | --- | --- |"]
    for check in checks(results):
        met = {True: "yes", False: "**no**", None: "not measured"}[check.met]
        lines.append(f"| {check.target} | {met} | {check.measured} |")
    lines += _task_profile(results)
    return lines + [""]


def _task_profile(results: TargetResults) -> list[str]:
    lines = []
    for key in (OURS, MODULE_PROCESSES, "kubernetes-core-per-object", BASELINE):
        first, noop = results.phase(key, "first"), results.phase(key, "noop")
        if not first or not first.tasks():
            continue
        label = next(c.label for c in results.contenders if c.key == key)
        startup = first.startup()
        lines += [
            "",
            f"### Where the time goes: {label}",
            "",
            (
                "Task times: median over the timed repetitions; requests and overhead: median over the "
                "counted ones"
                if results.counts_timed_runs
                else "Task times: median over the timed repetitions; requests and overhead: from the "
                "counting "
                "repetition (through the counting proxy, so each request also pays the proxy's hop)"
            )
            + f"; start-up until the first task {seconds(startup and startup.median)} s (first converge)."
            + (f" {where_time_goes(results, 'first')}" if key == OURS else ""),
            "",
            "| task | module | first converge s | requests | overhead s | no-op s | requests | overhead s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        noop_tasks = noop.tasks() if noop else []
        for index, (task, times, overheads) in enumerate(first.tasks()):
            name = short_task(task.name) + (f" ({task.status})" if task.status != "ok" else "")
            cells = [
                name,
                task.action.rpartition(".")[2],
                f"{times.median:.3f}",
                str(task.requests),
                f"{overheads.median:.3f}" if is_module_task(task.action) else "–",
            ]
            if index < len(noop_tasks) and noop_tasks[index][0].name == task.name:
                other, other_times, other_overheads = noop_tasks[index]
                cells += [
                    f"{other_times.median:.3f}",
                    str(other.requests),
                    f"{other_overheads.median:.3f}" if is_module_task(other.action) else "–",
                ]
            else:
                cells += ["–", "–", "–"]
            lines.append("| " + " | ".join(cells) + " |")
        if key == MODULE_PROCESSES:
            lines += ["", _module_process_comparison(results)]
    return lines


def _module_process_comparison(results: TargetResults) -> str:
    """Per module task: in-process vs module process, medians of the first converge."""
    inproc, process = results.phase(OURS, "first"), results.phase(MODULE_PROCESSES, "first")
    if not inproc or not process:
        return ""
    a = {
        task.name: times.median
        for task, times, _ in inproc.tasks()
        if is_module_task(task.action) and task.requests
    }
    b = {
        task.name: times.median
        for task, times, _ in process.tasks()
        if is_module_task(task.action) and task.requests
    }
    common = [name for name in a if name in b]
    if not common:
        return ""
    saved = sum(b[name] - a[name] for name in common) / len(common)
    return (
        f"Running the handlers in the worker process (action plugin) instead of a module process saves "
        f"{saved:.2f} s per module task on the median first converge ({len(common)} module tasks: "
        f"{sum(a[n] for n in common):.2f} s in-process against {sum(b[n] for n in common):.2f} s as module "
        "processes)."
    )
