"""Fixtures for the real-build tests: a local registry and the health images built once per
session. Every test here is skipped, with the reason, where this machine cannot build for real
(not root, buildah or docker-registry missing, base images not made: see capabilities.py)."""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emulator.builds.buildah import Buildah
from emulator.builds.capabilities import detect
from emulator.builds.registry import LocalRegistry
from emulator.tekton.executors import StepContext

HEALTH = Path(__file__).resolve().parents[2] / "examples" / "health"
IMAGES = ("api", "frontend", "database-migration")
CAPABILITIES = detect()

requires_real_builds = pytest.mark.skipif(
    not CAPABILITIES.builds, reason=f"real builds are not possible here: {CAPABILITIES.builds.reason}"
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Keeps `--dist loadgroup` grouping the tests marked `xdist_group` (here "real-builds").

    pytest-xdist 3.8 groups them by a `@<group>` suffix it appends to `item._nodeid` on each
    worker, which pytest 9 no longer reads (an item's id is `item._id`; pytest-xdist issue 1386,
    open): every group was silently spread over the workers, so the session's images and registry
    were made once per worker and a module's fixtures were set up again on the other worker. This
    gives the same suffix to the id pytest 9 reads; where xdist's own suffix took effect (another
    pytest), the id has it and nothing changes."""
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers under --dist loadgroup
        return
    try:
        from _pytest.nodeid import coerce_node_id
    except ImportError:  # a pytest before 9, where xdist's own suffix works
        return
    for item in items:
        groups = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if groups and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(sorted(groups))}")


@pytest.fixture(scope="session")
def buildah():
    return Buildah(CAPABILITIES.storage_dir)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    with LocalRegistry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def build_all(buildah, jobs: dict[str, tuple[Path, str]], extra_args: list[str] | None = None) -> dict:
    """Builds every (context, image) of `jobs` at the same time; name -> BuildResult."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {
            name: pool.submit(buildah.build_and_push, context, "Dockerfile", image, extra_args=extra_args)
            for name, (context, image) in jobs.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="session")
def timings():
    """What each build round took, printed at the end of the session (pytest -s or -rA shows it)."""
    rounds: dict[str, float] = {}
    yield rounds
    print("\nreal build rounds: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in rounds.items()))


@pytest.fixture(scope="session")
def first_build(buildah, registry, timings):
    """The three health images, built at the same time and pushed with tag `first`."""
    started = time.monotonic()
    built = build_all(
        buildah,
        {
            name: (HEALTH / "images" / name, f"{registry.host}/tekton-cd/health-{name}:first")
            for name in IMAGES
        },
    )
    timings["first build (3 images at once)"] = time.monotonic() - started
    return built


CHANGED_IMAGE = "frontend"


@pytest.fixture(scope="session")
def second_build(buildah, registry, first_build, timings, tmp_path_factory):
    """The same three sources again (tag `second`) and, at the same time, the frontend from a copy of
    its context whose Dockerfile gained one harmless line (tag `changed`). From scratch
    (`--no-cache`): equal digests must come from reproducible builds, not from buildah's layer cache."""
    changed = tmp_path_factory.mktemp("changed") / CHANGED_IMAGE
    shutil.copytree(HEALTH / "images" / CHANGED_IMAGE, changed)
    with (changed / "Dockerfile").open("a") as dockerfile:
        dockerfile.write('LABEL org.opencontainers.image.description="health frontend, rebuilt"\n')
    jobs = {
        name: (HEALTH / "images" / name, f"{registry.host}/tekton-cd/health-{name}:second") for name in IMAGES
    }
    jobs["changed"] = (changed, f"{registry.host}/tekton-cd/health-{CHANGED_IMAGE}:changed")
    started = time.monotonic()
    built = build_all(buildah, jobs, extra_args=["--no-cache"])
    timings["second build (3 same + 1 changed at once)"] = time.monotonic() - started
    return built


def step_context(
    tmp_path: Path,
    *,
    image: str,
    params: dict,
    workspaces: dict[str, Path],
    result_names=(),
    script: str = "",
    env: dict | None = None,
    args: list[str] | None = None,
) -> tuple[StepContext, list[str]]:
    """A StepContext as the emulated controller makes one, and the list its log goes to."""
    log: list[str] = []
    results = tmp_path / "results"
    results.mkdir(exist_ok=True)
    context = StepContext(
        namespace="builds",
        task_run="run-1-task",
        pipeline_run="run-1",
        pipeline_task="task",
        task="task",
        step="step",
        index=0,
        image=image,
        script=script,
        command=[],
        args=list(args or []),
        env=dict(env or {}),
        working_dir="",
        params=params,
        workspaces=workspaces,
        results_dir=results,
        result_names=list(result_names),
        log=log.append,
        cancelled=threading.Event(),
    )
    return context, log
