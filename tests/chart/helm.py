"""Runs the project's pinned helm (.venv/bin/helm, installed by `make setup`) on the health chart.

helm gets its own config, cache and data directories, so tests neither read nor write the user's
helm settings and repositories.
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / ".venv" / "bin" / "helm"
CHART = ROOT / "examples" / "health" / "chart"
VALUES = Path(__file__).resolve().parent / "values"
# The Kubernetes minor the project targets; rendering and validation both use it.
KUBE_VERSION = "1.28.3"
NAMESPACE = "health-ns"

requires_helm = pytest.mark.skipif(
    not os.access(HELM, os.X_OK), reason=f"{HELM.relative_to(ROOT)} is missing: run `make setup`"
)


def helm_env(home):
    env = {key: value for key, value in os.environ.items() if not key.startswith("HELM_")}
    env.update(
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_DATA_HOME=str(home / "data"),
    )
    return env


def run_helm(home, *args, env=None, timeout=120):
    """helm's CompletedProcess (never raises on a non-zero exit: callers assert on it)."""
    return subprocess.run(
        [str(HELM), *args],
        env={**helm_env(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def value_args(values_files=(), sets=None):
    args = []
    for name in values_files:
        args += ["--values", str(VALUES / name)]
    for key, value in (sets or {}).items():
        args += ["--set-string" if isinstance(value, str) else "--set", f"{key}={value}"]
    return args


def template(home, values_files=("digests.yaml",), sets=None, release="health"):
    """(CompletedProcess, documents) of `helm template` for the given values; documents is empty
    when rendering failed."""
    result = run_helm(
        home,
        "template",
        release,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        *value_args(values_files, sets),
    )
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc] if result.returncode == 0 else []
    return result, documents


def by_kind(documents, kind):
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def pod_specs(documents):
    """(object name, pod spec) of every workload that runs pods."""
    for doc in documents:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]
