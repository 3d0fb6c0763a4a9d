"""What a run asked of the API server: the request log, classified by verb the way the API server's
own metrics name them (get, list, watch, create, patch, update, delete), with discovery and access
reviews apart, and the writes that change stored state."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qs

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Questions asked by POST that store nothing.
REVIEW_PATH = re.compile(
    r"/(self|local)?subjectaccessreviews$|/(self)?subjectrulesreviews$|/tokenreviews$|"
    r"/selfsubjectreviews$"
)
# The order columns appear in the report.
CATEGORIES = ("discovery", "get", "list", "watch", "create", "patch", "update", "delete", "review", "other")


@dataclass(frozen=True)
class Request:
    time: float  # seconds since the epoch, when the server (or the counting proxy) received it
    verb: str  # HTTP method
    path: str
    query: str = ""

    @property
    def category(self) -> str:
        return categorize(self.verb, self.path, self.query)

    @property
    def is_write(self) -> bool:
        """A request that changes stored state: not a review, not a dry run."""
        return (
            self.verb in MUTATING
            and self.category != "review"
            and "All" not in parse_qs(self.query).get("dryRun", [])
        )


def _resource_segments(path: str) -> list[str] | None:
    """The segments after /api/v1 or /apis/GROUP/VERSION; None for other paths."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "api":
        return parts[2:]
    if len(parts) >= 3 and parts[0] == "apis":
        return parts[3:]
    return None


def is_discovery(path: str) -> bool:
    """/version, /openapi/... (and the old /swagger-2.0.0.pb-v1), /api, /api/v1, /apis, /apis/GROUP,
    /apis/GROUP/VERSION."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        return False
    return (
        (parts[0] == "api" and len(parts) <= 2)
        or (parts[0] == "apis" and len(parts) <= 3)
        or parts[0] in ("version", "openapi")
        or parts[0].startswith("swagger")
    )


def categorize(verb: str, path: str, query: str = "") -> str:
    if verb == "POST" and REVIEW_PATH.search(path):
        return "review"
    if verb == "GET" and is_discovery(path):
        return "discovery"
    rest = _resource_segments(path)
    if not rest:
        return "other"
    if verb == "GET":
        named = len(rest) >= 4 if rest[0] == "namespaces" and len(rest) >= 3 else len(rest) >= 2
        watch = parse_qs(query).get("watch", [""])[0] in ("true", "1")
        if watch:
            return "watch"
        return "get" if named else "list"
    return {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(verb, "other")


@dataclass
class RequestSummary:
    by_category: Counter
    writes: int

    @property
    def total(self) -> int:
        return sum(self.by_category.values())

    def without_reviews(self) -> int:
        return self.total - self.by_category.get("review", 0)

    def describe(self) -> str:
        """'12: 3 get, 2 list, 7 patch' (categories in report order, zeros left out)."""
        parts = [f"{self.by_category[name]} {name}" for name in CATEGORIES if self.by_category.get(name)]
        return f"{self.total}: " + ", ".join(parts) if parts else "0"


def summarize(requests: list[Request]) -> RequestSummary:
    return RequestSummary(
        Counter(request.category for request in requests), sum(1 for request in requests if request.is_write)
    )


def between(requests: list[Request], start: float, end: float) -> list[Request]:
    return [request for request in requests if start <= request.time <= end]


def kinds_read_per_object(requests: list[Request]) -> dict[str, int]:
    """Resources read by more than one GET of a named object in one run (what reading object by
    object looks like), as {"secrets": 3}; a kind whose one object is read by one GET is not."""
    counts = Counter()
    for request in requests:
        if request.category == "get":
            rest = _resource_segments(request.path) or []
            if rest[:1] == ["namespaces"] and len(rest) >= 4:
                rest = rest[2:]
            counts[rest[0]] += 1
    return {resource: count for resource, count in sorted(counts.items()) if count > 1}
