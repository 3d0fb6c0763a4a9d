"""labelSelector and fieldSelector: parsing and matching, as the real list/watch filters them."""

from __future__ import annotations

import re

from emulator.kube import exceptions

_REQUIREMENT = re.compile(
    r"""\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*
        (?:(?P<op>==|=|!=|\s+in\s+|\s+notin\s+)\s*(?P<value>\([^)]*\)|[-A-Za-z0-9_.]*))?\s*$""",
    re.X,
)

# Field selectors a kind supports beyond metadata.name / metadata.namespace (kube-apiserver 1.28).
EXTRA_FIELD_LABELS = {
    "Pod": {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "Secret": {"type"},
    "Event": {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
    "Namespace": {"status.phase"},
    "Job": {"status.successful"},
}


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


class LabelSelector:
    def __init__(self, text: str | None):
        self.requirements: list[tuple[str, str, set[str]]] = []
        for part in _split_top_level(text or ""):
            match = _REQUIREMENT.match(part)
            if not match:
                raise exceptions.bad_request(f"unable to parse requirement: {part.strip()!r}")
            key, op, value, negated = match["key"], (match["op"] or "").strip(), match["value"], match["neg"]
            if negated:
                if op:
                    raise exceptions.bad_request(f"unable to parse requirement: {part.strip()!r}")
                self.requirements.append((key, "!", set()))
            elif not op:
                self.requirements.append((key, "exists", set()))
            elif op in ("in", "notin"):
                values = {v.strip() for v in value.strip("()").split(",") if v.strip()}
                self.requirements.append((key, op, values))
            else:
                self.requirements.append((key, "!=" if op == "!=" else "=", {value}))

    def matches(self, labels: dict | None) -> bool:
        labels = labels or {}
        for key, op, values in self.requirements:
            present = key in labels
            if op == "exists" and not present:
                return False
            if op == "!" and present:
                return False
            if op in ("=", "in") and (not present or labels[key] not in values):
                return False
            if op in ("!=", "notin") and present and labels[key] in values:
                return False
        return True

    @classmethod
    def from_api(cls, selector: dict | None) -> LabelSelector:
        """A metav1.LabelSelector (matchLabels / matchExpressions) as used inside objects."""
        parts = [f"{k}={v}" for k, v in ((selector or {}).get("matchLabels") or {}).items()]
        for expression in (selector or {}).get("matchExpressions") or []:
            op, key, values = expression["operator"], expression["key"], expression.get("values") or []
            if op == "In":
                parts.append(f"{key} in ({','.join(values)})")
            elif op == "NotIn":
                parts.append(f"{key} notin ({','.join(values)})")
            elif op == "Exists":
                parts.append(key)
            else:
                parts.append(f"!{key}")
        return cls(",".join(parts))


class FieldSelector:
    def __init__(self, text: str | None, kind: str):
        self.requirements: list[tuple[str, bool, str]] = []
        supported = {"metadata.name", "metadata.namespace"} | EXTRA_FIELD_LABELS.get(kind, set())
        for part in _split_top_level(text or ""):
            match = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", part)
            if not match:
                raise exceptions.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
            path, op, value = match.groups()
            if path not in supported:
                raise exceptions.bad_request(f"field label not supported: {path}")
            self.requirements.append((path, op != "!=", value))

    def matches(self, obj: dict) -> bool:
        for path, equal, value in self.requirements:
            current = obj
            for step in path.split("."):
                current = current.get(step) if isinstance(current, dict) else None
            actual = (
                ""
                if current is None
                else (str(current).lower() if isinstance(current, bool) else str(current))
            )
            if (actual == value) != equal:
                return False
        return True
