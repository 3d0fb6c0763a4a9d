"""The non-apply PATCH formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic
merge patch (built-in kinds only; lists merged by their patch merge key)."""

from __future__ import annotations

import copy
import json

from emulator.kube import exceptions
from emulator.kube.typed import BuiltinNode, Node


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise exceptions.ApiError(422, "Invalid", f'json: cannot unmarshal path "{path}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc, parts: list[str], op: str, path: str):
    current = doc
    for part in parts[:-1]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise _missing(op, path)
    return current


def _missing(op: str, path: str) -> exceptions.ApiError:
    return exceptions.ApiError(
        422,
        "Invalid",
        f'the server rejected our request due to an error in our request: doc is missing path: "{path}"',
    )


def json_patch(doc, operations):
    if not isinstance(operations, list):
        raise exceptions.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for operation in operations:
        op, path = operation.get("op"), operation.get("path", "")
        parts = _pointer(path)
        if op == "test":
            if _get(doc, parts, op, path) != operation.get("value"):
                raise exceptions.ApiError(
                    422,
                    "Invalid",
                    f"the server rejected our request due to an error in our request: "
                    f"testing value {path} failed: test failed",
                )
            continue
        if op in ("move", "copy"):
            value = _get(doc, _pointer(operation.get("from", "")), op, operation.get("from", ""))
            if op == "move":
                doc = _remove(doc, _pointer(operation["from"]), op, operation["from"])
            doc = _add(doc, parts, copy.deepcopy(value), op, path)
            continue
        if op == "add":
            doc = _add(doc, parts, copy.deepcopy(operation.get("value")), op, path)
        elif op == "remove":
            doc = _remove(doc, parts, op, path)
        elif op == "replace":
            _get(doc, parts, op, path)
            doc = _remove(doc, parts, op, path)
            doc = _add(doc, parts, copy.deepcopy(operation.get("value")), op, path)
        else:
            raise exceptions.bad_request(f"Unexpected kind: {op}")
    return doc


def _get(doc, parts, op, path):
    current = doc
    for part in parts:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise _missing(op, path)
    return current


def _add(doc, parts, value, op, path):
    if not parts:
        return value
    parent = _container(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _missing(op, path)
    else:
        raise _missing(op, path)
    return doc


def _remove(doc, parts, op, path):
    if not parts:
        return None
    parent = _container(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
    else:
        raise _missing(op, path)
    return doc


def strategic_merge_patch(target, patch, node: Node):
    """Strategic merge patch for built-in kinds: maps merge, keyed lists merge by their first key,
    `$patch: replace|delete` and `$deleteFromPrimitiveList/…` directives are honoured."""
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target)
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in value]
            continue
        child, _ = node.child(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            if value.get("$patch") == "delete":
                result.pop(key, None)
            else:
                result[key] = strategic_merge_patch(result.get(key) or {}, value, child)
        elif isinstance(value, list) and child.kind == "list_map" and isinstance(result.get(key), list):
            result[key] = _merge_keyed_list(result[key], value, child)
        elif isinstance(value, list) and child.kind == "list_set" and isinstance(result.get(key), list):
            result[key] = result[key] + [v for v in value if v not in result[key]]
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_keyed_list(live: list, patch: list, node: Node) -> list:
    merge_key = node.keys[0]
    result = copy.deepcopy(live)
    for item in patch:
        if not isinstance(item, dict):
            continue
        if item.get("$patch") == "replace":
            return [copy.deepcopy(i) for i in patch if i.get("$patch") != "replace"]
        position = next(
            (
                n
                for n, i in enumerate(result)
                if isinstance(i, dict) and i.get(merge_key) == item.get(merge_key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                del result[position]
        elif position is None:
            result.append({k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")})
        else:
            result[position] = strategic_merge_patch(result[position], item, node.item())
    return result


def parse_body(raw: bytes, what: str = "body"):
    try:
        return json.loads(raw or b"null")
    except ValueError as error:
        raise exceptions.bad_request(f"error decoding {what}: {error}") from None


def is_builtin(node: Node) -> bool:
    return isinstance(node, BuiltinNode)
