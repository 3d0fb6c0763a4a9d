"""make bench: measure provision.yml against kubernetes.core and kubectl, write docs/benchmarks.md.

  .venv/bin/python -m benchmarks [--repetitions 5] [--warmups 1] [--output docs/benchmarks.md]
                                 [--only KEY ...] [--no-install]

Starts its own emulated cluster; when TEST_KUBECONFIG names a kubeconfig, measures that cluster
too (in namespaces of its own, deleted afterwards). Installs the benchmark's virtualenv
(.cache/bench-venv, from benchmarks/requirements.txt) first unless --no-install.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
from pathlib import Path

from benchmarks import harness, report
from benchmarks.clusters import EmulatedTarget, RealTarget
from benchmarks.contenders import ROOT, default_contenders
from benchmarks.machine import Machine, tool_versions
from benchmarks.venv import ensure_bench_venv

REAL_KUBECONFIG_ENV = "TEST_KUBECONFIG"
RESULTS_FILE = "results.pickle"  # in --workdir, for --render-only


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repetitions", type=int, default=5, help="measured repetitions per tool (default 5)"
    )
    parser.add_argument("--warmups", type=int, default=1, help="discarded warm-up repetitions (default 1)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="KEY",
        help="run only these tools: " + ", ".join(c.key for c in default_contenders()),
    )
    parser.add_argument("--no-install", action="store_true", help="do not install the benchmark virtualenv")
    parser.add_argument("--workdir", type=Path, help="keep run files here (default: a temporary directory)")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: write the report again from the results a run kept in --workdir",
    )
    args = parser.parse_args(argv)
    if args.render_only and not args.workdir:
        parser.error("--render-only needs --workdir, the directory of the run to report")
    if args.repetitions < 1 or args.warmups < 0:
        parser.error("--repetitions must be at least 1 and --warmups at least 0")
    known = {c.key for c in default_contenders()}
    if args.only and set(args.only) - known:
        parser.error(
            f"unknown tool(s) {', '.join(sorted(set(args.only) - known))}; known: {', '.join(sorted(known))}"
        )
    return args


def measure(
    workdir: Path, repetitions: int, warmups: int, only=None, log=print, real_kubeconfig: str | None = None
) -> tuple[Machine, list[harness.TargetResults]]:
    machine = Machine.now()
    contenders = [c for c in default_contenders() if not only or c.key in only]
    targets = [EmulatedTarget(workdir / "emulated")]
    if real_kubeconfig:
        targets.append(RealTarget(Path(real_kubeconfig), workdir / "real"))
    results = []
    for target in targets:
        target.workdir.mkdir(parents=True, exist_ok=True)
        log(f"benchmarking against the {target.label}")
        target.start()
        try:
            results.append(
                harness.Harness(target, contenders, target.workdir, repetitions, warmups, log=log).run()
            )
        finally:
            target.stop()
    machine.finish()
    return machine, results


def main(argv=None) -> int:
    args = parse(argv)
    if args.render_only:
        machine, results = pickle.loads((args.workdir / RESULTS_FILE).read_bytes())
        return write_report(args.output, machine, results)
    if not args.no_install:
        ensure_bench_venv(log=print)
    real = os.environ.get(REAL_KUBECONFIG_ENV)
    if real and not Path(real).is_file():
        print(
            f"{REAL_KUBECONFIG_ENV}={real} is not a readable kubeconfig file; fix or unset it",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="tekton-cd-bench-") as scratch:
        workdir = args.workdir or Path(scratch)
        machine, results = measure(workdir, args.repetitions, args.warmups, args.only, real_kubeconfig=real)
        (workdir / RESULTS_FILE).write_bytes(pickle.dumps((machine, results)))
    return write_report(args.output, machine, results)


def write_report(output: Path, machine, results) -> int:
    text = report.render(machine, tool_versions(), results, "make bench")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}")
    failed = [r for results_of in results for r in results_of.phases.values() if r.failures]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
