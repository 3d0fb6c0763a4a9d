"""The run-wait part of docs/benchmarks.md (issue 17): how soon tekton_pipelinerun returns once the
emulated Tekton controller has finished its run, and what following the run asks of the API."""

from __future__ import annotations

from benchmarks.runwait import LATENCY_TARGET, RunWaitResults
from benchmarks.targets import Check


def _spread(value, digits=3) -> str:
    if value is None:
        return "–"
    return f"{value.median:.{digits}f} ({value.low:.{digits}f}–{value.high:.{digits}f})"


def section(results: RunWaitResults) -> list[str]:
    waiting = results.waiting_summary()
    lines = [
        "## Run-wait latency",
        "",
        "On the emulated cluster only (the real cluster here serves Tekton's CRDs but runs no "
        "controller). Each repetition applies what `provision.yml` leaves (by kubectl, not timed) in "
        "fresh namespaces, then runs `benchmarks/playbooks/run-wait.yml`: one `tekton_pipelinerun` "
        "task that starts a run of health-cd and waits for it, with the options role `pipeline_run` "
        "gives it. The steps are simulated (no real builds); the three image builds each take "
        f"{results.build_seconds:g} s on the emulator's clock, so the wait lasts long enough to show "
        "whether anything polls. *Finished* is the controller's clock right after it stored the "
        "run's final status (`TektonController.on_run_finished`; the condition's "
        "lastTransitionTime has whole seconds only); *returned* is the task's end as Ansible's "
        "callback saw it; both on this machine's clock. Requests *while waiting* are those from the "
        "request creating the run to *finished*, from the emulator's request log; *after the "
        "watches opened*, those that came once the task's last WATCH was open. "
        f"{results.warmups} warm-up run(s) discarded, {len(results.records)} measured; the part took "
        f"{results.seconds:.0f} s.",
        "",
        "| measure | median (min–max) |",
        "| --- | --- |",
        f"| finished → `tekton_pipelinerun` returned, s | {_spread(results.latency())} |",
        f"| finished → `ansible-playbook` exited, s | {_spread(results.exit_after_finish())} |",
        f"| run created → finished (the wait), s | {_spread(results.wait(), 2)} |",
        f"| requests while waiting (median run) | {waiting.describe() if waiting else '–'} |",
        f"| requests per minute while waiting | {_spread(results.per_minute(), 1)} |",
        "| requests per minute after the watches opened | "
        f"{_spread(results.after_watches_per_minute(), 1)} |",
        "",
    ]
    for record in results.failures[:1]:
        lines += [
            f"Failed run (repetition {record.repetition}, exit {record.rc}, run "
            f"{'finished: ' + record.reason if record.finished else 'not seen finishing'}):",
            "",
            "```",
            record.output_tail,
            "```",
            "",
        ]
    return lines


def checks(results: RunWaitResults) -> list[Check]:
    latency = results.latency()
    found = []
    if latency is None:
        found.append(
            Check(f"run-wait latency under {LATENCY_TARGET} s", None, "no run finished and returned")
        )
    else:
        met = latency.high < LATENCY_TARGET
        text = f"median {latency.median:.3f} s, worst {latency.high:.3f} s"
        if not met:
            text += f"; {latency.high - LATENCY_TARGET:.3f} s over"
        found.append(Check(f"run-wait latency under {LATENCY_TARGET} s (every run)", met, text))
    after = results.after_watches_per_minute()
    waiting = results.waiting_summary()
    if after is None or waiting is None:
        found.append(Check("waiting by watch, not poll", None, "no run measured"))
    else:
        watches = waiting.by_category.get("watch", 0)
        met = after.high == 0 and watches > 0
        found.append(
            Check(
                "waiting by watch, not poll",
                met,
                f"{waiting.describe()} while waiting (median run); after the watches opened "
                f"{after.high:g} request(s) per minute at most",
            )
        )
    return found
