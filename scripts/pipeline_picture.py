#!/usr/bin/env python3
"""Writes docs/pipeline-dag.svg, the picture of the health-cd Pipeline's DAG, from its definition:
the pipeline_definitions role's templates rendered with the roles' defaults as the role's task
applies them (benchmarks/manifests.py's definition_objects), its tasks' dependencies as the
collection reads them from a run (tekton_runs.dag_of: runAfter and result references), drawn by the
collection's own picture code (run_picture.render_pipeline_svg). `make docs` runs it;
tests/unit/test_pipeline_picture.py fails when the checked-in picture is not what this script draws
now.

    python scripts/pipeline_picture.py            # rewrite docs/pipeline-dag.svg
    python scripts/pipeline_picture.py --check    # exit 1 if docs/pipeline-dag.svg is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from generated_file import write_or_check

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "pipeline-dag.svg"


def render() -> str:
    # benchmarks/manifests.py renders the role's definitions as its task applies them (defaults of
    # every earlier role resolved, as a play sees them); the picture draws that Pipeline.
    project = str(Path(__file__).resolve().parent.parent)  # not ROOT, which tests point elsewhere
    sys.path.insert(0, project)
    try:
        from benchmarks import manifests
    finally:
        sys.path.remove(project)
    accounts = manifests.role_defaults()
    names = manifests.Names(accounts["pipeline_accounts_pipeline_namespace"],
                            accounts["pipeline_accounts_app_namespace"])
    try:
        definitions = manifests.definition_objects(names)
        tekton_runs = manifests.module_utils("tekton_runs")
        run_picture = manifests.module_utils("run_picture")
    except ImportError as error:
        raise SystemExit(f"cannot import the collection from {manifests.COLLECTIONS_DIR} ({error}); run "
                         "`make setup`, which links this checkout there.") from error
    (definition,) = [body for body in definitions if body["kind"] == "Pipeline"]
    # dag_of reads a run's copy of the Pipeline's spec (status.pipelineSpec): give it the definition's.
    return run_picture.render_pipeline_svg(
        definition, tekton_runs.dag_of({"status": {"pipelineSpec": definition["spec"]}}))


def main(argv: list[str]) -> int:
    return write_or_check(OUTPUT, render(), ROOT, "pipeline_picture.py", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
