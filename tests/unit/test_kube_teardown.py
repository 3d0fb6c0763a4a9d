"""The offline parts of teardown's finder: label selectors evaluated as the API server does, and
Helm's release records decoded (Secret and ConfigMap storage) into the objects a release made."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from tests.playbook import use_project_module_utils

use_project_module_utils()
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_teardown import (  # noqa: E402
    decode_release,
    parse_selector,
    release_manifests,
)


@pytest.mark.parametrize("selector, labels, expected", [
    ("app.kubernetes.io/part-of=tekton-cd", {"app.kubernetes.io/part-of": "tekton-cd"}, True),
    ("app.kubernetes.io/part-of=tekton-cd", {"app.kubernetes.io/part-of": "other"}, False),
    ("app.kubernetes.io/part-of==tekton-cd,tier", {"app.kubernetes.io/part-of": "tekton-cd"}, False),
    ("a=1,tier", {"a": "1", "tier": "x"}, True),
    ("a!=1", {}, True),
    ("!a", {"a": "1"}, False),
    ("env in (dev, prod),!legacy", {"env": "prod"}, True),
    ("env notin (dev,prod)", {"env": "dev"}, False),
])
def test_label_selectors(selector, labels, expected):
    assert parse_selector(selector)(labels) is expected


def test_a_bad_selector_is_one_sentence():
    with pytest.raises(KubeError, match="'a=b=c' is not a label selector requirement"):
        parse_selector("x,a=b=c")


RELEASE = {
    "name": "health", "version": 2, "namespace": "app",
    "manifest": "---\n# Source: x\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n"
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: other\n",
    "hooks": [{"manifest": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n"}],
}


def helm_text(release):
    return base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()


def test_release_records_of_both_storage_drivers_decode():
    secret = {"kind": "Secret", "data": {"release": base64.b64encode(helm_text(RELEASE).encode()).decode()}}
    config_map = {"kind": "ConfigMap", "data": {"release": helm_text(RELEASE)}}
    assert decode_release(secret) == RELEASE == decode_release(config_map)
    assert decode_release({"kind": "Secret", "data": {"release": "not base64!"}}) is None
    assert decode_release({"kind": "Secret", "data": {}}) is None


def test_the_latest_manifest_and_every_hook_are_what_a_release_made():
    older = {**RELEASE, "version": 1,
             "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gone\n",
             "hooks": [{"manifest": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: seed\n"}]}
    made = {item[:4] for item in release_manifests([older, RELEASE, None])}
    assert made == {("v1", "Service", "api", None), ("apps/v1", "Deployment", "api", "other"),
                    ("batch/v1", "Job", "migrate", None), ("batch/v1", "Job", "seed", None)}
