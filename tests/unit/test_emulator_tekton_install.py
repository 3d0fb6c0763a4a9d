"""The emulated Tekton install: CRDs resolved from the project's definitions, the release's
ConfigMaps, and the older-Tekton mode that serves only tekton.dev/v1beta1."""

import pytest

from emulator import EmulatedCluster
from emulator.__main__ import main
from emulator.tekton import install


def _served(crd):
    return {v["name"]: (v["served"], v["storage"]) for v in crd["spec"]["versions"]}


def test_crds_are_plain_structural_schemas_without_references():
    crds = install.crds()
    assert [c["metadata"]["name"] for c in crds] == [
        "tasks.tekton.dev",
        "pipelines.tekton.dev",
        "pipelineruns.tekton.dev",
        "taskruns.tekton.dev",
    ]
    text = repr(crds)
    assert "$ref" not in text and "$map" not in text
    assert all(_served(c) == {"v1beta1": (True, False), "v1": (True, True)} for c in crds)
    assert crds[0]["metadata"]["labels"]["pipeline.tekton.dev/release"] == "v1.15.0"
    step = crds[0]["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "steps"
    ]["items"]
    assert step["required"] == ["name"] and step["properties"]["timeout"] == {"type": "string"}


def test_older_release_serves_only_v1beta1():
    crds = install.crds("v1beta1")
    assert all(_served(c) == {"v1beta1": (True, True), "v1": (False, False)} for c in crds)
    with pytest.raises(ValueError, match="not emulated"):
        install.crds("v2")


def test_an_unknown_definition_is_reported_with_its_place():
    with pytest.raises(install.DefinitionError, match="unknown definition 'nope' at .spec.x"):
        install.resolve({"properties": {"spec": {"properties": {"x": {"$ref": "nope"}}}}}, {})


def test_tekton_cluster_has_the_release_config_maps():
    with EmulatedCluster(tekton=True) as cluster:
        maps = {m["metadata"]["name"]: m for m in cluster.objects("", "v1", "configmaps", "tekton-pipelines")}
        assert maps["pipelines-info"]["data"] == {"version": "v1.15.0"}
        flags = maps["feature-flags"]["data"]
        assert flags["enable-api-fields"] == "beta" and flags["coschedule"] == "workspaces"
        assert flags["enable-step-actions"] == "true" and flags["results-from"] == "termination-message"
        assert len(cluster.objects("tekton.dev", "v1", "tasks", "default")) == 0  # v1 is served


def test_old_tekton_cluster_has_no_v1_and_old_flags():
    with EmulatedCluster(tekton="v1beta1") as cluster:
        maps = {m["metadata"]["name"]: m for m in cluster.objects("", "v1", "configmaps", "tekton-pipelines")}
        assert maps["pipelines-info"]["data"] == {"version": "v0.42.0"}
        assert "disable-affinity-assistant" in maps["feature-flags"]["data"]
        served = cluster.call(
            lambda state: [r.version for r in state.registry.any_version("tekton.dev", "tasks")]
        )
        assert served == ["v1beta1"]


def test_plain_cluster_has_no_tekton():
    with EmulatedCluster() as cluster:
        assert cluster.objects("", "v1", "configmaps", "tekton-pipelines") == []
        assert cluster.call(lambda state: state.registry.any_version("tekton.dev", "tasks")) == []


def test_command_line_accepts_tekton_levels(capsys):
    with pytest.raises(SystemExit):
        main(["start", "--state-dir", "unused", "--tekton=v2"])
    assert "invalid choice: 'v2'" in capsys.readouterr().err
