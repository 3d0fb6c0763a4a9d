"""managedFields: who owns which field, server-side apply (merge, conflicts, removal) and the
ownership an Update (create, PUT, non-apply PATCH) takes. One place for these rules, no HTTP.

Entries are shaped as kube-apiserver 1.28 writes them: manager, operation (Apply|Update),
apiVersion, time, fieldsType FieldsV1, fieldsV1, subresource (when not the main resource).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from emulator.kube import exceptions
from emulator.kube.fieldpath import Path, from_fields_v1, lookup, path_string, remove, to_fields_v1
from emulator.kube.typed import Node, changed_paths, field_set, leaf_paths, merge

# Paths nobody owns: identity and server-maintained metadata (fieldmanager's stripMeta).
STRIPPED: set[Path] = {
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata",),
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
    ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:selfLink"),
    ("f:metadata", "f:uid"),
    ("f:metadata", "f:clusterName"),
    ("f:metadata", "f:generation"),
    ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:resourceVersion"),
}


def _strip(paths: set[Path], reset_prefixes: tuple[Path, ...]) -> set[Path]:
    return {p for p in paths if p not in STRIPPED and not any(p[: len(r)] == r for r in reset_prefixes)}


@dataclass
class ManagedEntry:
    manager: str
    operation: str
    api_version: str
    time: str
    fields: set
    subresource: str = ""

    @property
    def identity(self):
        # Apply entries are one per manager (and subresource); Update entries also per apiVersion.
        if self.operation == "Apply":
            return (self.manager, "Apply", "", self.subresource)
        return (self.manager, "Update", self.api_version, self.subresource)

    def to_api(self) -> dict:
        entry = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.fields),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry

    @classmethod
    def from_api(cls, entry: dict) -> ManagedEntry:
        return cls(
            entry.get("manager", ""),
            entry.get("operation", "Update"),
            entry.get("apiVersion", ""),
            entry.get("time", ""),
            from_fields_v1(entry.get("fieldsV1") or {}),
            entry.get("subresource", ""),
        )

    def describe(self) -> str:
        """How a conflict names the manager (fieldmanager's printManager)."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


def read_entries(obj: dict) -> list[ManagedEntry]:
    return [ManagedEntry.from_api(e) for e in (obj.get("metadata") or {}).get("managedFields") or []]


def write_entries(obj: dict, entries: list[ManagedEntry]) -> None:
    kept = [e for e in entries if e.fields]
    kept.sort(key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource))
    metadata = obj.setdefault("metadata", {})
    if kept:
        metadata["managedFields"] = [e.to_api() for e in kept]
    else:
        metadata.pop("managedFields", None)


def _without_meta(obj: dict) -> dict:
    body = copy.deepcopy(obj)
    metadata = body.get("metadata") or {}
    metadata.pop("managedFields", None)
    return body


def record_update(
    old: dict | None,
    new: dict,
    manager: str,
    api_version: str,
    now: str,
    node: Node,
    is_custom: bool,
    subresource: str = "",
    reset_prefixes: tuple[Path, ...] = (),
) -> None:
    """Give `manager` (operation Update) the fields it added or changed from `old` to `new`; take
    them from every other manager; forget removed fields. Writes new.metadata.managedFields."""
    entries = read_entries(new if _has_entries(new) else (old or {}))
    changed, removed = changed_paths(_without_meta(old or {}), _without_meta(new), node, is_custom=is_custom)
    changed, removed = _strip(changed, reset_prefixes), _strip(removed, reset_prefixes)
    mine = None
    probe = ManagedEntry(manager, "Update", api_version, now, set(), subresource)
    for entry in entries:
        if entry.identity == probe.identity:
            mine = entry
            continue
        entry.fields -= changed | removed
        entry.fields = {p for p in entry.fields if not any(p[: len(r)] == r for r in removed)}
    if changed:
        if mine is None:
            mine = probe
            entries.append(mine)
        before = set(mine.fields)
        mine.fields |= changed
        if mine.fields != before:
            mine.time = now
    if mine is not None:
        mine.fields = {p for p in mine.fields if not any(p[: len(r)] == r for r in removed)}
    write_entries(new, entries)


def _has_entries(obj: dict) -> bool:
    return bool((obj.get("metadata") or {}).get("managedFields"))


def apply(
    live: dict | None,
    config: dict,
    manager: str,
    api_version: str,
    now: str,
    node: Node,
    force: bool,
    subresource: str = "",
    reset_prefixes: tuple[Path, ...] = (),
) -> dict:
    """Server-side apply of `config` by `manager` onto `live` (None: the object is being created).

    Returns the new object (metadata of `live` kept, managedFields rewritten). Raises the real
    server's 409 conflict when other managers own fields whose value `config` changes, unless
    `force`, which takes those fields over.
    """
    base = _without_meta(live) if live is not None else {}
    applied = copy.deepcopy(config)
    (applied.get("metadata") or {}).pop("managedFields", None)
    config_set = _strip(field_set(applied, node), reset_prefixes)
    entries = read_entries(live or {})
    merged = merge(base, applied, node) if live is not None else copy.deepcopy(applied)

    before, after = leaf_paths(base, node), leaf_paths(merged, node)
    changed_leaves = {p for p, v in after.items() if before.get(p, _MISSING) != v}
    conflicts: list[tuple[ManagedEntry, Path]] = []
    mine = None
    for entry in entries:
        if entry.identity == (manager, "Apply", "", subresource):
            mine = entry
            continue
        for path in sorted(entry.fields & config_set & changed_leaves):
            conflicts.append((entry, path))
    conflicts.sort(key=lambda c: (c[0].manager, c[0].operation, c[1]))
    if conflicts and not force:
        raise conflict_error(conflicts)
    for entry, path in conflicts:
        entry.fields.discard(path)

    previous = set(mine.fields) if mine else set()
    others = set().union(*(e.fields for e in entries if e is not mine)) if entries else set()
    for path in sorted(previous - config_set - others, key=len, reverse=True):
        remove(merged, path)
    if mine is None:
        mine = ManagedEntry(manager, "Apply", api_version, now, set(), subresource)
        entries.append(mine)
    if mine.fields != config_set or mine.api_version != api_version:
        mine.fields, mine.api_version, mine.time = config_set, api_version, now

    result = merged
    if live is not None:
        result.setdefault("metadata", {})
        for key, value in (live.get("metadata") or {}).items():
            if key not in ("labels", "annotations", "finalizers", "ownerReferences", "managedFields"):
                result["metadata"][key] = copy.deepcopy(value)
    write_entries(result, entries)
    return result


_MISSING = object()


def conflict_error(conflicts: list[tuple[ManagedEntry, Path]]) -> exceptions.ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {entry.describe()}",
            "field": path_string(path),
        }
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.describe()}: {path_string(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(entry.describe(), []).append(path_string(path))
        lines = []
        for manager in sorted(by_manager, key=lambda d: d.split('"')[1]):
            lines.append(f"conflicts with {manager}:")
            lines.extend(f"- {p}" for p in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return exceptions.ApiError(409, "Conflict", message, {"causes": causes})


def owned_value(obj: dict, path: Path):
    return lookup(obj, path)
