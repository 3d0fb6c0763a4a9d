"""The real step executors the emulated Tekton controller uses (emulator/builds/executors.py),
driven with the StepContext the controller builds: git clone of the served examples/health, a
buildah build of the cloned source pushed to the local registry, and the deploy with the pinned
helm, which refuses digests the registry does not hold and otherwise really deploys the chart
with the built digests on the cluster under test."""

from __future__ import annotations

import pytest
from kubernetes import client

from emulator.builds.base_images import publish_postgres
from emulator.builds.executors import (
    BuildahExecutor,
    GitCloneExecutor,
    HelmExecutor,
    RealSteps,
    images_named,
    local_path,
)
from emulator.builds.gitserver import GitServer
from emulator.builds.registry import manifest_exists
from emulator.tekton.executors import ExecutorTable, SimulatedExecutor
from tests.builds.conftest import CAPABILITIES, HEALTH, requires_real_builds, step_context

# One xdist worker runs every real-build test, so the session's images are built once.
pytestmark = pytest.mark.xdist_group("real-builds")

requires_git = pytest.mark.skipif(not CAPABILITIES.git, reason=CAPABILITIES.git.reason)
requires_helm = pytest.mark.skipif(not CAPABILITIES.helm, reason=CAPABILITIES.helm.reason)


@pytest.fixture(scope="module")
def health_repository():
    with GitServer(HEALTH) as served:
        yield served


@pytest.fixture
def cloned(health_repository, tmp_path):
    """The served repository cloned by the git-clone executor into workspace `output`."""
    output = tmp_path / "source"
    step, log = step_context(
        tmp_path,
        image="gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd/git-init:v0.40.2",
        params={"url": health_repository.url, "revision": "main"},
        workspaces={"output": output},
        result_names=["commit", "url"],
    )
    outcome = GitCloneExecutor().run(step)
    assert outcome.exit_code == 0, "".join(log)
    return output, step


@requires_git
def test_git_clone_checks_out_the_served_commit_and_reports_it(cloned, health_repository):
    output, step = cloned
    assert (step.results_dir / "commit").read_text() == health_repository.head
    assert (step.results_dir / "url").read_text() == health_repository.url
    assert (output / "images" / "api" / "Dockerfile").read_bytes() == (
        HEALTH / "images" / "api" / "Dockerfile"
    ).read_bytes()


@requires_git
def test_the_served_commit_depends_only_on_the_files(health_repository, tmp_path):
    with GitServer(HEALTH) as again:
        assert again.head == health_repository.head
    changed = tmp_path / "health"
    changed.mkdir()
    (changed / "README").write_text("changed\n")
    with GitServer(changed) as other:
        assert other.head != health_repository.head


@requires_git
def test_git_clone_of_an_unknown_revision_fails_with_gits_message(health_repository, tmp_path):
    step, log = step_context(
        tmp_path,
        image="alpine/git:2.45.2",
        params={"url": health_repository.url, "revision": "no-such-branch"},
        workspaces={"output": tmp_path / "source"},
        result_names=["commit"],
    )
    assert GitCloneExecutor().run(step).exit_code == 1
    assert "no-such-branch" in "".join(log)
    assert not (step.results_dir / "commit").exists()


def test_image_references_are_mapped_onto_the_local_registry():
    assert local_path("us.icr.io/ns/health-api:1", "127.0.0.1:5000") == "127.0.0.1:5000/ns/health-api:1"
    assert local_path("127.0.0.1:41000/ns/api", "127.0.0.1:5000") == "127.0.0.1:5000/ns/api"
    assert local_path("library/postgres", "127.0.0.1:5000") == "127.0.0.1:5000/library/postgres"
    digest = "sha256:" + "ab" * 32
    script = "helm upgrade x ./chart --set images.api.repository=us.icr.io/ns/api"
    script += f" --set images.api.digest={digest}"
    assert images_named(script + f" --set-string other=r.example/x@{digest}") == [
        f"r.example/x@{digest}",
        f"us.icr.io/ns/api@{digest}",
    ]


@requires_real_builds
def test_the_build_step_builds_the_cloned_source_reproducibly(
    cloned, buildah, registry, first_build, tmp_path
):
    source, _ = cloned
    step, log = step_context(
        tmp_path,
        image="quay.io/buildah/stable:v1.37",
        workspaces={"source": source},
        params={
            "IMAGE": "us.icr.io/tekton-cd/health-api:run-1",
            "CONTEXT": "images/api",
            "DOCKERFILE": "images/api/Dockerfile",
            "BUILD_ARGS": [],
        },
        result_names=["IMAGE_DIGEST", "IMAGE_URL"],
    )
    outcome = BuildahExecutor(buildah, registry).run(step)
    assert outcome.exit_code == 0, "".join(log)
    digest = (step.results_dir / "IMAGE_DIGEST").read_text()
    # The clone's files have other times than the working tree's: the digest is the same anyway.
    assert digest == first_build["api"].digest
    assert (step.results_dir / "IMAGE_URL").read_text() == "us.icr.io/tekton-cd/health-api:run-1"
    assert registry.digest_of("tekton-cd/health-api", "run-1") == digest
    assert f"as {registry.host}/tekton-cd/health-api:run-1" in "".join(log)


@requires_real_builds
def test_a_failing_build_step_fails_with_the_runs_output_in_its_log(buildah, registry, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "Dockerfile").write_text(
        "FROM docker.io/library/debian:bookworm-slim\nRUN echo no such package >&2; exit 100\n"
    )
    step, log = step_context(
        tmp_path,
        image="quay.io/buildah/stable",
        workspaces={"source": source},
        params={"IMAGE": f"{registry.host}/tekton-cd/failing:v1"},
        result_names=["IMAGE_DIGEST"],
    )
    assert BuildahExecutor(buildah, registry).run(step).exit_code == 1
    text = "".join(log)
    assert "no such package" in text and "exit status 100" in text
    assert not (step.results_dir / "IMAGE_DIGEST").exists()


@requires_real_builds
@requires_helm
def test_the_deploy_step_refuses_a_digest_the_registry_does_not_hold(registry, first_build, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.mkdir()
    (kubeconfig / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    made_up = "sha256:" + "0" * 64
    step, log = step_context(
        tmp_path,
        image="docker.io/alpine/helm:3.16.4",
        workspaces={"kubeconfig": kubeconfig},
        params={
            "api": first_build["api"].reference,
            "frontend": f"{registry.host}/tekton-cd/health-frontend@{made_up}",
        },
        script="echo the deploy ran\n",
    )
    assert HelmExecutor(registry).run(step).exit_code == 1
    text = "".join(log)
    assert f"{registry.host}/tekton-cd/health-frontend@{made_up}" in text
    assert first_build["api"].reference not in text.split("registry:", 1)[1]
    assert "the deploy ran" not in text


@requires_helm
def test_the_deploy_steps_script_gets_the_steps_args_as_positional_parameters(tmp_path):
    # The pipeline's helm-deploy step reads its images from "$@" (args: ["$(params.images[*])"]).
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.mkdir()
    (kubeconfig / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    step, log = step_context(
        tmp_path,
        image="docker.io/alpine/helm:3.16.4",
        workspaces={"kubeconfig": kubeconfig},
        params={},
        script='#!/bin/sh\nfor entry in "$@"; do echo "got $entry"; done\n',
        args=["api=one", "frontend=two words"],
    )
    assert HelmExecutor(None).run(step).exit_code == 0, "".join(log)
    assert "got api=one\ngot frontend=two words\n" in "".join(log)


@requires_real_builds
@requires_helm
@pytest.mark.emulator_only
def test_the_deploy_step_installs_the_chart_with_the_built_digests(
    cluster, namespace, buildah, registry, first_build, cloned, tmp_path
):
    source, _ = cloned
    postgres = publish_postgres(buildah, registry)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "kubeconfig").write_text(cluster.kubeconfig_path.read_text())
    sets = {"postgres": postgres} | {
        key: first_build[name].reference
        for key, name in (
            ("api", "api"),
            ("frontend", "frontend"),
            ("databaseMigration", "database-migration"),
        )
    }
    values = " ".join(
        f"--set images.{key}.repository={ref.split('@')[0]} --set images.{key}.digest={ref.split('@')[1]}"
        for key, ref in sets.items()
    )
    step, log = step_context(
        tmp_path,
        image="docker.io/alpine/helm:3.16.4",
        workspaces={"source": source, "kubeconfig": credentials},
        params={},
        script=f"helm upgrade --install health ./chart --namespace {namespace} --wait --timeout 60s {values}"
        "\n",
    )
    outcome = HelmExecutor(registry).run(step)
    assert outcome.exit_code == 0, "".join(log)
    apps = client.AppsV1Api(cluster.api_client())
    deployed = {
        d.metadata.name: d.spec.template.spec.containers[0].image
        for d in apps.list_namespaced_deployment(namespace).items
    }
    assert deployed == {"health-api": sets["api"], "health-frontend": sets["frontend"]}
    statefulset = apps.read_namespaced_stateful_set("health-postgres", namespace)
    assert statefulset.spec.template.spec.containers[0].image == sets["postgres"]


def test_real_steps_go_in_front_of_the_simulated_executor_and_leave_on_stop(request):
    table = ExecutorTable(SimulatedExecutor())
    said: list[str] = []
    # The session's registry where builds are real (it holds the postgres image after the deploy test).
    registry = request.getfixturevalue("registry") if CAPABILITIES.builds else None
    with RealSteps(table, registry=registry, say=said.append) as real:
        expected = {
            "alpine/git:2.45.2": "git-clone" if CAPABILITIES.git else "simulated",
            "quay.io/buildah/stable:v1.37": "buildah" if CAPABILITIES.builds else "simulated",
            "docker.io/alpine/helm:3.16.4": "helm" if CAPABILITIES.helm else "simulated",
            "docker.io/library/busybox:1.36": "simulated",
        }
        assert {image: table.choose(image, "").name for image in expected} == expected
        assert real.simulated == said
        if CAPABILITIES.builds:
            assert said == []
            assert manifest_exists(real.postgres)
            assert real.registry is registry
        else:
            assert f"emulator: image builds are simulated: {CAPABILITIES.builds.reason}" in said
    assert table.describe() == [(".*", "", "simulated")]
