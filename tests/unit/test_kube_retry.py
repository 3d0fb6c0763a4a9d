"""Retry policy: what is tried again, how long it waits, and that it always stops (kube_retry)."""

from __future__ import annotations

import http.client

import pytest

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_retry import (  # noqa: E402
    RetriesExhausted,
    RetryPolicy,
    is_connection_reset,
    retry_on_conflict,
    send_with_retries,
)


class Script:
    """A send() that plays back answers (tuples) or raises exceptions, counting calls."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def test_429_waits_as_long_as_retry_after_says_then_succeeds():
    sleeps = []
    send = Script((429, {"Retry-After": "2"}, b""), (200, {}, b"{}"))
    assert send_with_retries(send, RetryPolicy(), sleep=sleeps.append) == (200, {}, b"{}")
    assert sleeps == [2.0] and send.calls == 2


def test_retry_after_is_capped():
    policy = RetryPolicy(max_retry_after=10)
    assert policy.delay(1, "3600") == 10


def test_backoff_grows_exponentially_within_its_cap():
    policy = RetryPolicy(base_delay=0.2, max_delay=4.0)
    assert [policy.delay(n, rand=lambda: 1.0) for n in range(1, 7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 4.0]
    # jitter keeps it between half and all of the step
    assert policy.delay(3, rand=lambda: 0.0) == 0.4


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_a_bounded_number_of_times(status):
    sleeps = []
    send = Script(*[(status, {}, b"busy")] * 5)
    with pytest.raises(RetriesExhausted) as exhausted:
        send_with_retries(send, RetryPolicy(attempts=5), sleep=sleeps.append)
    assert send.calls == 5 and len(sleeps) == 4
    assert exhausted.value.status == status and exhausted.value.attempts == 5


@pytest.mark.parametrize("status", [200, 201, 400, 401, 403, 404, 409, 422])
def test_other_answers_are_final_at_once(status):
    send = Script((status, {}, b""))
    assert send_with_retries(send, RetryPolicy(), sleep=pytest.fail)[0] == status
    assert send.calls == 1


def test_connection_reset_is_retried_but_refused_is_not():
    reset = ConnectionResetError(104, "Connection reset by peer")
    send = Script(reset, http.client.RemoteDisconnected("closed"), (200, {}, b"{}"))
    assert send_with_retries(send, RetryPolicy(), sleep=lambda s: None)[0] == 200
    assert send.calls == 3

    refused = ConnectionRefusedError(111, "Connection refused")
    send = Script(refused)
    with pytest.raises(ConnectionRefusedError):
        send_with_retries(send, RetryPolicy(), sleep=pytest.fail)
    assert not is_connection_reset(refused)


def test_resets_every_time_give_up_with_the_error():
    send = Script(*[ConnectionResetError(104, "reset")] * 3)
    with pytest.raises(RetriesExhausted) as exhausted:
        send_with_retries(send, RetryPolicy(attempts=3), sleep=lambda s: None)
    assert isinstance(exhausted.value.error, ConnectionResetError) and send.calls == 3


def test_stale_write_conflict_rereads_and_retries():
    attempts = []

    def update():
        attempts.append(1)
        if len(attempts) < 3:
            raise KubeError("modified", status=409, reason="Conflict")
        return "written"

    assert retry_on_conflict(update, RetryPolicy(), sleep=lambda s: None) == "written"
    assert len(attempts) == 3


def test_field_manager_conflict_and_other_errors_are_not_retried():
    for error in (KubeError("owned", status=409, reason="FieldManagerConflict"),
                  KubeError("denied", status=403, reason="Forbidden")):
        calls = []

        def update(error=error, calls=calls):
            calls.append(1)
            raise error

        with pytest.raises(KubeError):
            retry_on_conflict(update, RetryPolicy(), sleep=pytest.fail)
        assert len(calls) == 1


def test_conflicts_forever_stop_after_the_attempts():
    calls = []

    def update():
        calls.append(1)
        raise KubeError("modified", status=409, reason="Conflict")

    with pytest.raises(KubeError):
        retry_on_conflict(update, RetryPolicy(attempts=4), sleep=lambda s: None)
    assert len(calls) == 4
