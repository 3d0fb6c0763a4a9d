"""The picture of a PipelineRun (plugins/module_utils/run_picture.py): an SVG document with one DAG
node per task coloured by its outcome, edges for what each task waits for, a timeline bar per task
placed by its times; the JSON facts and the text timeline. And the progress funnel of kube_runner."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.run_picture import (  # noqa: E402
    COLOURS,
    picture_data,
    render_svg,
    timeline_table,
)

SVG = "{http://www.w3.org/2000/svg}"


def task(name, status, start=None, end=None, duration=None, final=False, reason=""):
    return {
        "name": name,
        "task_run": f"r-{name}" if start else None,
        "final": final,
        "status": status,
        "reason": reason,
        "message": "",
        "start": start,
        "end": end,
        "duration": duration,
        "retries": 0,
        "results": {},
    }


def failed_run():
    return {
        "name": "health-cd-run-abcde",
        "namespace": "ci",
        "pipeline": "health-cd",
        "status": "failed",
        "reason": "Failed",
        "message": "Tasks Completed: 4 (Failed: 1, Cancelled 0), Skipped: 2",
        "start": "2026-12-01T10:00:00Z",
        "end": "2026-12-01T10:01:40Z",
        "duration": 100,
        "tasks": [
            task("clone", "succeeded", "2026-12-01T10:00:00Z", "2026-12-01T10:00:10Z", 10),
            task("build-api", "succeeded", "2026-12-01T10:00:10Z", "2026-12-01T10:01:00Z", 50),
            task(
                "build-web", "failed", "2026-12-01T10:00:10Z", "2026-12-01T10:01:30Z", 80, reason="StepFailed"
            ),
            task("report", "succeeded", "2026-12-01T10:01:30Z", "2026-12-01T10:01:40Z", 10, final=True),
            task("deploy", "skipped", reason="PipelineRun was stopping"),
            task("smoke-test", "skipped", reason="PipelineRun was stopping"),
        ],
        "dag": [
            {"name": "clone", "after": [], "final": False},
            {"name": "build-api", "after": ["clone"], "final": False},
            {"name": "build-web", "after": ["clone"], "final": False},
            {"name": "deploy", "after": ["build-api", "build-web"], "final": False},
            {"name": "smoke-test", "after": ["deploy"], "final": False},
            {"name": "report", "after": [], "final": True},
        ],
    }


def test_the_svg_parses_with_one_node_per_task_in_its_outcomes_colour():
    root = ET.fromstring(render_svg(failed_run()))
    assert root.tag == f"{SVG}svg"
    nodes = root.findall(f".//{SVG}g[@class='dag']/{SVG}g[@class='task']")
    assert [n.get("data-task") for n in nodes] == [
        "clone",
        "build-api",
        "build-web",
        "report",
        "deploy",
        "smoke-test",
    ]
    fills = {n.get("data-task"): n.find(f"{SVG}rect").get("fill") for n in nodes}
    assert fills == {
        "clone": COLOURS["succeeded"],
        "build-api": COLOURS["succeeded"],
        "build-web": COLOURS["failed"],
        "report": COLOURS["succeeded"],
        "deploy": COLOURS["skipped"],
        "smoke-test": COLOURS["skipped"],
    }
    assert len(set(COLOURS.values())) == len(COLOURS)  # every outcome tells itself apart
    edges = {
        (e.get("data-from"), e.get("data-to")) for e in root.iter(f"{SVG}path") if e.get("class") == "edge"
    }
    assert edges == {
        ("clone", "build-api"),
        ("clone", "build-web"),
        ("build-api", "deploy"),
        ("build-web", "deploy"),
        ("deploy", "smoke-test"),
    }
    assert (
        "health-cd-run-abcde" in root.find(f"{SVG}title").text and "failed" in root.find(f"{SVG}title").text
    )


def test_nodes_are_laid_out_by_dag_depth_with_finally_last():
    root = ET.fromstring(render_svg(failed_run()))
    x = {
        n.get("data-task"): float(n.find(f"{SVG}rect").get("x"))
        for n in root.findall(f".//{SVG}g[@class='task']")
    }
    assert x["clone"] < x["build-api"] == x["build-web"] < x["deploy"] < x["smoke-test"] < x["report"]


def test_timeline_bars_are_placed_by_time_and_overlap_where_tasks_overlapped():
    root = ET.fromstring(render_svg(failed_run()))
    bars = {b.get("data-task"): b.find(f"{SVG}rect") for b in root.findall(f".//{SVG}g[@class='bar']")}
    assert bars["deploy"] is None and bars["smoke-test"] is None  # skipped: no bar
    span = {
        name: (float(bars[name].get("x")), float(bars[name].get("x")) + float(bars[name].get("width")))
        for name in ("clone", "build-api", "build-web", "report")
    }
    assert span["clone"][1] == pytest.approx(span["build-api"][0]) == pytest.approx(span["build-web"][0])
    assert span["build-api"][1] < span["build-web"][1]  # 50 s against 80 s, from the same start
    assert (span["build-web"][1] - span["build-web"][0]) == pytest.approx(
        (span["build-api"][1] - span["build-api"][0]) * 80 / 50
    )
    assert bars["build-web"].get("fill") == COLOURS["failed"]


def test_names_are_escaped_and_the_document_is_self_contained():
    run = failed_run()
    run["name"] = "run <&> 'quoted'"
    text = render_svg(run)
    ET.fromstring(text)
    assert "href" not in text and "<script" not in text and "@import" not in text


def test_json_facts_and_the_text_timeline():
    data = picture_data(failed_run())
    json.dumps(data)
    tasks = {t["name"]: t for t in data["tasks"]}
    assert tasks["build-web"]["start_offset"] == 10 and tasks["build-web"]["end_offset"] == 90
    assert tasks["report"]["level"] == 4 and tasks["deploy"]["level"] == 2
    lines = timeline_table(failed_run())
    assert lines[0].split() == ["TASK", "STATUS", "START", "END", "DURATION", "REASON"]
    assert lines[3].split()[:5] == ["build-web", "failed", "0:10", "1:30", "1:20"]
    assert "report (finally)" in lines[4]
    assert lines[-1] == "run health-cd-run-abcde: failed (Failed) in 1:40"


def test_a_handler_reporting_progress_gets_the_callers_sink_or_a_no_op():
    seen = []

    def handler(params, check_mode, progress):
        progress("build-api running 0:12")
        return {"changed": False}

    declaration = ModuleDeclaration({}, handler, kube_connection=False, reports_progress=True)
    assert declaration.execute({}, check_mode=False, progress=seen.append) == {"changed": False}
    assert seen == ["build-api running 0:12"]
    assert declaration.execute({}, check_mode=False) == {"changed": False}  # module process: dropped
