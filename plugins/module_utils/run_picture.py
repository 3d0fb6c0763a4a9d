"""A picture of one PipelineRun: its DAG with each task's outcome, and a Gantt-style timeline of the
tasks' durations, as one self-contained SVG document (no scripts, fonts or links to fetch); the
same facts as JSON-ready data; and the per-task timeline as a text table.

    data = picture_data(run)       # run: what tekton_pipelinerun returns as ``run``
    svg = render_svg(run)          # str, an SVG 1.1 document
    lines = timeline_table(run)    # ["TASK  STATUS  START  END  DURATION", ...]
    svg = render_pipeline_svg(pipeline, dag)   # a Pipeline's DAG before any run (docs/)

Pure Python and standard library only: the filter plugin ``run_picture`` exposes these to roles,
and unit tests parse the document.
"""

from __future__ import annotations

import datetime
from xml.sax.saxutils import escape, quoteattr

COLOURS = {
    "succeeded": "#1a7f37",
    "failed": "#cf222e",
    "timed-out": "#bc4c00",
    "cancelled": "#9a6700",
    "skipped": "#8c959f",
    "running": "#0969da",
    "pending": "#afb8c1",
}
NODE_W, NODE_H, COLUMN_GAP, ROW_GAP, MARGIN = 180, 44, 60, 16, 24
LABEL_W, BAR_H, BAR_GAP = 200, 20, 8
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


def _time(text):
    if not text:
        return None
    stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.UTC)


def clock(seconds):
    """0:12, 1:03, 1:02:03."""
    if seconds is None:
        return "-"
    hours, rest = divmod(max(0, int(round(seconds))), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def picture_data(run):
    """The run's facts the picture shows: tasks with offsets (seconds from the run's start) and
    DAG levels; JSON-serialisable."""
    starts = [t for t in (_time(task.get("start")) for task in run.get("tasks") or []) if t]
    origin = _time(run.get("start")) or (min(starts) if starts else None)
    end_of_run = _time(run.get("end"))
    after = {node["name"]: list(node.get("after") or []) for node in run.get("dag") or []}
    finals = {node["name"] for node in run.get("dag") or [] if node.get("final")}
    tasks = []
    for task in run.get("tasks") or []:
        start, end = _time(task.get("start")), _time(task.get("end"))
        if start and not end and task.get("status") in ("running", "pending"):
            end = end_of_run  # still running when the run was read: up to the run's end, if any
        tasks.append(
            {
                "name": task["name"],
                "status": task.get("status") or "pending",
                "reason": task.get("reason") or "",
                "final": bool(task.get("final")) or task["name"] in finals,
                "after": after.get(task["name"], []),
                "start": task.get("start"),
                "end": task.get("end"),
                "start_offset": (start - origin).total_seconds() if start and origin else None,
                "end_offset": (end - origin).total_seconds() if end and origin else None,
                "duration": task.get("duration"),
            }
        )
    known = {t["name"] for t in tasks}
    for name in after:  # tasks of the DAG that never ran nor were reported skipped
        if name not in known:
            tasks.append(
                {
                    "name": name,
                    "status": "pending",
                    "reason": "",
                    "final": name in finals,
                    "after": after[name],
                    "start": None,
                    "end": None,
                    "start_offset": None,
                    "end_offset": None,
                    "duration": None,
                }
            )
    levels = _levels(tasks)
    for task in tasks:
        task["level"] = levels[task["name"]]
    return {
        "run": {
            key: run.get(key)
            for key in (
                "name",
                "namespace",
                "pipeline",
                "status",
                "reason",
                "message",
                "start",
                "end",
                "duration",
            )
        },
        "tasks": tasks,
    }


def _levels(tasks):
    """Column of each task: 0 without predecessors, else one past its deepest one; finally tasks
    in a column after all others."""
    after = {t["name"]: [a for a in t["after"] if a != t["name"]] for t in tasks}
    levels = {}

    def level(name, seen=()):
        if name not in levels:
            parents = [p for p in after.get(name, []) if p in after and p not in seen]
            levels[name] = 1 + max((level(p, (*seen, name)) for p in parents), default=-1)
        return levels[name]

    for task in tasks:
        if not task["final"]:
            level(task["name"])
    last = max(levels.values(), default=-1) + 1
    for task in tasks:
        if task["final"]:
            levels[task["name"]] = last
    return levels


def timeline_table(run):
    """The per-task timeline as aligned text lines (offsets from the run's start)."""
    data = picture_data(run)
    rows = [("TASK", "STATUS", "START", "END", "DURATION", "REASON")]
    for task in sorted(data["tasks"], key=lambda t: (t["start_offset"] is None, t["start_offset"] or 0)):
        rows.append(
            (
                task["name"] + (" (finally)" if task["final"] else ""),
                task["status"],
                clock(task["start_offset"]),
                clock(task["end_offset"]),
                clock(task["duration"]),
                task["reason"],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    summary = data["run"]
    lines.append(
        f"run {summary['name']}: {summary['status']} ({summary['reason']}) in {clock(summary['duration'])}"
    )
    return lines


def render_svg(run):
    """The DAG (one node per task, coloured by outcome, arrows from what it waits for) above a
    Gantt chart (one bar per task on the run's time axis), with a legend."""
    data = picture_data(run)
    tasks = data["tasks"]
    dag_top = MARGIN + 40
    positions, dag_width, dag_height = _layout(tasks, dag_top, NODE_W)
    width = max(dag_width, 760)
    gantt_top = dag_top + dag_height + 70
    timed = [t for t in tasks if t["start_offset"] is not None]
    span = max([t["end_offset"] or t["start_offset"] for t in timed] + [data["run"]["duration"] or 0, 1])
    scale = (width - MARGIN * 2 - LABEL_W - 60) / span
    height = gantt_top + len(tasks) * (BAR_H + BAR_GAP) + 70

    summary = data["run"]
    title = f"PipelineRun {summary['name']} of {summary['pipeline']}: {summary['status']}"
    parts = _document_start(width, height, title, title)
    parts.append(f"<text x='{MARGIN}' y='{MARGIN + 28}' fill='#57606a'>{escape(_run_line(summary))}</text>")
    parts += _dag_parts(
        tasks,
        positions,
        NODE_W,
        lambda task: (COLOURS.get(task["status"], COLOURS["pending"]), "#ffffff"),
        lambda task: ({"data-status": task["status"]}, _node_note(task)),
    )
    parts.append(
        f"<g class='timeline'><text x='{MARGIN}' y='{gantt_top - 30}' font-weight='bold'>"
        "Timeline (from the run's start)</text>"
    )
    axis_y = gantt_top + len(tasks) * (BAR_H + BAR_GAP)
    left = MARGIN + LABEL_W
    for tick in _ticks(span):
        tx = left + tick * scale
        parts.append(
            f"<line x1='{tx:.1f}' y1='{gantt_top - 12}' x2='{tx:.1f}' y2='{axis_y:.1f}' stroke='#d0d7de'/>"
            f"<text x='{tx:.1f}' y='{axis_y + 16:.1f}' font-size='11' text-anchor='middle' "
            f"fill='#57606a'>{clock(tick)}</text>"
        )
    ordered = sorted(tasks, key=lambda t: (t["start_offset"] is None, t["start_offset"] or 0, t["level"]))
    for index, task in enumerate(ordered):
        y = gantt_top + index * (BAR_H + BAR_GAP)
        colour = COLOURS.get(task["status"], COLOURS["pending"])
        parts.append(
            f"<g class='bar' data-task={quoteattr(task['name'])} data-status={quoteattr(task['status'])}>"
            f"<text x='{MARGIN}' y='{y + 15}'>{escape(_fit(task['name'], 26))}</text>"
        )
        if task["start_offset"] is not None:
            start = left + task["start_offset"] * scale
            end = (
                left
                + (task["end_offset"] if task["end_offset"] is not None else task["start_offset"]) * scale
            )
            parts.append(
                f"<rect x='{start:.1f}' y='{y}' width='{max(end - start, 3):.1f}' height='{BAR_H}' rx='3' "
                f"fill='{colour}'/><text x='{max(end, start + 3) + 6:.1f}' y='{y + 15}' font-size='11' "
                f"fill='#57606a'>{escape(_bar_note(task))}"
                "</text>"
            )
        else:
            parts.append(
                f"<text x='{left}' y='{y + 15}' font-size='11' fill='#57606a'>"
                f"{escape(task['status'] + (': ' + task['reason'] if task['reason'] else ''))}</text>"
            )
        parts.append("</g>")
    parts.append("</g>")
    legend_x = MARGIN
    parts.append("<g class='legend'>")
    for status, colour in COLOURS.items():
        parts.append(
            f"<rect x='{legend_x}' y='{height - 30}' width='12' height='12' fill='{colour}'/>"
            f"<text x='{legend_x + 16}' y='{height - 20}' font-size='11'>{status}</text>"
        )
        legend_x += 24 + 8 * len(status)
    parts.append("</g></svg>")
    return "\n".join(parts) + "\n"


def _document_start(width, height, title, heading):
    """The opening of a picture: the SVG element, its title, the arrow head edges end in, a white
    background and the heading."""
    return [
        "<?xml version='1.0' encoding='UTF-8'?>",
        f"<svg xmlns='http://www.w3.org/2000/svg' version='1.1' width='{width:.0f}' height='{height:.0f}' "
        f"viewBox='0 0 {width:.0f} {height:.0f}' {FONT} font-size='13'>",
        f"<title>{escape(title)}</title>",
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='8' markerHeight='8' "
        "orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' fill='#57606a'/></marker></defs>",
        f"<rect width='{width:.0f}' height='{height:.0f}' fill='#ffffff'/>",
        f"<text x='{MARGIN}' y='{MARGIN + 8}' font-size='16' font-weight='bold'>{escape(heading)}</text>",
    ]


def _layout(tasks, top, node_w):
    """Top-left corner of each task's node, columns by DAG level and each column centred on the
    tallest; and the DAG's width and height."""
    columns = {}
    for task in tasks:
        columns.setdefault(task["level"], []).append(task)
    rows = max((len(c) for c in columns.values()), default=1)
    height = rows * (NODE_H + ROW_GAP) - ROW_GAP
    positions = {}
    for level, members in sorted(columns.items()):
        offset = (height - (len(members) * (NODE_H + ROW_GAP) - ROW_GAP)) / 2
        for index, task in enumerate(members):
            positions[task["name"]] = (
                MARGIN + level * (node_w + COLUMN_GAP),
                top + offset + index * (NODE_H + ROW_GAP),
            )
    return positions, MARGIN * 2 + len(columns) * (node_w + COLUMN_GAP) - COLUMN_GAP, height


def _dag_parts(tasks, positions, node_w, colours, note):
    """The DAG group: an edge from each task a task waits for (drawn first, so nodes cover their
    ends), then one node per task, finally tasks dashed. colours(task) gives (fill, text colour);
    note(task) gives (extra attributes of the node's group, its second line)."""
    parts = ["<g class='dag'>"]
    for task in tasks:
        for parent in task["after"]:
            if parent in positions:
                (px, py), (cx, cy) = positions[parent], positions[task["name"]]
                x1, y1, x2, y2 = px + node_w, py + NODE_H / 2, cx, cy + NODE_H / 2
                middle = (x1 + x2) / 2
                parts.append(
                    f"<path class='edge' data-from={quoteattr(parent)} data-to={quoteattr(task['name'])} "
                    f"d='M {x1:.1f} {y1:.1f} C {middle:.1f} {y1:.1f} "
                    f"{middle:.1f} {y2:.1f} {x2:.1f} {y2:.1f}' "
                    "fill='none' stroke='#57606a' stroke-width='1.5' marker-end='url(#arrow)'/>"
                )
    for task in tasks:
        x, y = positions[task["name"]]
        fill, ink = colours(task)
        attributes, second_line = note(task)
        extra = "".join(f" {key}={quoteattr(value)}" for key, value in attributes.items())
        dash = " stroke-dasharray='5 3'" if task["final"] else ""
        parts.append(
            f"<g class='task' data-task={quoteattr(task['name'])}{extra}>"
            f"<rect x='{x:.1f}' y='{y:.1f}' width='{node_w}' height='{NODE_H}' rx='6' fill='{fill}' "
            f"stroke='#24292f' stroke-width='1'{dash}/>"
            f"<text x='{x + 10:.1f}' y='{y + 18:.1f}' fill='{ink}' font-weight='bold'>"
            f"{escape(_fit(task['name'], (node_w - 4) // 8))}</text>"
            f"<text x='{x + 10:.1f}' y='{y + 35:.1f}' fill='{ink}' font-size='11'>"
            f"{escape(second_line)}</text></g>"
        )
    parts.append("</g>")
    return parts


def render_pipeline_svg(pipeline, dag):
    """A Pipeline's DAG before any run, for the documentation: one node per pipeline task (its name
    and the Task it runs), arrows from what it waits for, finally tasks dashed in a last column;
    then the Pipeline's params and workspaces. pipeline: the Pipeline object; dag: its tasks with
    what each waits for (tekton_runs.dag_of's nodes: name, after, final)."""
    spec = pipeline.get("spec") or {}
    task_refs = {
        task["name"]: (task.get("taskRef") or {}).get("name") or "(embedded taskSpec)"
        for task in (spec.get("tasks") or []) + (spec.get("finally") or [])
    }
    tasks = [
        {"name": node["name"], "after": list(node.get("after") or []), "final": bool(node.get("final"))}
        for node in dag
    ]
    levels = _levels(tasks)
    for task in tasks:
        task["level"] = levels[task["name"]]
    node_w = max(NODE_W, 8 * max((len(t["name"]) for t in tasks), default=0) + 28)
    title = f"Pipeline {pipeline['metadata']['name']}"
    notes = [
        "Arrow: the task waits for the one it comes from (runAfter, or it uses that task's results).",
        "Dashed: a finally task, run after all the others whatever their outcome.",
        "Params: " + ", ".join(p["name"] for p in spec.get("params") or []),
        "Workspaces: " + ", ".join(w["name"] for w in spec.get("workspaces") or []),
    ]
    description = spec.get("description") or ""
    dag_top = MARGIN + (48 if description else 28)
    positions, dag_width, dag_height = _layout(tasks, dag_top, node_w)
    # Text is about 7 px a character at 13 px: wide enough for the longest line of text.
    width = max(dag_width, 760, MARGIN * 2 + 7 * max(len(line) for line in [description, *notes]))
    notes_top = dag_top + dag_height + 40
    height = notes_top + 20 * len(notes) + MARGIN
    parts = _document_start(width, height, f"{title}: its DAG", title)
    if description:
        parts.append(f"<text x='{MARGIN}' y='{MARGIN + 28}' fill='#57606a'>{escape(description)}</text>")
    parts += _dag_parts(
        tasks,
        positions,
        node_w,
        lambda task: ("#f6f8fa" if task["final"] else "#ddf4ff", "#24292f"),
        lambda task: (
            {"data-task-ref": task_refs.get(task["name"], "")},
            f"Task {task_refs.get(task['name'], '?')}" + (" · finally" if task["final"] else ""),
        ),
    )
    parts.append("<g class='notes'>")
    for index, line in enumerate(notes):
        parts.append(
            f"<text x='{MARGIN}' y='{notes_top + 20 * index}' fill='#57606a' font-size='12'>"
            f"{escape(line)}</text>"
        )
    parts.append("</g></svg>")
    return "\n".join(parts) + "\n"


def _run_line(summary):
    text = f"{summary['reason'] or summary['status']}"
    if summary.get("start"):
        text += f" · started {summary['start']}"
    if summary.get("duration") is not None:
        text += f" · took {clock(summary['duration'])}"
    if summary.get("message"):
        text += f" · {summary['message']}"
    return text


def _node_note(task):
    note = task["status"] + (" · finally" if task["final"] else "")
    return note + (f" · {clock(task['duration'])}" if task["duration"] is not None else "")


def _bar_note(task):
    return clock(task["duration"]) if task["duration"] is not None else task["status"]


def _fit(text, limit=22):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ticks(span):
    """Axis ticks at a readable step (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1 h...)."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if span / step <= 10:
            break
    return [step * i for i in range(int(span // step) + 1)]
