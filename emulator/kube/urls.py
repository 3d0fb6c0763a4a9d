"""Routing: which part of the Kubernetes API a request path names (kube-apiserver's RequestInfo)."""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = {"status", "finalize"}
NON_RESOURCE_PREFIXES = ("/version", "/healthz", "/readyz", "/livez", "/openapi", "/metrics")


@dataclass
class Target:
    """What a path addresses. kind: discovery | resource | nonresource | emulator."""

    kind: str
    path: str
    group: str = ""
    version: str = ""
    plural: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    watch_path: bool = False
    discovery: str = ""  # "api" | "apis" | "group" | "group_version" | "core"
    rest: str = ""  # /_emulator/<rest>

    @property
    def collection(self) -> bool:
        return not self.name


def resolve(path: str) -> Target:
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["_emulator"]:
        return Target("emulator", path, rest="/".join(parts[1:]))
    if parts == ["api"]:
        return Target("discovery", path, discovery="api")
    if parts == ["apis"]:
        return Target("discovery", path, discovery="apis")
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
        if not rest:
            return Target("discovery", path, version=version, discovery="group_version")
    elif parts[:1] == ["apis"] and len(parts) >= 2:
        group = parts[1]
        if len(parts) == 2:
            return Target("discovery", path, group=group, discovery="group")
        version, rest = parts[2], parts[3:]
        if not rest:
            return Target("discovery", path, group=group, version=version, discovery="group_version")
    else:
        return Target("nonresource", path)
    target = Target("resource", path, group=group, version=version)
    if rest[:1] == ["watch"]:
        target.watch_path = True
        rest = rest[1:]
    if (
        len(rest) >= 2
        and rest[0] == "namespaces"
        and not (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES)
    ):
        if len(rest) == 2:
            # /namespaces/{name}: the namespace object itself
            target.plural, target.name, target.namespace = "namespaces", rest[1], rest[1]
            return target
        target.namespace, rest = rest[1], rest[2:]
    if not rest:
        return Target("nonresource", path)
    target.plural = rest[0]
    if len(rest) >= 2:
        target.name = rest[1]
    if len(rest) >= 3:
        target.subresource = rest[2]
    if len(rest) > 3:
        return Target("nonresource", path)
    if target.plural == "namespaces" and target.name and not target.namespace:
        target.namespace = target.name
    return target
