"""Test controls of an emulated server: fault injection, added latency, and the request log.

Thread-safe: tests set faults and read the log from their own thread while the server's loop
consumes them. Shared by every emulated server (Kubernetes API, IBM Cloud).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

MUTATING_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FAULT_STATUSES = (429, 500, "reset")


@dataclass
class Fault:
    verb: str | None
    path: re.Pattern
    status: int | str
    remaining: int


class Controls:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._latency = 0.0
        self._requests: list[tuple[str, str, str]] = []

    def fail_next(
        self, verb: str | None = None, path: str = ".*", status: int | str = 500, count: int = 1
    ) -> None:
        """The next `count` requests whose method is `verb` (any when None) and whose path matches the
        regular expression `path` (searched) answer `status`: 429, 500, or "reset" (connection dropped)."""
        if status not in FAULT_STATUSES:
            raise ValueError(f"fault status {status!r} is not one of {FAULT_STATUSES}")
        if count < 1:
            raise ValueError(f"fault count must be at least 1, got {count}")
        with self._lock:
            self._faults.append(Fault(verb.upper() if verb else None, re.compile(path), status, count))

    def set_latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"latency must not be negative, got {seconds}")
        with self._lock:
            self._latency = float(seconds)

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    def requests(self) -> list[tuple[str, str, str]]:
        """Every (verb, path, query) served so far, in order (control requests excluded)."""
        with self._lock:
            return list(self._requests)

    def writes(self) -> list[tuple[str, str, str]]:
        return [r for r in self.requests() if r[0] in MUTATING_VERBS]

    def reset(self) -> None:
        """Forget the request log, pending faults and latency (the stored objects stay)."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()
            self._latency = 0.0

    # Used by the server for each request.
    def observe(self, verb: str, path: str, query: str) -> int | str | None:
        """Log the request and return the fault it must answer with, if any."""
        with self._lock:
            self._requests.append((verb, path, query))
            for fault in self._faults:
                if (fault.verb is None or fault.verb == verb) and fault.path.search(path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault.status
        return None
