"""Storage and watch: what etcd and the watch cache are to a real API server.

`Store` keeps the objects of every served kind, hands out resourceVersions, records the event log
watches read from, and answers reads (get, list with selectors and pagination, events since a
resourceVersion). It applies no API rules: writes that reach it have been admitted already.
"""

from __future__ import annotations

import base64
import bisect
import copy
import datetime
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

from emulator.kube import exceptions
from emulator.kube.resources import ResourceRegistry, ResourceType
from emulator.kube.selectors import FieldSelector, LabelSelector

# A real server's compaction window is time-based; the emulator keeps this many events instead.
MAX_EVENTS = 50000


class Clock:
    """Wall-clock time plus an offset tests can advance (token expiry, timestamps)."""

    def __init__(self):
        self.offset = datetime.timedelta()

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC) + self.offset

    def stamp(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def advance(self, seconds: float) -> None:
        self.offset += datetime.timedelta(seconds=seconds)


@dataclass
class WatchEvent:
    resource_version: int
    type: str  # ADDED | MODIFIED | DELETED
    key: tuple[str, str]  # (group, plural)
    namespace: str
    obj: dict
    previous: dict | None = None


class Store:
    def __init__(self, registry: ResourceRegistry):
        self.registry = registry
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self._resource_version = itertools.count(1)
        self.current_resource_version = 0
        self.events: list[WatchEvent] = []
        self.listeners: list[Callable[[WatchEvent], None]] = []
        # Set when something happened that controllers may have to react to; reconcile clears it.
        self.dirty = True

    # ------------------------------------------------------------------ writes (already admitted)

    def bucket(self, rtype: ResourceType) -> dict[tuple[str, str], dict]:
        """The stored objects of a kind, keyed by (namespace, name); "" for cluster-scoped ones."""
        return self._objects.setdefault((rtype.group, rtype.plural), {})

    def objects_of(self, group: str, plural: str) -> dict[tuple[str, str], dict]:
        """Like `bucket`, by group and plural, without creating an empty bucket."""
        return self._objects.get((group, plural), {})

    def drop_kind(self, group: str, plural: str) -> None:
        """Forget a kind's bucket (its CRD is gone)."""
        self._objects.pop((group, plural), None)

    def _next_rv(self) -> int:
        self.current_resource_version = next(self._resource_version)
        return self.current_resource_version

    def _emit(self, event_type: str, rtype: ResourceType, obj: dict, previous: dict | None = None) -> None:
        event = WatchEvent(
            int(obj["metadata"]["resourceVersion"]),
            event_type,
            (rtype.group, rtype.plural),
            obj["metadata"].get("namespace", ""),
            copy.deepcopy(obj),
            previous,
        )
        self.events.append(event)
        if len(self.events) > MAX_EVENTS:
            del self.events[: len(self.events) - MAX_EVENTS]
        for listener in list(self.listeners):
            listener(event)

    def put(self, rtype: ResourceType, obj: dict, event_type: str, previous: dict | None = None) -> dict:
        """Store `obj` under a new resourceVersion and emit `event_type` (ADDED or MODIFIED)."""
        obj["metadata"]["resourceVersion"] = str(self._next_rv())
        obj = order_metadata(obj)
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        self.bucket(rtype)[key] = obj
        self._emit(event_type, rtype, obj, previous)
        return obj

    def remove(self, rtype: ResourceType, obj: dict) -> dict:
        """Delete `obj` for good and emit DELETED; returns the object as the event carries it."""
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        self.bucket(rtype).pop(key, None)
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self._next_rv())
        self._emit("DELETED", rtype, gone, obj)
        self.dirty = True
        return gone

    # ------------------------------------------------------------------ reads

    def find(self, rtype: ResourceType, namespace: str, name: str) -> dict | None:
        return self.bucket(rtype).get((namespace if rtype.namespaced else "", name))

    @staticmethod
    def present(obj: dict, rtype: ResourceType) -> dict:
        """A copy of a stored object as served at `rtype`'s version."""
        shown = copy.deepcopy(obj)
        shown["apiVersion"] = rtype.api_version
        shown["kind"] = rtype.kind
        return shown

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict:
        obj = self.find(rtype, namespace, name)
        if obj is None:
            raise exceptions.not_found(rtype.plural, rtype.group, name)
        return self.present(obj, rtype)

    def list(
        self,
        rtype: ResourceType,
        namespace: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        continue_token: str = "",
    ) -> dict:
        labels = LabelSelector(label_selector)
        fields = FieldSelector(field_selector, rtype.kind)
        items = []
        for (ns, _), obj in sorted(self.bucket(rtype).items()):
            if rtype.namespaced and namespace and ns != namespace:
                continue
            if labels.matches(obj["metadata"].get("labels")) and fields.matches(obj):
                items.append(obj)
        metadata: dict = {"resourceVersion": str(self.current_resource_version)}
        if continue_token:
            try:
                state = json.loads(base64.b64decode(continue_token))
                start_after = tuple(state["start"])
                metadata["resourceVersion"] = state["rv"]
            except (ValueError, KeyError, TypeError):
                raise exceptions.bad_request("continue key is not valid: illegal base64 data") from None
            items = [
                o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start_after
            ]
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            token = {
                "v": "meta.k8s.io/v1",
                "rv": metadata["resourceVersion"],
                "start": [last.get("namespace", ""), last["name"]],
            }
            metadata["continue"] = base64.b64encode(json.dumps(token).encode()).decode()
            if not (label_selector or field_selector):  # the real server cannot count through selectors
                metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        shown = []
        for obj in items:
            item = self.present(obj, rtype)
            if rtype.crd_name is None:  # built-in lists carry no per-item apiVersion/kind
                item.pop("apiVersion", None)
                item.pop("kind", None)
            shown.append(item)
        return {
            "kind": rtype.list_kind,
            "apiVersion": rtype.api_version,
            "metadata": metadata,
            "items": shown,
        }

    def events_after(self, resource_version: int) -> list[WatchEvent] | None:
        """Every event newer than `resource_version`, oldest first; None when some were trimmed."""
        if self.events and self.events[0].resource_version > resource_version + 1:
            return None
        start = bisect.bisect_right(self.events, resource_version, key=lambda e: e.resource_version)
        return self.events[start:]

    def events_since(self, rtype: ResourceType, namespace: str, resource_version: int) -> list[WatchEvent]:
        oldest = self.events[0].resource_version if self.events else self.current_resource_version + 1
        if resource_version and resource_version < oldest - 1 and self.current_resource_version > MAX_EVENTS:
            raise exceptions.gone(f"too old resource version: {resource_version} ({oldest - 1})")
        key = (rtype.group, rtype.plural)
        # Events are in resourceVersion order: skip the older ones without scanning them.
        start = bisect.bisect_right(self.events, resource_version, key=lambda e: e.resource_version)
        return [
            e
            for e in self.events[start:]
            if e.resource_version > resource_version
            and e.key == key
            and (not namespace or not rtype.namespaced or e.namespace == namespace)
        ]

    # ------------------------------------------------------------------ whole-store views (controllers)

    def unique_types(self) -> list[ResourceType]:
        """One served version of every stored kind."""
        seen, result = set(), []
        for rtype in self.registry.all():
            key = (rtype.group, rtype.plural)
            if key not in seen:
                seen.add(key)
                result.append(rtype)
        return result

    def all_by_uid(self) -> dict[str, tuple[ResourceType, dict]]:
        index = {}
        for rtype in self.unique_types():
            for obj in self.bucket(rtype).values():
                index[obj["metadata"]["uid"]] = (rtype, obj)
        return index


_METADATA_ORDER = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


def order_metadata(obj: dict) -> dict:
    """Keys in the order the real server serializes them (clients do not care; diffs and eyes do)."""
    metadata = obj.get("metadata") or {}
    ordered = {k: metadata[k] for k in _METADATA_ORDER if k in metadata}
    ordered.update({k: v for k, v in metadata.items() if k not in ordered})
    result = {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"), "metadata": ordered}
    result.update({k: v for k, v in obj.items() if k not in result})
    return result


def same(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
