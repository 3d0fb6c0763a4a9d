"""Custom resources against their CRD's structural openAPIV3Schema: defaulting, pruning of unknown
fields and validation, with the field paths and wording of kube-apiserver 1.28's 422 answers."""

from __future__ import annotations

import copy
import re

from emulator.kube.exceptions import FieldError

_GO_TYPES = {
    "integer": int,
    "number": (int, float),
    "string": str,
    "boolean": bool,
    "array": list,
    "object": dict,
}


def _type_ok(value, wanted: str) -> bool:
    if wanted in ("integer", "number") and isinstance(value, bool):
        return False
    if wanted == "integer" and isinstance(value, float):
        return value.is_integer()
    expected = _GO_TYPES.get(wanted)
    return expected is None or isinstance(value, expected)


def apply_defaults(value, schema: dict | None):
    """Fill `default`s of absent properties, recursively (values are not validated here)."""
    if not schema or not isinstance(value, dict | list):
        return value
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = apply_defaults(value[name], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for name in value:
                if name not in (schema.get("properties") or {}):
                    value[name] = apply_defaults(value[name], additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def prune(value, schema: dict | None, path: str, unknown: list[str], top: bool = False):
    """Drop fields the schema does not declare (unless it preserves unknown fields); collect their paths."""
    if not schema or not isinstance(value, dict | list):
        return value
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") or schema.get(
            "x-kubernetes-embedded-resource"
        )
        result = {}
        for name, child in value.items():
            child_path = f"{path}.{name}" if path else name
            if top and name in ("apiVersion", "kind", "metadata"):
                result[name] = child
            elif name in properties:
                result[name] = prune(child, properties[name], child_path, unknown)
            elif isinstance(additional, dict):
                result[name] = prune(child, additional, child_path, unknown)
            elif additional is True or preserve:
                result[name] = child
            else:
                unknown.append(child_path)
        return result
    items = schema.get("items")
    if isinstance(items, dict):
        return [prune(item, items, f"{path}[{n}]", unknown) for n, item in enumerate(value)]
    return value


def validate(value, schema: dict | None, path: str = "", top: bool = False) -> list[FieldError]:
    errors: list[FieldError] = []
    if schema:
        _validate(value, schema, path, errors, top)
    return errors


def _validate(value, schema: dict, path: str, errors: list[FieldError], top: bool = False) -> None:
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            errors.append(
                FieldError.invalid(
                    path,
                    None,
                    f'{path} in body must be of type {schema["type"]}: "null"',
                    reason="FieldValueTypeInvalid",
                )
            )
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str) or isinstance(value, bool):
            errors.append(
                FieldError.invalid(
                    path,
                    value,
                    f'{path} in body must be of type integer,string: "{_type_name(value)}"',
                    reason="FieldValueTypeInvalid",
                )
            )
        elif isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
            message = f"{path} in body should match '{schema['pattern']}'"
            errors.append(FieldError.invalid(path, value, message))
        return
    wanted = schema.get("type")
    if wanted and not _type_ok(value, wanted):
        # The real server shows the value's type name as the invalid value.
        errors.append(
            FieldError.invalid(
                path,
                _type_name(value),
                f'{path} in body must be of type {wanted}: "{_type_name(value)}"',
                reason="FieldValueTypeInvalid",
            )
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(FieldError.not_supported(path, value, schema["enum"]))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(
                FieldError(
                    path,
                    "Too long",
                    f"may not be longer than {schema['maxLength']}",
                    reason="FieldValueTooLong",
                )
            )
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(
                FieldError.invalid(
                    path, value, f"{path} in body should be at least {schema['minLength']} chars long"
                )
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(
                FieldError.invalid(path, value, f"{path} in body should match '{schema['pattern']}'")
            )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(
                FieldError.invalid(
                    path, value, f"{path} in body should be greater than or equal to {schema['minimum']}"
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(
                FieldError.invalid(
                    path, value, f"{path} in body should be less than or equal to {schema['maximum']}"
                )
            )
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(
                FieldError(
                    path,
                    "Too many",
                    f"must have at most {schema['maxItems']} items",
                    value=len(value),
                    has_value=True,
                    reason="FieldValueTooMany",
                )
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(
                FieldError.invalid(
                    path, value, f"{path} in body should have at least {schema['minItems']} items"
                )
            )
        items = schema.get("items")
        if isinstance(items, dict):
            for n, item in enumerate(value):
                _validate(item, items, f"{path}[{n}]", errors)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                errors.append(FieldError.required(f"{path}.{name}" if path else name))
        for name, child in value.items():
            if top and name in ("apiVersion", "kind", "metadata"):
                continue
            child_path = f"{path}.{name}" if path else name
            if name in properties:
                _validate(child, properties[name], child_path, errors)
            elif isinstance(schema.get("additionalProperties"), dict):
                _validate(child, schema["additionalProperties"], child_path, errors)


def _type_name(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def structural_problems(schema: dict | None, path: str) -> list[FieldError]:
    """Why a CRD schema is not structural (every node typed unless it preserves unknown fields)."""
    problems: list[FieldError] = []
    if schema is None:
        return [FieldError.required(path, "schemas are required")]
    _structural(schema, path, problems, root=True)
    return problems


def _structural(schema: dict, path: str, problems: list[FieldError], root: bool = False) -> None:
    if not isinstance(schema, dict):
        return
    typed = (
        schema.get("type")
        or schema.get("x-kubernetes-int-or-string")
        or schema.get("x-kubernetes-preserve-unknown-fields")
    )
    if not typed:
        problems.append(
            FieldError.required(
                f"{path}.type",
                "must not be empty for specified object fields"
                if not root
                else "must not be empty at the root",
            )
        )
    for name, sub in (schema.get("properties") or {}).items():
        _structural(sub, f"{path}.properties[{name}]", problems)
    if isinstance(schema.get("items"), dict):
        _structural(schema["items"], f"{path}.items", problems)
    if isinstance(schema.get("additionalProperties"), dict):
        _structural(schema["additionalProperties"], f"{path}.additionalProperties", problems)


_SMD_EXPECTED = {
    "string": "string",
    "integer": "numeric (int or float)",
    "number": "numeric (int or float)",
    "boolean": "boolean",
    "object": "map",
    "array": "list",
}


def apply_type_error(value, schema: dict | None, path: str = "") -> str | None:
    """What structured-merge-diff reports while building the typed patch of an applied
    configuration: every type mismatch and every field the schema does not declare, one error as
    is, several as an `errors:` list (`.spec.x: expected string, got …`); None when all fits."""
    problems: list[str] = []
    _apply_problems(value, schema, path, problems)
    if not problems:
        return None
    if len(problems) == 1:
        return problems[0]
    return "errors:\n  " + "\n  ".join(problems)


def _apply_problems(value, schema: dict | None, path: str, problems: list[str]) -> None:
    if not schema or value is None:
        return
    if schema.get("x-kubernetes-int-or-string") or (
        not schema.get("type") and schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        return
    wanted = schema.get("type")
    if wanted and not _type_ok(value, wanted) and not (wanted == "number" and isinstance(value, int)):
        expected = _SMD_EXPECTED.get(wanted, wanted)
        problems.append(f"{path}: expected {expected}, got {_smd_shown(value, wanted)}")
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for name, child in value.items():
            if path == "" and name in ("apiVersion", "kind", "metadata"):
                continue
            sub = properties.get(name) or (additional if isinstance(additional, dict) else None)
            if sub is None and name not in properties and not (
                additional is True or schema.get("x-kubernetes-preserve-unknown-fields")
            ):
                problems.append(f"{path}.{name}: field not declared in schema")
                continue
            _apply_problems(child, sub, f"{path}.{name}", problems)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for n, item in enumerate(value):
            _apply_problems(item, schema["items"], f"{path}[{n}]", problems)


def _smd_shown(value, wanted: str) -> str:
    """How structured-merge-diff prints the offending value: `%T` of the Go value for numerics,
    `%#v` of its value wrapper for strings, `%v` of it for booleans, lists and maps."""
    if wanted in ("integer", "number"):
        return _go_type_name(value)
    if wanted == "string":
        return _go_unstructured(value)
    return "&{" + _go_plain(value) + "}"


def _go_type_name(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return "float64" if isinstance(value, float) else "int64"


def _go_plain(value) -> str:
    """Go's %v of an unstructured value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_go_plain(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_plain(value[k])}" for k in sorted(value)) + "]"
    return repr(value)


def _go_unstructured(value) -> str:
    if isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, str):
        shown = '"' + value.replace('"', '\\"') + '"'
    elif isinstance(value, int | float):
        shown = repr(value)
    else:
        shown = "..."
    return "&value.valueUnstructured{Value:" + shown + "}"
