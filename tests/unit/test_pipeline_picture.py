"""docs/pipeline-dag.svg, the picture of the health-cd Pipeline's DAG in docs/architecture.md, is
what scripts/pipeline_picture.py draws now from the pipeline_definitions role's template and
defaults (so it is current), and it shows what the definition says: one node per pipeline task
with the Task it runs, the edges of runAfter and result references, the finally task apart."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest

from tests.playbook import ROOT

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def pipeline_picture():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import pipeline_picture
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return pipeline_picture


def test_docs_pipeline_dag_svg_is_current(pipeline_picture):
    assert (ROOT / "docs" / "pipeline-dag.svg").read_text() == pipeline_picture.render(), (
        "docs/pipeline-dag.svg is out of date: run `make docs` (python scripts/pipeline_picture.py)")


def test_the_picture_shows_the_definitions_tasks_and_what_each_waits_for(pipeline_picture):
    root = ET.fromstring(pipeline_picture.render())
    nodes = {g.get("data-task"): g for g in root.iter(f"{SVG}g") if g.get("class") == "task"}
    builds = ["build-api", "build-frontend", "build-database-migration"]
    assert sorted(nodes) == sorted(["clone", *builds, "deploy", "smoke-test", "report"])
    assert {name: g.get("data-task-ref") for name, g in nodes.items()} == {
        "clone": "git-clone", **dict.fromkeys(builds, "build-image"), "deploy": "helm-deploy",
        "smoke-test": "smoke-test", "report": "report"}
    edges = {(path.get("data-from"), path.get("data-to"))
             for path in root.iter(f"{SVG}path") if path.get("class") == "edge"}
    # clone → builds (they tag with its commit result), builds → deploy (their digests), deploy →
    # smoke-test (runAfter); the finally task has no edges: it runs after everything.
    assert edges == ({("clone", b) for b in builds} | {(b, "deploy") for b in builds}
                     | {("deploy", "smoke-test")})
    report_box = nodes["report"].find(f"{SVG}rect")
    assert report_box.get("stroke-dasharray"), "the finally task is not drawn dashed"
    columns = {name: float(g.find(f"{SVG}rect").get("x")) for name, g in nodes.items()}
    assert columns["clone"] < columns["build-api"] == columns["build-frontend"] < columns["deploy"]
    assert columns["deploy"] < columns["smoke-test"] < columns["report"]
    # Names fit their boxes: none is cut short with an ellipsis.
    assert all("…" not in "".join(g.itertext()) for g in nodes.values())


def test_the_check_mode_of_the_script_tells_a_stale_file(pipeline_picture, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipeline_picture, "ROOT", tmp_path)
    monkeypatch.setattr(pipeline_picture, "OUTPUT", tmp_path / "pipeline-dag.svg")
    assert pipeline_picture.main(["--check"]) == 1
    assert "pipeline-dag.svg is out of date: run `make docs`" in capsys.readouterr().err
    assert pipeline_picture.main([]) == 0
    assert pipeline_picture.main(["--check"]) == 0
    (tmp_path / "pipeline-dag.svg").write_text("<svg/>")
    assert pipeline_picture.main(["--check"]) == 1
