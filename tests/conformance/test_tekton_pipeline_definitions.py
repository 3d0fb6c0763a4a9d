"""The health pipeline's Tekton objects, rendered from roles/pipeline_definitions/templates, pass the
API server's validation of tekton.dev/v1 (a server-side dry run with strict field validation, so an
unknown or misspelt field fails too): against the emulator's CRDs and, with TEST_KUBECONFIG, a real
cluster serving Tekton's released CRDs."""

import pytest

from tests.conformance.test_tekton_crds import V1, tekton  # noqa: F401 (the fixture)
from tests.pipeline_definitions import SAMPLE_VARIABLES, render

PLURALS = {"Task": "tasks", "Pipeline": "pipelines"}


@pytest.mark.parametrize("builder", ["buildah", "kaniko"])
def test_health_pipeline_objects_pass_a_strict_server_side_dry_run(tekton, builder):  # noqa: F811
    api, namespace = tekton
    objects = render({"pipeline_definitions_builder": builder})
    assert len(objects) == 7
    for obj in objects:
        path = f"{V1}/namespaces/{namespace}/{PLURALS[obj['kind']]}"
        status, body = api.post(path, obj, dryRun="All", fieldValidation="Strict")
        assert status == 201, (obj["metadata"]["name"], body)
        assert body["spec"] == obj["spec"]  # nothing pruned, nothing defaulted
    names = [t["name"] for t in objects[-1]["spec"]["tasks"]]
    assert names == ["clone"] + [
        f"build-{i['name']}" for i in SAMPLE_VARIABLES["pipeline_definitions_images"]
    ] + ["deploy", "smoke-test"]
