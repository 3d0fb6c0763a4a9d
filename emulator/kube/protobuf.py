"""Request bodies in Kubernetes' protobuf encoding, for the few types Go clients send that way.

client-go based tools (Helm's release storage among them) write Secrets, ConfigMaps and
DeleteOptions as `application/vnd.kubernetes.protobuf`: the bytes ``k8s\\x00`` followed by a
`runtime.Unknown` envelope whose `raw` field holds the object. This module decodes those bodies
into the JSON shape the rest of the emulator works with. Field numbers follow the published
`generated.proto` files of k8s.io/api and k8s.io/apimachinery (1.28).
"""

from __future__ import annotations

import base64
import datetime
import json

from emulator.kube import exceptions

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# field number -> (JSON name, decoder); decoders name a scalar kind or a nested schema.
TIME = {1: ("seconds", "int"), 2: ("nanos", "int")}
FIELDS_V1 = {1: ("Raw", "bytes")}
MANAGED_FIELDS_ENTRY = {
    1: ("manager", "string"),
    2: ("operation", "string"),
    3: ("apiVersion", "string"),
    4: ("time", TIME),
    6: ("fieldsType", "string"),
    7: ("fieldsV1", FIELDS_V1),
    8: ("subresource", "string"),
}
OWNER_REFERENCE = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
OBJECT_META = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    4: ("selfLink", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    8: ("creationTimestamp", TIME),
    9: ("deletionTimestamp", TIME),
    10: ("deletionGracePeriodSeconds", "int"),
    11: ("labels", "map_string"),
    12: ("annotations", "map_string"),
    13: ("ownerReferences", [OWNER_REFERENCE]),
    14: ("finalizers", ["string"]),
    17: ("managedFields", [MANAGED_FIELDS_ENTRY]),
}
SECRET = {
    1: ("metadata", OBJECT_META),
    2: ("data", "map_bytes"),
    3: ("type", "string"),
    4: ("stringData", "map_string"),
    5: ("immutable", "bool"),
}
CONFIG_MAP = {
    1: ("metadata", OBJECT_META),
    2: ("data", "map_string"),
    3: ("binaryData", "map_bytes"),
    4: ("immutable", "bool"),
}
PRECONDITIONS = {1: ("uid", "string"), 2: ("resourceVersion", "string")}
DELETE_OPTIONS = {
    1: ("gracePeriodSeconds", "int"),
    2: ("preconditions", PRECONDITIONS),
    3: ("orphanDependents", "bool"),
    4: ("propagationPolicy", "string"),
    5: ("dryRun", ["string"]),
}
TYPE_META = {1: ("apiVersion", "string"), 2: ("kind", "string")}
UNKNOWN = {
    1: ("typeMeta", TYPE_META),
    2: ("raw", "bytes"),
    3: ("contentEncoding", "string"),
    4: ("contentType", "string"),
}

SCHEMAS = {
    ("v1", "Secret"): SECRET,
    ("v1", "ConfigMap"): CONFIG_MAP,
    ("v1", "DeleteOptions"): DELETE_OPTIONS,
    ("meta.k8s.io/v1", "DeleteOptions"): DELETE_OPTIONS,
}


def decode(body: bytes) -> dict:
    """The JSON form of a protobuf-encoded request body; 415 for types the emulator cannot read."""
    if not body.startswith(MAGIC):
        raise exceptions.bad_request("the protobuf body does not start with the Kubernetes magic number")
    envelope = _message(body[len(MAGIC) :], UNKNOWN)
    type_meta = envelope.get("typeMeta") or {}
    key = (type_meta.get("apiVersion", ""), type_meta.get("kind", ""))
    schema = SCHEMAS.get(key)
    if schema is None:
        raise exceptions.ApiError(
            415,
            "UnsupportedMediaType",
            f"the emulated cluster cannot decode {key[1] or 'this object'} ({key[0]}) from protobuf; "
            "send JSON",
        )
    obj = _message(envelope.get("raw") or b"", schema)
    obj["apiVersion"], obj["kind"] = key
    return obj


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if position >= len(data):
            raise exceptions.bad_request("truncated protobuf body")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) triples; value is an int or bytes."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 1:
            value, position = int.from_bytes(data[position : position + 8], "little"), position + 8
        elif wire == 5:
            value, position = int.from_bytes(data[position : position + 4], "little"), position + 4
        else:
            raise exceptions.bad_request(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _message(data: bytes, schema: dict) -> dict:
    result: dict = {}
    for number, _, value in _fields(data):
        if number not in schema:
            continue  # a field this emulator does not read
        name, kind = schema[number]
        if isinstance(kind, list):
            result.setdefault(name, []).append(_scalar_or_message(value, kind[0]))
        elif kind in ("map_string", "map_bytes"):
            entry = {n: v for n, _, v in _fields(value)}
            key = entry.get(1, b"").decode()
            raw = entry.get(2, b"")
            result.setdefault(name, {})[key] = (
                raw.decode() if kind == "map_string" else base64.b64encode(raw).decode()
            )
        else:
            result[name] = _scalar_or_message(value, kind)
    if schema is TIME:
        stamp = datetime.datetime.fromtimestamp(result.get("seconds", 0), datetime.UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[return-value]
    if schema is FIELDS_V1:
        return json.loads(result.get("Raw") or b"{}")
    return result


def _scalar_or_message(value, kind):
    if isinstance(kind, dict):
        return _message(value, kind)
    if kind == "string":
        return value.decode()
    if kind == "bytes":
        return value
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return value - (1 << 64) if value >= 1 << 63 else value
    raise ValueError(kind)
