"""Test controls of an emulated server: fault injection, added latency, the request log, and the
"writes since reset" query.

Thread-safe: tests set faults and read the log from their own thread while the server's loop
consumes them. Shared by every emulated server (Kubernetes API, IBM Cloud): both record their write
requests here, answer `GET /_emulator/writes-since-reset` and `POST /_emulator/reset` with the same
shapes, and both command lines have the `writes` verb (`writes_command`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import ssl
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

MUTATING_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FAULT_STATUSES = (429, 500, "reset")
CONTROL_PREFIX = "/_emulator/"
WRITES_SINCE_RESET = "writes-since-reset"  # GET CONTROL_PREFIX + this: `Controls.writes_since_reset()`
# What a write request was: "write" (it may change state: counted), "dry-run" (dryRun=All: nothing
# is stored) or "query" (a POST that only asks a question, e.g. an access review or an IAM token
# grant: nothing is stored). Only "write" entries are counted.
WRITE_KINDS = ("write", "dry-run", "query")


@dataclass(frozen=True)
class WriteRecord:
    method: str
    path: str
    user: str  # who sent it, as the server authenticated them; "" when it did not get that far
    status: int | None  # the answer's HTTP status; None when the connection was dropped (fault "reset")
    kind: str = "write"

    @property
    def counted(self) -> bool:
        return self.kind == "write"


def writes_report(records: list[WriteRecord]) -> dict:
    """The answer of the "writes since reset" query: `count` (writes that may have changed state)
    and every write request in order, dry-run ones and queries marked by `kind`."""
    return {
        "count": sum(1 for r in records if r.counted),
        "writes": [dataclasses.asdict(r) for r in records],
    }


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
        self._writes: list[WriteRecord] = []
        # What else a reset forgets (the fake IBM Cloud's request log and service faults).
        self.on_reset: list[Callable[[], None]] = []

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

    def writes_since_reset(self) -> dict:
        """`{"count": N, "writes": [{"method", "path", "user", "status", "kind"}, …]}`: every
        POST / PUT / PATCH / DELETE answered since the last reset; `count` leaves out dry-run ones
        and queries (see WRITE_KINDS)."""
        with self._lock:
            return writes_report(list(self._writes))

    def reset(self) -> None:
        """Forget the request and write logs, pending faults and latency (the stored objects stay)."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()
            self._writes.clear()
            self._latency = 0.0
        for forget in self.on_reset:
            forget()

    def record_write(
        self, method: str, path: str, user: str, status: int | None, kind: str = "write"
    ) -> None:
        """Called by the server once a write request is answered (reads are ignored)."""
        if method not in MUTATING_VERBS:
            return
        if kind not in WRITE_KINDS:
            raise ValueError(f"write kind {kind!r} is not one of {WRITE_KINDS}")
        with self._lock:
            self._writes.append(WriteRecord(method, path, user, status, kind))

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


# ---------------------------------------------------------------------- the command-line verb


@dataclass(frozen=True)
class ControlEndpoint:
    """Where a running emulated server takes control requests, and the credential it wants."""

    url: str  # the server's base URL
    token: str
    ca_file: str | None = None
    ca_pem: str | None = None

    def call(self, method: str, action: str):
        context = ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_pem)
        request = urllib.request.Request(
            self.url.rstrip("/") + CONTROL_PREFIX + action,
            method=method,
            data=b"{}" if method == "POST" else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return json.load(answer)


def format_writes(report: dict) -> str:
    """The report for people: the count, what was left out of it by kind, then one line per counted
    write (the JSON form lists every request)."""
    count = report["count"]
    head = f"{count} write{'' if count == 1 else 's'} since reset"
    left_out = Counter(entry["kind"] for entry in report["writes"] if entry["kind"] != "write")
    if left_out:
        head += "; not counted: " + ", ".join(
            f"{number} {kind if number == 1 else kind_plural(kind)}"
            for kind, number in sorted(left_out.items())
        )
    lines = [head]
    for entry in report["writes"]:
        if entry["kind"] == "write":
            status = "dropped" if entry["status"] is None else entry["status"]
            lines.append(f"  {entry['method']:<6} {entry['path']}  user={entry['user'] or '-'}  {status}")
    return "\n".join(lines)


def kind_plural(kind: str) -> str:
    return {"query": "queries", "dry-run": "dry-runs"}.get(kind, kind + "s")


def writes_command(label: str, endpoint: Callable[[], ControlEndpoint], reset: bool, as_json: bool) -> int:
    """`writes [--reset] [--json]`: print the writes since the last reset (then reset, with --reset).
    `endpoint` reads the running server's address and credential from its state directory."""
    try:
        target = endpoint()
    except (OSError, ValueError, KeyError) as error:
        print(f"no {label} to ask: {error}; start it first", file=sys.stderr)
        return 1
    try:
        report = target.call("GET", WRITES_SINCE_RESET)
        if reset:
            target.call("POST", "reset")
    except (urllib.error.URLError, OSError, ValueError) as error:
        print(f"{label} at {target.url} did not answer the writes query: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if as_json else format_writes(report))
    return 0
