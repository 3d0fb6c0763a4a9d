"""When to try a request again, and how long to wait first: the one retry policy of both
transports (kube_client for Kubernetes, ibmcloud_common.Transport for IBM Cloud).

Both send every request through ``send_with_retries`` with a ``RetryPolicy``: an answer of 429
(waiting as long as its Retry-After header asks, within a cap), 500/502/503/504, or a connection
reset is tried again with exponential backoff, a bounded number of times. Everything else is final at once
(a refused connection, a 4xx): retrying cannot fix it and would only make failing slow.

``retry_on_conflict`` is for read-modify-write updates (PUT with a resourceVersion): on a 409
"the object has been modified" it re-reads and tries again. Server-side-apply conflicts are not
retried: another manager owning the fields is a decision for the user (force_conflicts).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and the wait before each next one: exponential backoff from
    ``base_delay`` up to ``max_delay`` (with jitter unless ``jitter=False``), or what a Retry-After
    header asks (seconds or an HTTP date), up to ``max_retry_after``."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 4.0
    max_retry_after: float = 10.0
    jitter: bool = True

    def delay(self, attempt, retry_after=None, rand=random.random):
        """Seconds to wait before attempt number ``attempt + 1`` (attempt counts from 1)."""
        seconds = _parse_retry_after(retry_after)
        if seconds is not None:
            return min(seconds, self.max_retry_after)
        backoff = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        # Jitter keeps parallel forks from hammering the server in lockstep.
        return backoff * (0.5 + rand() / 2) if self.jitter else backoff

    def with_retries(self, retries):
        """This policy with ``retries`` tries after the first (a module's documented option)."""
        return replace(self, attempts=retries + 1)


# Kubernetes: many parallel forks against one API server, hence jitter and a short cap.
DEFAULT_POLICY = RetryPolicy()
# IBM Cloud: one call per task to a global service that asks for longer pauses; the modules'
# retries option sets the attempts (ibmcloud_common.Transport).
IBMCLOUD_POLICY = RetryPolicy(attempts=5, base_delay=0.5, max_delay=8.0, max_retry_after=8.0, jitter=False)


def _parse_retry_after(value):
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    import email.utils

    try:  # the HTTP-date form (IBM Cloud's gateways; kube-apiserver sends seconds)
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def is_retriable_status(status):
    return status in RETRIABLE_STATUSES


def is_connection_reset(exc):
    """A connection that broke mid-request (the server restarted, a proxy dropped it)."""
    names = {type(e).__name__ for e in _chain(exc)}
    resets = {"ConnectionResetError", "RemoteDisconnected", "ProtocolError", "IncompleteRead",
              "BrokenPipeError", "ConnectionAbortedError"}
    refused = {"ConnectionRefusedError", "NewConnectionError"}
    return bool(names & resets) and not names & refused


def _chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        reason = getattr(exc, "reason", None)
        exc = reason if isinstance(reason, BaseException) else (exc.__cause__ or exc.__context__)


class RetriesExhausted(Exception):
    """The last answer (``status``/``headers``/``body``) or ``error`` after ``attempts`` tries."""

    def __init__(self, attempts, *, status=None, headers=None, body=None, error=None):
        super().__init__(f"gave up after {attempts} attempts")
        self.attempts = attempts
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.error = error


def send_with_retries(send, policy=DEFAULT_POLICY, sleep=time.sleep, retriable_error=is_connection_reset):
    """Call ``send()`` -> (status, headers, body) until the answer is final.

    Returns the first final answer. Raises RetriesExhausted when every attempt got a retriable
    answer or an exception ``retriable_error`` accepts (a connection reset); other exceptions
    from ``send`` propagate at once.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            status, headers, body = send()
        except Exception as exc:
            if not retriable_error(exc):
                raise
            if attempt == policy.attempts:
                raise RetriesExhausted(attempt, error=exc) from exc
            sleep(policy.delay(attempt))
            continue
        if not is_retriable_status(status):
            return status, headers, body
        if attempt == policy.attempts:
            raise RetriesExhausted(attempt, status=status, headers=headers, body=body)
        sleep(policy.delay(attempt, (headers or {}).get("Retry-After")))
    raise AssertionError("unreachable: the loop returns or raises")


def retry_on_conflict(attempt_update, policy=DEFAULT_POLICY, sleep=time.sleep):
    """Run ``attempt_update()`` (which must re-read the object itself) again on a stale-write 409."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return attempt_update()
        except KubeError as exc:
            stale = exc.status == 409 and exc.reason == "Conflict"
            if not stale or attempt == policy.attempts:
                raise
            sleep(policy.delay(attempt))
    raise AssertionError("unreachable: the loop returns or raises")
