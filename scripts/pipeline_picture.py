#!/usr/bin/env python3
"""Writes docs/pipeline-dag.svg, the picture of the health-cd Pipeline's DAG, from its definition:
the pipeline_definitions role's template (templates/health-cd.yaml.j2) rendered with the role's
defaults, its tasks' dependencies as the collection reads them from a run (tekton_runs.dag_of:
runAfter and result references), drawn by the collection's own picture code
(run_picture.render_pipeline_svg). `make docs` runs it; tests/unit/test_pipeline_picture.py fails
when the checked-in picture is not what this script draws now.

    python scripts/pipeline_picture.py            # rewrite docs/pipeline-dag.svg
    python scripts/pipeline_picture.py --check    # exit 1 if docs/pipeline-dag.svg is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jinja2
import yaml
from generated_file import write_or_check

ROOT = Path(__file__).resolve().parent.parent
ROLE = ROOT / "roles" / "pipeline_definitions"
PIPELINE_TEMPLATE = "health-cd.yaml.j2"
OUTPUT = ROOT / "docs" / "pipeline-dag.svg"
# scripts/setup.d/collection.sh links this checkout there as tekton_cd.pipeline.
COLLECTIONS = ROOT / ".cache" / "collections"
# Defaults refer to one another (app_url names the release and namespace): resolved in rounds.
RESOLVE_ROUNDS = 5


def role_defaults() -> dict:
    """The role's defaults with their templates resolved as Ansible would for a play that sets
    nothing else (a variable of another role that is not set takes the default() it names)."""
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    env = jinja2.Environment()
    for _ in range(RESOLVE_ROUNDS):
        pending = {k: v for k, v in values.items() if isinstance(v, str) and "{{" in v}
        if not pending:
            return values
        for name, text in pending.items():
            values[name] = env.from_string(text).render(**values).strip()
    raise SystemExit(f"{ROLE / 'defaults' / 'main.yml'}: the defaults still hold templates after "
                     f"{RESOLVE_ROUNDS} rounds; do they refer to each other in a loop?")


def pipeline() -> dict:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")),
                             undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps
    return yaml.safe_load(env.get_template(PIPELINE_TEMPLATE).render(**role_defaults()))


def render() -> str:
    sys.path.insert(0, str(COLLECTIONS))
    try:
        from ansible_collections.tekton_cd.pipeline.plugins.module_utils import run_picture, tekton_runs
    except ImportError as error:
        raise SystemExit(f"cannot import the collection from {COLLECTIONS} ({error}); run `make setup`, "
                         "which links this checkout there.") from error
    finally:
        sys.path.remove(str(COLLECTIONS))
    definition = pipeline()
    # dag_of reads a run's copy of the Pipeline's spec (status.pipelineSpec): give it the definition's.
    return run_picture.render_pipeline_svg(
        definition, tekton_runs.dag_of({"status": {"pipelineSpec": definition["spec"]}}))


def main(argv: list[str]) -> int:
    return write_or_check(OUTPUT, render(), ROOT, "pipeline_picture.py", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
