"""Decoding Kubernetes protobuf request bodies (what Helm's release storage sends)."""

import pytest

from emulator.kube import exceptions, protobuf


def varint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def field(number: int, payload) -> bytes:
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field(1, api_version) + field(2, kind)
    return protobuf.MAGIC + field(1, type_meta) + field(2, raw) + field(4, protobuf.CONTENT_TYPE)


def test_secret_with_labels_and_binary_data():
    metadata = (
        field(1, "sh.helm.release.v1.demo.v1")
        + field(3, "default")
        + field(11, field(1, "owner") + field(2, "helm"))
        + field(8, field(1, 0))
    )
    secret = (
        field(1, metadata)
        + field(2, field(1, "release") + field(2, b"\x00\xff"))
        + field(3, "helm.sh/release.v1")
    )
    assert protobuf.decode(envelope("v1", "Secret", secret)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": "sh.helm.release.v1.demo.v1",
            "namespace": "default",
            "labels": {"owner": "helm"},
            "creationTimestamp": "1970-01-01T00:00:00Z",
        },
        "data": {"release": "AP8="},
    }


def test_delete_options():
    options = field(4, "Foreground") + field(2, field(1, "uid-1")) + field(5, "All")
    assert protobuf.decode(envelope("v1", "DeleteOptions", options)) == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Foreground",
        "preconditions": {"uid": "uid-1"},
        "dryRun": ["All"],
    }


def test_unknown_kinds_and_bad_bodies_are_refused():
    with pytest.raises(exceptions.ApiError) as unsupported:
        protobuf.decode(envelope("apps/v1", "Deployment", b""))
    assert unsupported.value.code == 415
    with pytest.raises(exceptions.ApiError) as bad:
        protobuf.decode(b"not protobuf")
    assert bad.value.code == 400
