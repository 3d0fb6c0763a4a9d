"""The real executors plugged into the emulated Tekton controller (RealSteps): a PipelineRun
clones the served examples/health, builds the API image for real and hands its digest to a helm
step, which checks it in the registry and runs the pinned helm with the kubeconfig from its
Secret workspace. A second run whose deploy names a digest the registry lacks fails that step."""

from __future__ import annotations

import base64
import os

import pytest
from kubernetes import client

from emulator.builds.executors import RealSteps
from emulator.builds.gitserver import GitServer
from tests.builds.conftest import HEALTH, requires_real_builds
from tests.conftest import REAL_KUBECONFIG_ENV, ClusterUnderTest
from tests.integration.tekton_support import Tekton, ensure_tekton_crds, succeeded

# One xdist worker runs every real-build test, so the session's images are built once.
pytestmark = [requires_real_builds, pytest.mark.emulator_only, pytest.mark.xdist_group("real-builds")]
RUN_TIMEOUT = 600


@pytest.fixture(scope="module")
def tekton(tmp_path_factory, registry):
    if os.environ.get(REAL_KUBECONFIG_ENV):
        pytest.skip("the Tekton controller is the emulator's")
    from emulator import EmulatedCluster

    with EmulatedCluster() as emulated, RealSteps(emulated.tekton.executors, registry=registry) as real:
        path = emulated.write_kubeconfig(tmp_path_factory.mktemp("tekton-real") / "kubeconfig")
        under_test = ClusterUnderTest(path, emulated.kubeconfig_dict(), emulated)
        ensure_tekton_crds(under_test.api_client())
        namespace = under_test.unique_name("real")
        core = client.CoreV1Api(under_test.api_client())
        core.create_namespace({"metadata": {"name": namespace}})
        core.create_namespaced_secret(
            namespace,
            {
                "metadata": {"name": "deployer-kubeconfig"},
                "data": {"kubeconfig": base64.b64encode(path.read_bytes()).decode()},
            },
        )
        yield Tekton(under_test.api_client(), namespace), real


PIPELINE = {
    "params": [{"name": "url"}, {"name": "image"}],
    "workspaces": [{"name": "source"}, {"name": "kubeconfig"}],
    "tasks": [
        {
            "name": "clone",
            "workspaces": [{"name": "output", "workspace": "source"}],
            "params": [{"name": "url", "value": "$(params.url)"}],
            "taskSpec": {
                "params": [{"name": "url"}, {"name": "revision", "default": "main"}],
                "workspaces": [{"name": "output"}],
                "results": [{"name": "commit"}],
                "steps": [
                    {
                        "name": "clone",
                        "image": "gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd/git-init:v0.40.2",
                        "script": "git clone $(params.url) $(workspaces.output.path)",
                    }
                ],
            },
        },
        {
            "name": "build",
            "runAfter": ["clone"],
            "workspaces": [{"name": "source", "workspace": "source"}],
            "params": [{"name": "IMAGE", "value": "$(params.image)"}],
            "taskSpec": {
                "params": [
                    {"name": "IMAGE"},
                    {"name": "CONTEXT", "default": "images/api"},
                    {"name": "DOCKERFILE", "default": "images/api/Dockerfile"},
                ],
                "workspaces": [{"name": "source"}],
                "results": [{"name": "IMAGE_DIGEST"}, {"name": "IMAGE_URL"}],
                "steps": [
                    {
                        "name": "build-and-push",
                        "image": "quay.io/buildah/stable:v1.37",
                        "script": "buildah bud -f $(params.DOCKERFILE) -t $(params.IMAGE) $(params.CONTEXT)",
                    }
                ],
            },
        },
        {
            "name": "deploy",
            "workspaces": [{"name": "kubeconfig", "workspace": "kubeconfig"}],
            "params": [
                {"name": "image", "value": "$(tasks.build.results.IMAGE_URL)"},
                {"name": "digest", "value": "$(tasks.build.results.IMAGE_DIGEST)"},
            ],
            "taskSpec": {
                "params": [{"name": "image"}, {"name": "digest"}],
                "workspaces": [{"name": "kubeconfig"}],
                "steps": [
                    {
                        "name": "helm",
                        "image": "docker.io/alpine/helm:3.16.4",
                        "script": "echo deploying $(params.image)@$(params.digest)\n"
                        "helm list --namespace $(context.taskRun.namespace) --output json\n",
                    }
                ],
            },
        },
    ],
}


def run(tekton: Tekton, name: str, pipeline: dict, **params) -> dict:
    tekton.create("Pipeline", name, pipeline)
    tekton.create(
        "PipelineRun",
        name,
        {
            "pipelineRef": {"name": name},
            "params": [{"name": key, "value": value} for key, value in params.items()],
            "workspaces": [
                {
                    "name": "source",
                    "volumeClaimTemplate": {
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        }
                    },
                },
                {"name": "kubeconfig", "secret": {"secretName": "deployer-kubeconfig"}},
            ],
        },
    )
    return tekton.wait_done("PipelineRun", name, timeout=RUN_TIMEOUT)


def step_log(tekton: Tekton, task_run: str, step: str) -> str:
    return tekton.core.read_namespaced_pod_log(f"{task_run}-pod", tekton.namespace, container=f"step-{step}")


def test_a_pipeline_run_clones_builds_for_real_and_deploys_with_the_real_digest(
    tekton, first_build, registry
):
    tekton, _real = tekton
    with GitServer(HEALTH) as repository:
        head = repository.head
        done = run(
            tekton, "real", PIPELINE, url=repository.url, image="us.icr.io/tekton-cd/health-api:tekton"
        )
    assert succeeded(done)["status"] == "True", done["status"]
    clone = {r["name"]: r["value"] for r in tekton.get("TaskRun", "real-clone")["status"]["results"]}
    assert clone == {"commit": head}
    build = {r["name"]: r["value"] for r in tekton.get("TaskRun", "real-build")["status"]["results"]}
    # The clone builds to the same digest as the working tree did, and the registry holds it.
    assert build["IMAGE_DIGEST"] == first_build["api"].digest
    assert registry.digest_of("tekton-cd/health-api", "tekton") == build["IMAGE_DIGEST"]
    deploy_log = step_log(tekton, "real-deploy", "helm")
    assert f"deploying us.icr.io/tekton-cd/health-api:tekton@{build['IMAGE_DIGEST']}" in deploy_log
    assert "[]" in deploy_log  # helm list answered from the emulated cluster: no releases there yet


def test_a_deploy_naming_a_digest_the_registry_lacks_fails_before_helm_runs(tekton, first_build):
    tekton, _real = tekton
    made_up = "us.icr.io/tekton-cd/health-api@sha256:" + "1" * 64
    deploy_only = {
        "params": [{"name": "url"}, {"name": "image"}],
        "workspaces": [{"name": "source"}, {"name": "kubeconfig"}],
        "tasks": [
            dict(
                PIPELINE["tasks"][2],
                params=[{"name": "image", "value": "$(params.image)"}, {"name": "digest", "value": "unused"}],
            )
        ],
    }
    deploy_only["tasks"][0]["taskSpec"] = dict(
        PIPELINE["tasks"][2]["taskSpec"],
        steps=[
            {
                "name": "helm",
                "image": "docker.io/alpine/helm:3.16.4",
                "script": "echo deploying $(params.image)\nhelm list\n",
            }
        ],
    )
    done = run(tekton, "missing", deploy_only, url="unused", image=made_up)
    assert succeeded(done)["status"] == "False"
    deploy_log = step_log(tekton, "missing-deploy", "helm")
    assert f"not deploying: these images are not in the registry: {made_up}" in deploy_log
    assert not deploy_log.startswith("deploying") and "\ndeploying" not in deploy_log  # the script never ran
