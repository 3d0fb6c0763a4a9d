"""The scaling part of docs/benchmarks.md (issue 17): per cluster, time and requests per number of
tenants for each tool, the per-tenant cost, the plot (benchmarks/plot.py), where tekton-cd's time
goes at the largest N, and the checks of issue 17's scaling targets."""

from __future__ import annotations

from collections import defaultdict

from benchmarks.harness import PHASE_LABELS, PHASES, RunRecord, requests_by_action
from benchmarks.plot import Panel, Point, scaling_svg
from benchmarks.scaling import ScalingResults
from benchmarks.targets import Check

TENANTS_ROLE = "tenants-role"
TENANTS_ROLE_NO_REVIEW = "tenants-role-no-review"
OURS = (TENANTS_ROLE, TENANTS_ROLE_NO_REVIEW)
KUBECTL = "kubectl"
KUBERNETES_CORE = "kubernetes-core-one-task"
OBJECTS_PER_TENANT = 9

COMMANDS = {
    TENANTS_ROLE: "`benchmarks/playbooks/tenants-role.yml`: role `cluster_login`, then role "
    "`pipeline_accounts` once with `pipeline_accounts_tenants` set to the N tenants: one module call "
    "per kind for all of them (one `k8s_namespace` call for the 2N namespaces, one `k8s_rbac` call "
    "for every Role and RoleBinding, ...) and one access review of every tenant's accounts, with one "
    "record. Access review on, as the role's default.",
    TENANTS_ROLE_NO_REVIEW: "the same with `pipeline_accounts_access_review=false`: the same work as "
    "the other tools', which prove nothing about the accounts either.",
    KUBERNETES_CORE: "one `kubernetes.core.k8s` task, `src:` one multi-document file of all N × 9 "
    "objects, server-side apply (benchmark venv)",
    KUBECTL: "`kubectl apply --server-side --field-manager=benchmark --validate=false -f` the same file",
}


def _label(scaling: ScalingResults, key: str) -> str:
    for results in scaling.by_count.values():
        for contender in results.contenders:
            if contender.key == key:
                return contender.label
    return key


def _keys(scaling: ScalingResults) -> list[str]:
    keys = []
    for results in scaling.by_count.values():
        keys += [contender.key for contender in results.contenders if contender.key not in keys]
    return keys


def _seconds(scaling, count, key, phase):
    result = scaling.phase(count, key, phase)
    return result.time if result else None


def _requests(scaling, count, key, phase):
    result = scaling.phase(count, key, phase)
    return result.requests() if result else None


def method_section(scalings: list[ScalingResults]) -> list[str]:
    first = scalings[0]
    any_results = next(iter(first.by_count.values()))
    lines = [
        "## Scaling: N tenants",
        "",
        f"N = {', '.join(str(n) for n in first.counts)} tenants, each what role `pipeline_accounts` makes "
        "for one tenant: its own pipeline and application namespaces, 3 ServiceAccount, 1 Role, 2 "
        f"RoleBinding and the cluster-credential Secret ({OBJECTS_PER_TENANT} objects; the other tools "
        "apply them from `benchmarks/manifests.py`, the Secret with a placeholder token), and for "
        "tekton-cd the access review of its accounts. Each N is a harness run of its own, as above: "
        f"{any_results.warmups} warm-up, then {any_results.repetitions} measured repetition(s) in fresh "
        "namespaces, first converge then no-op, the tools interleaved.",
        "",
        "| tool | command |",
        "| --- | --- |",
    ]
    lines += [f"| {_label(first, key)} | {COMMANDS.get(key, '')} |" for key in _keys(first)]
    return lines + [""]


def section(scaling: ScalingResults, picture_name: str) -> tuple[list[str], str]:
    """The cluster's scaling section and its plot (an SVG document)."""
    results = next(iter(scaling.by_count.values()))
    lines = [
        f"### Scaling on the {scaling.target_label}: {results.version}",
        "",
        f"![Time against the number of tenants, {scaling.target_label}]({picture_name})",
        "",
        "Median (min–max) of the measured repetitions; *per tenant* is the median divided by N. Requests "
        "of the median repetition"
        + (
            ""
            if results.counts_timed_runs
            else ", counted in the extra repetition through the counting proxy"
        )
        + f"; writes in brackets. The scaling runs against this cluster took "
        f"{sum(r.seconds for r in scaling.by_count.values()):.0f} s.",
        "",
        "| tool | N | first converge s | per tenant | no-op s | per tenant | first converge requests | "
        "no-op requests |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key in _keys(scaling):
        for count in scaling.counts:
            cells = [_label(scaling, key), str(count)]
            for phase in PHASES:
                time = _seconds(scaling, count, key, phase)
                cells += [
                    "–" if time is None else f"{time.median:.2f} ({time.low:.2f}–{time.high:.2f})",
                    "–" if time is None else f"{time.median / count:.3f}",
                ]
            for phase in PHASES:
                result = scaling.phase(count, key, phase)
                summary = result.requests() if result else None
                cells.append(f"{summary.describe()} [{summary.writes}]" if summary else "–")
            lines.append("| " + " | ".join(cells) + " |")
    failures = [
        (count, result)
        for count, results in scaling.by_count.items()
        for result in results.phases.values()
        if result.failures
    ]
    for count, result in failures:
        record = result.failures[0]
        lines += [
            "",
            f"Failed: {result.contender.label}, N = {count}, {PHASE_LABELS[result.phase]} "
            f"(exit {record.rc}):",
            "",
            "```",
            record.output_tail,
            "```",
        ]
    lines += ["", *_per_tenant_table(scaling), ""]
    for key in OURS:
        profile = where_time_goes(scaling, key)
        if profile:
            lines += [profile, ""]
    return lines, plot(scaling)


def marginal(scaling, key, phase, low: int, high: int) -> float | None:
    """Seconds each tenant adds between N = low and N = high (medians)."""
    a, b = _seconds(scaling, low, key, phase), _seconds(scaling, high, key, phase)
    if a is None or b is None or high == low:
        return None
    return (b.median - a.median) / (high - low)


def marginal_resolution(scaling, key, phase, low: int, high: int) -> float:
    """How finely the marginal cost between N = low and N = high is measured: the spreads
    (max - min) of the two times, per tenant between them. Two marginal costs that differ by less
    than the sum of their resolutions differ by the machine's noise, not by a cost that grows
    with N."""
    spreads = [_seconds(scaling, n, key, phase) for n in (low, high)]
    return sum(spread.high - spread.low for spread in spreads if spread) / (high - low)


def _per_tenant_table(scaling: ScalingResults) -> list[str]:
    counts = scaling.counts
    if len(counts) < 2:
        return []
    steps = list(zip(counts, counts[1:], strict=False))
    header = ["tool", "phase"] + [f"s per tenant, N = {n}" for n in counts[1:]]
    header += [f"s added per tenant, {a}→{b}" for a, b in steps]
    lines = [
        "Per-tenant cost: the median time over N, and the time each tenant adds between two N (the "
        "marginal cost, which the start-up's fixed cost does not flatter).",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for key in _keys(scaling):
        for phase in PHASES:
            cells = [_label(scaling, key), PHASE_LABELS[phase]]
            for count in counts[1:]:
                time = _seconds(scaling, count, key, phase)
                cells.append("–" if time is None else f"{time.median / count:.3f}")
            for a, b in steps:
                value = marginal(scaling, key, phase, a, b)
                cells.append("–" if value is None else f"{value:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def time_by_action(record: RunRecord) -> list[tuple[str, int, float]]:
    """(module or action, tasks run, seconds) of one run, largest first."""
    found: dict[str, list[float]] = defaultdict(list)
    for entry in record.profile:
        if entry.get("event") == "task":
            found[entry["action"].rpartition(".")[2]].append(entry["end"] - entry["start"])
    return sorted(((name, len(times), sum(times)) for name, times in found.items()), key=lambda row: -row[2])


def phase_breakdown(scaling: ScalingResults, key: str, phase: str) -> str:
    """Where a tekton-cd form spends the median run of one phase at the largest N: start-up and the
    five modules that took longest."""
    result = scaling.phase(scaling.counts[-1], key, phase)
    run = result.median_run() if result else None
    if run is None or not run.profile:
        return ""
    rows = time_by_action(run)
    tasks = sum(row[1] for row in rows)
    in_tasks = sum(row[2] for row in rows)
    top = ", ".join(f"{name} {n}× {seconds:.2f} s" for name, n, seconds in rows[:5])
    startup = min(e["start"] for e in run.profile if e.get("event") == "task") - run.launched
    return f"a run of {run.seconds:.2f} s: start-up {startup:.2f} s, {tasks} tasks {in_tasks:.2f} s ({top})"


def where_time_goes(scaling: ScalingResults, key: str) -> str:
    """Where a tekton-cd form spends its median run at the largest N, by module."""
    parts = [
        f"{PHASE_LABELS[phase]}, {breakdown}"
        for phase in PHASES
        if (breakdown := phase_breakdown(scaling, key, phase))
    ]
    if not parts:
        return ""
    return (
        f"Where the time goes, {_label(scaling, key)} at N = {scaling.counts[-1]} (median run): "
        + "; ".join(parts)
        + "."
    )


def _plain(label: str) -> str:
    """A label without its Markdown code marks, for the picture."""
    return label.replace("`", "")


def request_growth(scaling: ScalingResults, key: str, phase: str = "noop") -> str:
    """Which modules' requests grow with N, per added tenant, between the smallest and largest N."""
    low, high = scaling.counts[0], scaling.counts[-1]
    before = requests_by_action(scaling.phase(low, key, phase))
    after = requests_by_action(scaling.phase(high, key, phase))
    if not before or not after or high == low:
        return ""
    growth = sorted(
        ((name, (after.get(name, 0) - before.get(name, 0)) / (high - low)) for name in after),
        key=lambda row: -row[1],
    )
    parts = [f"{name} {value:+.1f}" for name, value in growth if value > 0]
    return "requests added per tenant, by module: " + ", ".join(parts) if parts else ""


def plot(scaling: ScalingResults) -> str:
    panels = []
    for phase in PHASES:
        series = {}
        for key in _keys(scaling):
            points = []
            for count in scaling.counts:
                time = _seconds(scaling, count, key, phase)
                if time is not None:
                    points.append(Point(count, time.median, time.low, time.high))
            if points:
                series[_plain(_label(scaling, key))] = points
        panels.append(Panel(f"{PHASE_LABELS[phase]}: wall time", "s", series))
    series = {}
    for key in _keys(scaling):
        points = []
        for count in scaling.counts:
            summary = _requests(scaling, count, key, "noop")
            if summary is not None:
                points.append(Point(count, summary.total, summary.total, summary.total))
        if points:
            series[_plain(_label(scaling, key))] = points
    panels.append(Panel("no-op: API requests", "requests", series))
    results = next(iter(scaling.by_count.values()))
    return scaling_svg(
        f"Scaling to N tenants ({scaling.target_label})",
        f"{results.version}; median of {results.repetitions}, bar: min–max; value axes logarithmic",
        panels,
    )


def checks(scaling: ScalingResults) -> list[Check]:
    """Issue 17's scaling targets, for each tekton-cd form."""
    found = []
    counts = scaling.counts
    top = counts[-1]
    for key in OURS:
        label = _label(scaling, key)
        if not any(scaling.phase(n, key, "first") for n in counts):
            continue
        for phase in PHASES:
            mine = _seconds(scaling, top, key, phase)
            others = {
                other: _seconds(scaling, top, other, phase)
                for other in (KUBECTL, KUBERNETES_CORE)
                if _seconds(scaling, top, other, phase) is not None
            }
            target = f"{label}, N = {top}, {PHASE_LABELS[phase]}: faster than kubectl and kubernetes.core"
            if mine is None or not others:
                found.append(Check(target, None, "not measured"))
                continue
            slowest_allowed = min(time.median for time in others.values())
            met = mine.median < slowest_allowed
            text = f"{mine.median:.2f} s; " + ", ".join(
                f"{_label(scaling, other)} {time.median:.2f} s ({mine.median / time.median:.2f}×)"
                for other, time in others.items()
            )
            if not met:
                text += f"; {mine.median - slowest_allowed:.2f} s over the fastest of them"
                breakdown = phase_breakdown(scaling, key, phase)
                if breakdown:
                    text += f". Where the time goes: {breakdown}"
            found.append(Check(target, met, text))
        if len(counts) >= 3:
            low, mid = counts[0], counts[-2]
            for phase in PHASES:
                early, late = marginal(scaling, key, phase, low, mid), marginal(scaling, key, phase, mid, top)
                target = (
                    f"{label}, {PHASE_LABELS[phase]}: per-tenant cost at N = {top} no higher than at "
                    f"N = {mid}"
                )
                if early is None or late is None:
                    found.append(Check(target, None, "not measured"))
                    continue
                resolution = marginal_resolution(scaling, key, phase, low, mid) + marginal_resolution(
                    scaling, key, phase, mid, top
                )
                met = late <= early + resolution
                text = (
                    f"checked on the marginal cost: each tenant adds {late:.3f} s between N = {mid} and "
                    f"{top}, {early:.3f} s between N = {low} and {mid}"
                )
                averages = [_seconds(scaling, n, key, phase) for n in (mid, top)]
                if all(averages):
                    text += f" (averages {averages[0].median / mid:.3f} and {averages[1].median / top:.3f} s)"
                if late > early:
                    text += (
                        f"; {late - early:.3f} s per tenant more, within the measurements' spread "
                        f"({resolution:.3f} s per tenant)"
                        if met
                        else f"; {late - early - resolution:.3f} s per tenant over, beyond the "
                        f"measurements' spread ({resolution:.3f} s per tenant)"
                    )
                found.append(Check(target, met, text))
        summaries = {n: _requests(scaling, n, key, "noop") for n in counts}
        summaries = {n: s for n, s in summaries.items() if s is not None}
        target = f"{label}: no-op requests independent of N"
        if len(summaries) < 2:
            found.append(Check(target, None, "not measured at two N"))
            continue
        first_n, last_n = min(summaries), max(summaries)
        growth = (summaries[last_n].total - summaries[first_n].total) / (last_n - first_n)
        met = summaries[last_n].total <= summaries[first_n].total
        text = "; ".join(f"N = {n}: {s.describe()}" for n, s in summaries.items())
        if not met:
            text += f" — {growth:.1f} more request(s) per tenant"
            by_module = request_growth(scaling, key)
            if by_module:
                text += f"; {by_module}"
            reviews = summaries[last_n].by_category.get("review", 0)
            if reviews:
                text += (
                    f". The no-op asked {reviews} access-review questions again: a tenant's review "
                    "record holds a fingerprint of every RBAC object of the cluster, which the RBAC of "
                    "the tenants provisioned after it (or any other change of the cluster's RBAC) "
                    "changed"
                )
        found.append(Check(target, met, text))
    return found
