"""How the scaling report judges "per-tenant cost at N = 50 no higher than at N = 10": on the
marginal cost, with the measurements' own spread as its resolution (docs/benchmarks.md)."""

from __future__ import annotations

import pytest

from benchmarks import report_scaling
from benchmarks.contenders import TenantsRole
from benchmarks.harness import PhaseResult, RunRecord, TargetResults
from benchmarks.scaling import ScalingResults

TARGET = "tekton-cd, role `pipeline_accounts` with N tenants, no-op: per-tenant cost at N = 50"


def scaling(times: dict[int, tuple[float, float]]) -> ScalingResults:
    """Tenants-role results whose no-op at N took the two given times (first converge alike)."""
    contender = TenantsRole()
    by_count = {}
    for count, seconds in times.items():
        phases = {}
        for phase in ("first", "noop"):
            records = [RunRecord(contender.key, phase, repetition, value, 0, 0.0, value, None)
                       for repetition, value in enumerate(seconds, start=1)]
            phases[(contender.key, phase)] = PhaseResult(contender, phase, records, [])
        by_count[count] = TargetResults("emulated cluster", "v1.28.7", len(seconds), 0, phases, {},
                                        [contender], False, "", 0.0)
    return ScalingResults("emulated cluster", tuple(times), by_count)


def no_op_check(results: ScalingResults):
    return next(check for check in report_scaling.checks(results) if check.target.startswith(TARGET))


def test_a_marginal_cost_that_grows_less_than_the_measurements_spread_is_noise():
    # each tenant adds 0.0056 s from 1 to 10, 0.0075 s from 10 to 50; the spreads (0.1 s at each N)
    # resolve the marginal costs to 0.022 and 0.005 s per tenant
    results = scaling({1: (1.20, 1.30), 10: (1.25, 1.35), 50: (1.55, 1.65)})
    resolution = report_scaling.marginal_resolution
    assert resolution(results, "tenants-role", "noop", 1, 10) == pytest.approx(0.2 / 9)
    assert resolution(results, "tenants-role", "noop", 10, 50) == pytest.approx(0.005)
    check = no_op_check(results)
    assert check.met is True
    assert "0.002 s per tenant more, within the measurements' spread (0.027 s per tenant)" in check.measured


def test_a_marginal_cost_that_grows_beyond_the_spread_misses_the_target_by_what_is_beyond():
    results = scaling({1: (1.20, 1.21), 10: (1.25, 1.26), 50: (1.95, 1.96)})
    check = no_op_check(results)
    assert check.met is False
    # 0.0175 s per tenant against 0.0056 s, with 0.0027 s of resolution: 0.009 s over
    assert "0.009 s per tenant over, beyond the measurements' spread (0.003 s per tenant)" in check.measured
