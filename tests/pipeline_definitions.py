"""Render the pipeline_definitions role's Tekton templates outside Ansible, for tests: the same
Jinja templates with the filters they use (to_json), and sample variables for the health app."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import yaml

TEMPLATES = Path(__file__).resolve().parents[1] / "roles" / "pipeline_definitions" / "templates"
OBJECT_TEMPLATES = (
    "git-clone",
    "build-image",
    "build-image-kaniko",
    "helm-deploy",
    "smoke-test",
    "report",
    "health-cd",
)

SAMPLE_VARIABLES = {
    "pipeline_definitions_labels": {"app.kubernetes.io/part-of": "tekton-cd"},
    "pipeline_definitions_pipeline_name": "health-cd",
    "pipeline_definitions_builder": "buildah",
    "pipeline_definitions_git_url": "https://git.example.invalid/health.git",
    "pipeline_definitions_git_revision": "main",
    "pipeline_definitions_image_registry": "registry.example.invalid/health",
    "pipeline_definitions_image_prefix": "health-",
    "pipeline_definitions_registry_tls_verify": True,
    "pipeline_definitions_images": [
        {"name": "api", "context": "examples/health/images/api", "values_key": "api"},
        {"name": "frontend", "context": "examples/health/images/frontend", "values_key": "frontend"},
        {
            "name": "database-migration",
            "context": "examples/health/images/database-migration",
            "values_key": "databaseMigration",
        },
    ],
    "pipeline_definitions_chart_path": "examples/health/chart",
    "pipeline_definitions_release": "health",
    "pipeline_definitions_app_namespace": "health",
    "pipeline_definitions_ingress_subdomain": "",
    "pipeline_definitions_ingress_host": "",
    "pipeline_definitions_app_url": "http://health.health.svc/",
    "pipeline_definitions_smoke_test_timeout": 300,
    "pipeline_definitions_image_mirror": "",
    "pipeline_definitions_step_images": {
        "git": {"repository": "docker.io/alpine/git", "tag": "v2.47.2", "digest": ""},
        "buildah": {
            "repository": "registry.access.redhat.com/ubi9/buildah",
            "tag": "9.0.0-19",
            "digest": "sha256:c8b1d312815452964885680fc5bc8d99b3bfe9b6961228c71a09c72ca8e915eb",
        },
        "kaniko": {"repository": "gcr.io/kaniko-project/executor", "tag": "v1.23.2-debug", "digest": ""},
        "helm": {"repository": "docker.io/alpine/helm", "tag": "3.16.4", "digest": ""},
        "curl": {"repository": "docker.io/curlimages/curl", "tag": "8.11.1", "digest": ""},
        "shell": {"repository": "docker.io/library/alpine", "tag": "3.21", "digest": ""},
    },
}


def render(variables: dict | None = None) -> list[dict]:
    """The role's Tekton objects (Tasks, then the Pipeline) rendered with `variables`."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["to_json"] = json.dumps
    context = dict(SAMPLE_VARIABLES, **(variables or {}))
    return [
        yaml.safe_load(env.get_template(f"{name}.yaml.j2").render(**context)) for name in OBJECT_TEMPLATES
    ]
