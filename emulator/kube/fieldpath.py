"""Field sets as server-side apply tracks them, and their `fieldsV1` encoding.

A field set is a Python set of paths; a path is a tuple of path elements written exactly as fieldsV1
keys write them: ``f:name`` (a field), ``k:{"name":"c"}`` (an associative-list item, key fields
sorted), ``v:"x"`` (a set-list item), ``i:3`` (a positional item). `fieldsV1` is the tree of those
keys where ``".": {}`` marks a node that is itself a member and also has members below it.
"""

from __future__ import annotations

import json

Path = tuple[str, ...]


def field(name: str) -> str:
    return "f:" + name


# Defaults the built-in schemas give list-map key fields: an item without them is keyed as if set.
KEY_DEFAULTS = {"protocol": "TCP"}


def key_element(item: dict, keys: tuple[str, ...]) -> str:
    fields = {k: item.get(k, KEY_DEFAULTS.get(k)) for k in sorted(keys) if k in item or k in KEY_DEFAULTS}
    return "k:" + json.dumps(fields, separators=(",", ":"))


def value_element(value) -> str:
    return "v:" + json.dumps(value, separators=(",", ":"))


def to_fields_v1(paths: set[Path]) -> dict:
    tree: dict = {}
    members: set[Path] = set()
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        members.add(path)
    _mark_members(tree, (), members)
    return _sorted(tree)


def _mark_members(node: dict, path: Path, members: set[Path]) -> None:
    for element, child in node.items():
        if element == ".":
            continue
        child_path = path + (element,)
        if child and child_path in members:
            child["."] = {}
        _mark_members(child, child_path, members)


def _sorted(node: dict) -> dict:
    order = {".": 0, "f": 1, "k": 2, "v": 3, "i": 4}
    return {k: _sorted(v) for k, v in sorted(node.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0]))}


def from_fields_v1(tree: dict, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for element, child in (tree or {}).items():
        if element == ".":
            paths.add(prefix)
            continue
        path = prefix + (element,)
        if not child:
            paths.add(path)
        else:
            paths |= from_fields_v1(child, path)
    return paths


def path_string(path: Path) -> str:
    """How apply conflicts print a path: `.spec.containers[name="c"].image`."""
    text = ""
    for element in path:
        tag, body = element[:1], element[2:]
        if tag == "f":
            text += "." + body
        elif tag == "k":
            fields = json.loads(body)
            text += (
                "[" + ",".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in fields.items()) + "]"
            )
        elif tag == "v":
            text += "[=" + body + "]"
        else:
            text += "[" + body + "]"
    return text


def lookup(obj, path: Path):
    """(found, value) of `path` inside `obj`."""
    current = obj
    for element in path:
        found, current = _step(current, element)
        if not found:
            return False, None
    return True, current


def _step(current, element: str):
    tag, body = element[:1], element[2:]
    if tag == "f":
        if isinstance(current, dict) and body in current:
            return True, current[body]
        return False, None
    if not isinstance(current, list):
        return False, None
    if tag == "k":
        wanted = json.loads(body)
        for item in current:
            if isinstance(item, dict) and all(
                item.get(k, KEY_DEFAULTS.get(k)) == v for k, v in wanted.items()
            ):
                return True, item
        return False, None
    if tag == "v":
        wanted = json.loads(body)
        for item in current:
            if item == wanted:
                return True, item
        return False, None
    index = int(body)
    return (True, current[index]) if 0 <= index < len(current) else (False, None)


def remove(obj, path: Path) -> None:
    """Remove the member at `path` from `obj` in place (nothing if it is absent)."""
    if not path:
        return
    found, parent = lookup(obj, path[:-1])
    if not found:
        return
    element = path[-1]
    tag, body = element[:1], element[2:]
    if tag == "f":
        if isinstance(parent, dict):
            parent.pop(body, None)
        return
    if not isinstance(parent, list):
        return
    found, item = _step(parent, element)
    if found:
        for index, candidate in enumerate(parent):
            if candidate is item:
                del parent[index]
                break
