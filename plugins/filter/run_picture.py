"""Filters that turn what tekton_pipelinerun returns as ``run`` into a picture of it.

{{ result.run | tekton_cd.pipeline.run_svg }}            an SVG document (DAG + timeline)
{{ result.run | tekton_cd.pipeline.run_picture_data }}   the same facts as data (for JSON)
{{ result.run | tekton_cd.pipeline.run_timeline }}       the per-task timeline, text lines
"""

from __future__ import annotations

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.run_picture import (
    picture_data,
    render_svg,
    timeline_table,
)


class FilterModule:
    def filters(self):
        return {"run_svg": render_svg, "run_picture_data": picture_data, "run_timeline": timeline_table}
