"""The API's error shapes: every failure is a `Status` object, worded as kube-apiserver 1.28 words it.

Messages and details were compared with a real kube-apiserver v1.28.7 (see tests/conformance).
"""

from __future__ import annotations

import json


class ApiError(Exception):
    """An API failure: `code` is the HTTP status, `status()` the body the real server sends."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def qualified_resource(resource: str, group: str) -> str:
    """`deployments.apps`, or plain `configmaps` for the core group, as messages name resources."""
    return f"{resource}.{group}" if group else resource


def _details(resource: str, group: str, name: str | None = None, **extra) -> dict:
    details: dict = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource
    details.update(extra)
    return details


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{qualified_resource(resource, group)} "{name}" not found',
        _details(resource, group, name),
    )


def resource_not_found() -> ApiError:
    """An unknown resource path inside /api or /apis."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified_resource(resource, group)} "{name}" already exists',
        _details(resource, group, name),
    )


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified_resource(resource, group)} "{name}": {why}',
        _details(resource, group, name),
    )


def stale_resource_version(resource: str, group: str, name: str) -> ApiError:
    return conflict(
        resource,
        group,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )


def forbidden(resource: str, group: str, name: str | None, why: str, causes: list | None = None) -> ApiError:
    subject = qualified_resource(resource, group)
    if name:
        subject += f' "{name}"'
    extra = {"causes": causes} if causes else {}
    return ApiError(
        403, "Forbidden", f"{subject} is forbidden: {why}", _details(resource, group, name, **extra)
    )


def forbidden_path(why: str) -> ApiError:
    return ApiError(403, "Forbidden", f"forbidden: {why}", {})


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
    )


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_many_requests() -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
        {"retryAfterSeconds": 1},
    )


def internal_error(
    message: str = 'an error on the server ("injected fault") has prevented the request from succeeding',
) -> ApiError:
    return ApiError(500, "InternalError", message, {})


class FieldError:
    """One field problem inside a 422: `field.Invalid` / `Required` / `NotSupported` / `Forbidden`."""

    REASONS = {
        "Invalid value": "FieldValueInvalid",
        "Required value": "FieldValueRequired",
        "Unsupported value": "FieldValueNotSupported",
        "Forbidden": "FieldValueForbidden",
        "Duplicate value": "FieldValueDuplicate",
        "Too long": "FieldValueTooLong",
        "Too many": "FieldValueTooMany",
    }

    def __init__(
        self,
        field: str,
        kind: str,
        detail: str = "",
        value=None,
        has_value: bool = False,
        reason: str | None = None,
    ):
        self.field = field
        self.kind = kind
        self.detail = detail
        self.value = value
        self.has_value = has_value
        self.reason = reason or self.REASONS.get(kind, "FieldValueInvalid")

    @classmethod
    def invalid(cls, field, value, detail, reason=None):
        return cls(field, "Invalid value", detail, value, True, reason)

    @classmethod
    def required(cls, field, detail=""):
        return cls(field, "Required value", detail)

    @classmethod
    def not_supported(cls, field, value, supported):
        detail = "supported values: " + ", ".join(json.dumps(s) for s in supported)
        return cls(field, "Unsupported value", detail, value, True)

    @classmethod
    def forbidden(cls, field, detail):
        return cls(field, "Forbidden", detail)

    def body(self) -> str:
        """The part after the field path: `Invalid value: "x": why`."""
        text = self.kind
        if self.has_value:
            text += ": " + _go_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


class GoText(str):
    """A value already printed the way Go prints it (e.g. a struct): shown as is, unquoted."""


def _go_value(value) -> str:
    """How field.Error prints a value: strings quoted, numbers and bools bare, objects as Go does."""
    if isinstance(value, GoText):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 Invalid: `Kind.group "name" is invalid: field: ...`, one cause per field error."""
    qualified_kind = f"{kind}.{group}" if group else kind
    summary = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    details: dict = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)
