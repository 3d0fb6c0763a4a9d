"""Scaling (issue 17): N tenants, each the (pipeline, application) namespace pair with the service
accounts, RBAC and cluster-credential secret that role pipeline_accounts makes for one tenant, for
N = 1, 10, 50. Every N is a harness run of its own (warm-up, interleaved repetitions, first
converge then no-op, requests counted as for the main comparison) with the scaling contenders:
tekton-cd both ways a user can provision N tenants with this project, one kubernetes.core task
applying one multi-document file, and kubectl apply --server-side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Harness, TargetResults
from benchmarks.manifests import Tenants, tenant_objects

DEFAULT_TENANT_COUNTS = (1, 10, 50)


def tenant_names(count: int):
    """The harness's names factory for `count` tenants: fresh namespaces per repetition."""

    def names(repetition, contender, tag) -> Tenants:
        return Tenants.named(f"b{repetition}-{contender.key[:10]}-{tag}", count)

    return names


@dataclass
class ScalingResults:
    target_label: str
    counts: tuple[int, ...]
    by_count: dict[int, TargetResults]

    def phase(self, count: int, key: str, phase: str):
        results = self.by_count.get(count)
        return results.phase(key, phase) if results else None


def run_scaling(target, contenders, workdir: Path, counts, repetitions: int, warmups: int, log=print):
    """One harness run per tenant count, smallest first, against a started target."""
    by_count = {}
    for count in counts:
        log(f"scaling against the {target.label}: {count} tenant(s)")
        by_count[count] = Harness(
            target,
            contenders,
            workdir / f"tenants-{count}",
            repetitions,
            warmups,
            objects=tenant_objects,
            log=log,
            names=tenant_names(count),
            label=f"{target.label}, {count} tenant(s)",
        ).run()
    return ScalingResults(target.label, tuple(counts), by_count)
