"""make bench: measure provision.yml against kubernetes.core and kubectl, write docs/benchmarks.md.

  .venv/bin/python -m benchmarks [--repetitions 5] [--warmups 1] [--output docs/benchmarks.md]
                                 [--only KEY ...] [--no-install] [--parts comparison scaling run-wait]
                                 [--tenants 1 10 50] [--scale-repetitions 3] [--scaling-clusters all|emulated]
                                 [--run-repetitions 5]

Three parts, all by default: the comparison on the 15 objects of provision.yml; scaling to N
tenants (benchmarks/scaling.py); run-wait latency (benchmarks/runwait.py, emulated cluster only).
Starts its own emulated cluster; when TEST_KUBECONFIG names a kubeconfig, measures that cluster
too (in namespaces of its own, deleted afterwards). Installs the benchmark's virtualenv
(.cache/bench-venv, from benchmarks/requirements.txt) first unless --no-install.
"""

from __future__ import annotations

import argparse
import compileall
import os
import pickle
import sys
import tempfile
from pathlib import Path

from benchmarks import harness, report
from benchmarks.clusters import EmulatedTarget, RealTarget
from benchmarks.contenders import ROOT, default_contenders, scaling_contenders
from benchmarks.machine import Machine, tool_versions
from benchmarks.runwait import run_wait
from benchmarks.scaling import DEFAULT_TENANT_COUNTS, run_scaling
from benchmarks.venv import ensure_bench_venv

REAL_KUBECONFIG_ENV = "TEST_KUBECONFIG"
RESULTS_FILE = "results.pickle"  # in --workdir, for --render-only
PARTS = ("comparison", "scaling", "run-wait")
SCALE_REPETITIONS = 3  # each N is a harness run of its own; 5 of them would add ~30 min with a real cluster


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
        help="run only these tools: " + ", ".join(sorted(known_keys())),
    )
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="default: all")
    parser.add_argument(
        "--tenants",
        nargs="+",
        type=int,
        default=list(DEFAULT_TENANT_COUNTS),
        metavar="N",
        help="tenant counts of the scaling part (default 1 10 50)",
    )
    parser.add_argument(
        "--scale-repetitions",
        type=int,
        help=f"measured repetitions per tenant count (default {SCALE_REPETITIONS}, or --repetitions if "
        "fewer)",
    )
    parser.add_argument(
        "--scaling-clusters",
        choices=("all", "emulated"),
        default="all",
        help="where the scaling part runs: every cluster (default), or the emulated one only (a real "
        "cluster deletes 100 namespaces per N = 50 repetition, about 50 s each)",
    )
    parser.add_argument(
        "--run-repetitions", type=int, help="measured runs of the run-wait part (default: --repetitions)"
    )
    parser.add_argument(
        "--build-seconds",
        type=float,
        default=5.0,
        help="how long each simulated image build of the run-wait part takes (default 5)",
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
    if args.scale_repetitions is None:
        args.scale_repetitions = min(SCALE_REPETITIONS, args.repetitions)
    if args.run_repetitions is None:
        args.run_repetitions = args.repetitions
    if args.scale_repetitions < 1 or args.run_repetitions < 1:
        parser.error("--scale-repetitions and --run-repetitions must be at least 1")
    if any(count < 1 for count in args.tenants):
        parser.error("--tenants takes tenant counts of 1 or more, e.g. --tenants 1 10 50")
    args.tenants = sorted(set(args.tenants))
    if args.build_seconds < 0:
        parser.error("--build-seconds must be 0 or more")
    known = known_keys()
    if args.only and set(args.only) - known:
        parser.error(
            f"unknown tool(s) {', '.join(sorted(set(args.only) - known))}; known: {', '.join(sorted(known))}"
        )
    return args


def known_keys() -> set[str]:
    return {c.key for c in default_contenders() + scaling_contenders()}


def measure(workdir: Path, args, log=print, real_kubeconfig: str | None = None) -> report.BenchResults:
    machine = Machine.now()
    only = args.only
    contenders = [c for c in default_contenders() if not only or c.key in only]
    scalers = [c for c in scaling_contenders() if not only or c.key in only]
    targets = [EmulatedTarget(workdir / "emulated")]
    if real_kubeconfig:
        targets.append(RealTarget(Path(real_kubeconfig), workdir / "real"))
    results = report.BenchResults(machine)
    for target in targets:
        target.workdir.mkdir(parents=True, exist_ok=True)
        log(f"benchmarking against the {target.label}")
        target.start()
        try:
            if "comparison" in args.parts and contenders:
                results.comparison.append(
                    harness.Harness(
                        target, contenders, target.workdir, args.repetitions, args.warmups, log=log
                    ).run()
                )
            scales_here = args.scaling_clusters == "all" or isinstance(target, EmulatedTarget)
            if "scaling" in args.parts and scalers and scales_here:
                results.scaling.append(
                    run_scaling(
                        target,
                        scalers,
                        target.workdir / "scaling",
                        args.tenants,
                        args.scale_repetitions,
                        args.warmups,
                        log=log,
                    )
                )
            if "run-wait" in args.parts and isinstance(target, EmulatedTarget):
                results.run_wait = run_wait(
                    target,
                    target.workdir / "run-wait",
                    args.run_repetitions,
                    args.warmups,
                    build_seconds=args.build_seconds,
                    log=log,
                )
        finally:
            target.stop()
    machine.finish()
    return results


def main(argv=None) -> int:
    args = parse(argv)
    if args.render_only:
        results = pickle.loads((args.workdir / RESULTS_FILE).read_bytes())
        return write_report(args.output, results)
    if not args.no_install:
        ensure_bench_venv(log=print)
    real = os.environ.get(REAL_KUBECONFIG_ENV)
    if real and not Path(real).is_file():
        print(
            f"{REAL_KUBECONFIG_ENV}={real} is not a readable kubeconfig file; fix or unset it",
            file=sys.stderr,
        )
        return 2
    # The plugins' bytecode, which a user's first run writes (plugins/plugin_utils/preload.py);
    # written here because PYTHONDONTWRITEBYTECODE, where set, keeps the warm-up from writing it.
    compileall.compile_dir(ROOT / "plugins", quiet=1)
    with tempfile.TemporaryDirectory(prefix="tekton-cd-bench-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        results = measure(workdir, args, real_kubeconfig=real)
        results.command = command_line(sys.argv[1:] if argv is None else list(argv))
        if real:
            results.command = f"TEST_KUBECONFIG=… {results.command}"
        (workdir / RESULTS_FILE).write_bytes(pickle.dumps(results))
    return write_report(args.output, results)


def command_line(argv: list[str]) -> str:
    """How a run was asked for, for the report's first line: `make bench` for the defaults, else
    the options that change what is measured (not where files go)."""
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument in ("--workdir", "--output"):
            skip = True
        elif argument != "--no-install" and not argument.startswith(("--workdir=", "--output=")):
            kept.append(argument)
    return "python -m benchmarks " + " ".join(kept) if kept else "make bench"


def write_report(output: Path, results: report.BenchResults) -> int:
    """docs/benchmarks.md and, next to it, the scaling plots it shows (one SVG per cluster)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    text, pictures = report.render(results, tool_versions(), results.command, picture_stem=output.stem)
    for name, svg in pictures.items():
        (output.parent / name).write_text(svg)
        print(f"wrote {output.parent / name}")
    output.write_text(text)
    print(f"wrote {output}")
    return 1 if results.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
