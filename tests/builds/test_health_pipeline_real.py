"""The health-cd pipeline itself, run for real end to end on the emulated cluster, the way users
run it: the roles pipeline_accounts and pipeline_definitions provision the cluster and apply the
Tasks and Pipeline, and the role pipeline_run (module tekton_pipelinerun) starts the first run and
follows it; later runs give tekton_pipelinerun the arguments the role computed, its handler run in
this process as the action plugin runs it in Ansible's (a run then costs its steps, not a new
ansible-playbook: about 10 s less each on this machine). The emulated Tekton controller runs them
with RealSteps: the clone of a served git repository of examples/health, three buildah builds
pushed to a registry on 127.0.0.1, and the pinned helm deploying the chart by digest as the
deployer.

One emulated cluster, registry and git repository for the module, and four runs in order: the
served revision (builds overlap; registry, deploy params and the release agree on the digests),
the same revision again (same digests, nothing rolls), a commit changing the frontend's
Dockerfile (a new digest for it only; only its Deployment rolls), and a commit whose API
Dockerfile has a failing RUN (its TaskRun fails with the RUN's output, the run fails, no deploy).
Invalid runs failing with Tekton's reasons are pinned in tests/integration/test_tekton_controller.py.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from kubernetes import client, config

from emulator.builds.executors import RealSteps
from emulator.builds.gitserver import GitServer
from emulator.builds.registry import LocalRegistry
from tests.builds.conftest import HEALTH, requires_real_builds
from tests.chart.helm import run_helm
from tests.conftest import REAL_KUBECONFIG_ENV
from tests.integration.tekton_support import Tekton, succeeded
from tests.playbook import load_module, run_tasks

# One xdist worker runs every real-build test (buildah's storage and its layer cache are shared).
pytestmark = [requires_real_builds, pytest.mark.emulator_only, pytest.mark.xdist_group("real-builds")]

PIPELINE_NAMESPACE, APP_NAMESPACE, RELEASE = "health-ci", "health", "health"
REGISTRY_PATH = "tekton-cd-test"
IMAGES = {"api": "api", "frontend": "frontend", "database-migration": "databaseMigration"}
BUILDS = tuple(f"build-{name}" for name in IMAGES)
DEPLOYMENTS = {"api": "health-api", "frontend": "health-frontend"}
RUN_TASK = "Start a run of the pipeline and follow it until it ends"
WAIT_SECONDS = 300


class Health:
    """The provisioned cluster, its registry and git repository, and a way to run the pipeline."""

    def __init__(self, kubeconfig, registry, repository, real, workdir):
        self.kubeconfig, self.registry, self.repository = kubeconfig, registry, repository
        self.real, self.workdir = real, workdir
        self.api_client = config.new_client_from_config(str(kubeconfig))
        self.tekton = Tekton(self.api_client, PIPELINE_NAMESPACE)
        self.apps = client.AppsV1Api(self.api_client)
        self.plays = 0
        self.module_args: dict = {}

    def variables(self, **more) -> dict:
        """Inventory values, as inventories/demo sets them for real steps (the served repository is
        examples/health itself, so the chart and contexts are relative to it)."""
        return {
            "kube_connection": {"kubeconfig": str(self.kubeconfig)},
            "pipeline_accounts_pipeline_namespace": PIPELINE_NAMESPACE,
            "pipeline_accounts_app_namespace": APP_NAMESPACE,
            "pipeline_definitions_git_url": self.repository.url,
            "pipeline_definitions_image_registry": f"{self.registry.host}/{REGISTRY_PATH}",
            "pipeline_definitions_registry_tls_verify": False,
            "pipeline_definitions_chart_images": {"postgres": self.real.postgres},
            "pipeline_definitions_chart_path": "chart",
            "pipeline_definitions_images": [
                {"name": name, "context": f"images/{name}", "values_key": key} for name, key in IMAGES.items()
            ],
            "pipeline_run_registry_secret": "registry-credentials",
            "pipeline_run_artifacts_dir": str(self.workdir / "artifacts"),
            "pipeline_run_wait_timeout": WAIT_SECONDS,
            **more,
        }

    def play(self, roles: list[str], **variables):
        self.plays += 1
        tasks = [
            {"name": f"role {role}", "ansible.builtin.include_role": {"name": f"tekton_cd.pipeline.{role}"}}
            for role in roles
        ]
        return run_tasks(
            tasks,
            tmp_path=self.workdir / f"play{self.plays}",
            extra_vars=self.variables(**variables),
            env={"XDG_CACHE_HOME": str(self.workdir / "cache")},
        )

    def run(self, revision: str):
        """The role pipeline_run for `revision`: (PlayResult, its tekton_pipelinerun task's result).
        The module's arguments, as the role computed them, are kept for `run_again`."""
        played = self.play(["pipeline_run"], pipeline_run_revision=revision)
        task = played.task(RUN_TASK)
        self.module_args = {
            k: v for k, v in task.result["invocation"]["module_args"].items() if v is not None
        }
        return played, task.result

    def run_again(self, revision: str) -> dict:
        """tekton_pipelinerun for `revision` with the arguments the role gave it, its handler run
        in this process as the action plugin runs it in Ansible's (no new ansible-playbook: a run
        costs its steps only); the module's result."""
        declaration = load_module("tekton_pipelinerun").MODULE
        arguments = dict(self.module_args, params={**self.module_args["params"], "git-revision": revision})
        params, _secrets = declaration.validate(arguments)
        return declaration.execute(params, check_mode=False)

    def task_runs(self, run: str) -> dict[str, dict]:
        return {
            t["metadata"]["labels"]["tekton.dev/pipelineTask"]: t
            for t in self.tekton.list("TaskRun", f"tekton.dev/pipelineRun={run}")
        }

    def workloads(self) -> dict[str, object]:
        found = {
            name: self.apps.read_namespaced_deployment(d, APP_NAMESPACE) for name, d in DEPLOYMENTS.items()
        }
        found["postgres"] = self.apps.read_namespaced_stateful_set("health-postgres", APP_NAMESPACE)
        return found

    def helm(self, *args: str) -> str:
        done = run_helm(self.workdir / "helm-home", *args, RELEASE, "--namespace", APP_NAMESPACE,
                        "--kubeconfig", str(self.kubeconfig), env={"NO_PROXY": "127.0.0.1"})
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def health(tmp_path_factory):
    if os.environ.get(REAL_KUBECONFIG_ENV):
        pytest.skip("the Tekton controller and its real steps are the emulator's")
    from emulator import EmulatedCluster

    workdir = tmp_path_factory.mktemp("health-real")
    # A registry of this module's own: the first run pushes every layer, so its builds take seconds
    # each and their overlap shows in second-resolution timestamps even when buildah's cache is warm.
    with (
        EmulatedCluster(tekton=True) as emulated,
        LocalRegistry(workdir / "registry") as registry,
        GitServer(HEALTH) as repository,
    ):
        kubeconfig = emulated.write_kubeconfig(workdir / "kubeconfig")
        real = RealSteps(emulated.tekton.executors, registry=registry)
        with ThreadPoolExecutor(1) as background:
            # Publishing postgres to the fresh registry (~0.4 GB) overlaps the accounts'
            # provisioning; the definitions need its digest (the chart's images.postgres).
            starting = background.submit(real.start)
            try:
                health = Health(kubeconfig, registry, repository, real, workdir)
                accounts = health.play(["pipeline_accounts"])
                starting.result()
                assert accounts.rc == 0, accounts.stdout + accounts.stderr
                assert real.postgres, "postgres was not published to the module's registry"
                definitions = health.play(["pipeline_definitions"])
                assert definitions.rc == 0, definitions.stdout + definitions.stderr
                # The builder's registry credentials, as a user with a plain kubeconfig makes them.
                auths = json.dumps({"auths": {registry.host: {}}}).encode()
                client.CoreV1Api(health.api_client).create_namespaced_secret(
                    PIPELINE_NAMESPACE,
                    {
                        "metadata": {"name": "registry-credentials"},
                        "type": "kubernetes.io/dockerconfigjson",
                        "data": {".dockerconfigjson": base64.b64encode(auths).decode()},
                    },
                )
                with pytest.MonkeyPatch.context() as patch:  # the in-process runs' discovery cache
                    patch.setenv("XDG_CACHE_HOME", str(workdir / "cache"))
                    yield health
            finally:
                starting.exception()  # waits for the start, whatever the outcome
                real.stop()


def seconds(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")


def results_of(task_run: dict) -> dict[str, str]:
    return {r["name"]: r["value"] for r in task_run["status"].get("results") or []}


def digests_of(task_runs: dict[str, dict]) -> dict[str, str]:
    """image name -> the IMAGE_DIGEST its build reported."""
    return {build.removeprefix("build-"): results_of(task_runs[build])["IMAGE_DIGEST"] for build in BUILDS}


def deploy_images(task_run: dict) -> dict[str, str]:
    """values key -> repository@digest, from the deploy TaskRun's `images` param."""
    value = next(p["value"] for p in task_run["spec"]["params"] if p["name"] == "images")
    return dict(item.split("=", 1) for item in value)


def pinned(reference: str) -> tuple[str, str]:
    """(repository without tag, digest) of `repository[:tag]@sha256:…`."""
    repository, digest = reference.rsplit("@", 1)
    last = repository.rsplit("/", 1)[-1]
    return (repository.rsplit(":", 1)[0] if ":" in last else repository), digest


def container_images(workloads: dict) -> dict[str, str]:
    return {name: w.spec.template.spec.containers[0].image for name, w in workloads.items()}


def commit_changed(health: Health, tmp_path, change) -> str:
    """Publishes a commit of examples/health with `change(source_dir)` applied, as a push would."""
    source = tmp_path / "health"
    shutil.copytree(HEALTH, source)
    change(source)
    return health.repository.publish(source, message="A change to the health images")


@pytest.fixture(scope="module")
def first(health):
    """The served revision, run by the role pipeline_run (later runs reuse the module arguments it
    computed)."""
    played, result = health.run(health.repository.head)
    assert played.rc == 0, played.stdout + played.stderr
    return result, health.task_runs(result["run"]["name"]), health.workloads()


def test_the_pipeline_builds_the_three_images_at_once_and_deploys_exactly_their_digests(health, first):
    result, task_runs, workloads = first
    run = health.tekton.get("PipelineRun", result["run"]["name"])
    assert succeeded(run)["status"] == "True" and succeeded(run)["reason"] == "Succeeded", run["status"]
    assert run["spec"]["params"] == [{"name": "git-revision", "value": health.repository.head}]
    assert results_of(task_runs["clone"])["commit"] == health.repository.head

    # The three builds overlapped: each started before every other one ended.
    spans = {
        b: (seconds(task_runs[b]["status"]["startTime"]), seconds(task_runs[b]["status"]["completionTime"]))
        for b in BUILDS
    }
    for build in BUILDS:
        for other in BUILDS:
            assert spans[build][0] < spans[other][1], spans
    assert seconds(task_runs["deploy"]["status"]["startTime"]) >= max(end for _start, end in spans.values())

    # The registry holds three images, tagged with the commit, with the digests the builds reported.
    digests = digests_of(task_runs)
    assert len(set(digests.values())) == 3
    for name, digest in digests.items():
        assert health.registry.digest_of(f"{REGISTRY_PATH}/health-{name}", health.repository.head) == digest

    # The deploy received exactly those (and the local postgres) ...
    received = deploy_images(task_runs["deploy"])
    assert {key: pinned(ref) for key, ref in received.items()} == {
        **{
            IMAGES[name]: (f"{health.registry.host}/{REGISTRY_PATH}/health-{name}", d)
            for name, d in digests.items()
        },
        "postgres": pinned(health.real.postgres),
    }
    # ... and the release runs them: the Deployments and StatefulSet in the cluster, the manifest Helm
    # rendered, and the migration hook Job.
    expected = {
        "api": f"{health.registry.host}/{REGISTRY_PATH}/health-api@{digests['api']}",
        "frontend": f"{health.registry.host}/{REGISTRY_PATH}/health-frontend@{digests['frontend']}",
        "postgres": health.real.postgres,
    }
    assert container_images(workloads) == expected
    rendered = [d for d in yaml.safe_load_all(health.helm("get", "manifest")) if d]
    rendered_images = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in rendered
        if d["kind"] in ("Deployment", "StatefulSet")
    }
    assert rendered_images == {
        "health-api": expected["api"],
        "health-frontend": expected["frontend"],
        "health-postgres": expected["postgres"],
    }
    hooks = [d for d in yaml.safe_load_all(health.helm("get", "hooks")) if d and d["kind"] == "Job"]
    assert [h["spec"]["template"]["spec"]["containers"][0]["image"] for h in hooks] == [
        f"{health.registry.host}/{REGISTRY_PATH}/health-database-migration@{digests['database-migration']}"
    ]
    # What the role reported and registered is the same.
    assert {i["task"]: i["digest"] for i in result["run"]["images"]} == {
        f"build-{n}": d for n, d in digests.items()
    }


def test_a_second_run_of_the_same_revision_gives_the_same_digests_and_rolls_nothing(health, first):
    _result, first_runs, first_workloads = first
    result = health.run_again(health.repository.head)
    assert not result.get("failed"), result.get("msg")
    assert result["run"]["name"] != _result["run"]["name"]
    task_runs = health.task_runs(result["run"]["name"])
    assert digests_of(task_runs) == digests_of(first_runs)
    assert deploy_images(task_runs["deploy"]) == deploy_images(first_runs["deploy"])
    now = health.workloads()
    for name, before in first_workloads.items():
        assert now[name].metadata.generation == before.metadata.generation, name
        assert now[name].spec.template == before.spec.template, name


def test_a_changed_dockerfile_gives_a_new_digest_for_that_image_only_and_only_its_deployment_rolls(
    health, first, tmp_path
):
    _result, first_runs, first_workloads = first
    before = health.workloads()

    def relabel_frontend(source):
        with (source / "images" / "frontend" / "Dockerfile").open("a") as dockerfile:
            dockerfile.write('LABEL org.opencontainers.image.description="health frontend, changed"\n')

    revision = commit_changed(health, tmp_path, relabel_frontend)
    result = health.run_again(revision)
    assert not result.get("failed"), result.get("msg")
    task_runs = health.task_runs(result["run"]["name"])
    old, new = digests_of(first_runs), digests_of(task_runs)
    assert new["frontend"] != old["frontend"]
    assert {n: d for n, d in new.items() if n != "frontend"} == {
        n: d for n, d in old.items() if n != "frontend"
    }
    assert health.registry.digest_of(f"{REGISTRY_PATH}/health-frontend", revision) == new["frontend"]

    after = health.workloads()
    frontend = after["frontend"]
    assert frontend.spec.template.spec.containers[0].image.endswith(f"health-frontend@{new['frontend']}")
    assert frontend.metadata.generation == before["frontend"].metadata.generation + 1
    for name in ("api", "postgres"):
        assert after[name].metadata.generation == before[name].metadata.generation, name
        assert after[name].spec.template == before[name].spec.template, name
    assert before["api"].spec.template == first_workloads["api"].spec.template


def test_a_failing_build_fails_its_taskrun_with_the_steps_log_and_the_deploy_never_starts(
    health, first, tmp_path
):
    def break_api(source):
        with (source / "images" / "api" / "Dockerfile").open("a") as dockerfile:
            dockerfile.write('RUN echo "health api: the self-check failed" >&2 && exit 3\n')

    revision = commit_changed(health, tmp_path, break_api)
    result = health.run_again(revision)
    assert result["failed"] and 'task "build-api"' in result["msg"] and "StepFailed" in result["msg"]
    run = health.tekton.get("PipelineRun", result["run"]["name"])
    assert succeeded(run)["status"] == "False" and succeeded(run)["reason"] == "Failed", run["status"]

    task_runs = health.task_runs(result["run"]["name"])
    assert "deploy" not in task_runs and "smoke-test" not in task_runs
    build = task_runs["build-api"]
    assert succeeded(build)["status"] == "False" and succeeded(build)["reason"] == "StepFailed"
    assert succeeded(build)["message"].startswith('"step-build-and-push" exited with code 1')
    log = health.tekton.core.read_namespaced_pod_log(
        build["status"]["podName"], PIPELINE_NAMESPACE, container="step-build-and-push"
    )
    assert "health api: the self-check failed" in log and "exit status 3" in log
    # The other builds finished; the module names the failure and shows the log's end.
    for other in ("build-frontend", "build-database-migration"):
        assert succeeded(task_runs[other])["status"] == "True", other
    assert result["failure"]["task"] == "build-api" and result["failure"]["reason"] == "StepFailed"
    assert "exit status 3" in result["failure"]["log"]
