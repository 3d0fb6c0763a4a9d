"""Real image builds: the health Dockerfiles built by buildah on the locally made Debian base,
pushed to a real registry on 127.0.0.1, with the digests that registry holds. Built once per
session (conftest.py): three images at the same time, then the same sources again together with
a changed frontend. Skipped, with the reason, where real builds are impossible (capabilities.py).
"""

from __future__ import annotations

import re
import time

import pytest

from emulator.builds.buildah import BuildError
from emulator.builds.capabilities import detect
from tests.builds.conftest import CAPABILITIES, CHANGED_IMAGE, IMAGES, requires_real_builds

# One xdist worker runs every real-build test, so the session's images are built once.
pytestmark = pytest.mark.xdist_group("real-builds")

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def test_capabilities_say_in_one_sentence_why_builds_are_simulated(tmp_path):
    # An empty cache directory holds no base image: builds are impossible for that reason at least.
    builds = detect(tmp_path).builds
    assert not builds
    assert builds.reason.endswith(".") and builds.reason.count(". ") == 0
    if CAPABILITIES.builds:  # root with the tools: only the base image is missing
        assert "docker.io/library/debian:bookworm-slim" in builds.reason and "make setup" in builds.reason
    else:
        assert "simulated" in builds.reason


@requires_real_builds
def test_the_registry_holds_the_three_images_with_the_digests_the_builds_returned(first_build, registry):
    assert set(first_build) == set(IMAGES)
    assert {f"tekton-cd/health-{name}" for name in IMAGES} <= set(registry.repositories())
    for name, result in first_build.items():
        assert DIGEST.match(result.digest), result.digest
        assert "first" in registry.tags(f"tekton-cd/health-{name}")
        assert registry.digest_of(f"tekton-cd/health-{name}", "first") == result.digest
        assert registry.manifest_exists(result.reference)
    assert len({result.digest for result in first_build.values()}) == 3


@requires_real_builds
def test_a_made_up_digest_is_not_in_the_registry(first_build, registry):
    made_up = "sha256:" + "0" * 64
    assert not registry.manifest_exists(f"{registry.host}/tekton-cd/health-api@{made_up}")
    assert not registry.manifest_exists(f"{registry.host}/tekton-cd/no-such-image@{made_up}")


@requires_real_builds
def test_a_second_build_of_the_same_sources_gives_the_same_digests(first_build, second_build):
    assert {name: second_build[name].digest for name in IMAGES} == {
        name: first_build[name].digest for name in IMAGES
    }


@requires_real_builds
def test_a_changed_dockerfile_gives_a_new_digest_for_that_image_only(first_build, second_build, registry):
    changed = second_build["changed"]
    assert changed.digest != first_build[CHANGED_IMAGE].digest
    assert registry.digest_of(f"tekton-cd/health-{CHANGED_IMAGE}", "changed") == changed.digest
    # The two images built from unchanged sources at the same time kept their digests.
    for name in set(IMAGES) - {CHANGED_IMAGE}:
        assert second_build[name].digest == first_build[name].digest


@requires_real_builds
def test_a_failing_run_fails_the_build_with_its_log_and_pushes_nothing(buildah, registry, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM docker.io/library/debian:bookworm-slim\nRUN echo checking the sources && exit 3\n"
    )
    containers_before = set(buildah.run("containers", "--quiet").split())
    with pytest.raises(BuildError) as failure:
        buildah.build_and_push(tmp_path, "Dockerfile", f"{registry.host}/tekton-cd/broken:v1")
    assert "checking the sources" in failure.value.log
    assert "exit status 3" in failure.value.log or "exit status 3" in str(failure.value)
    assert "building" in str(failure.value)
    assert registry.tags("tekton-cd/broken") == []
    # The failed step's container is not left behind, mounted (a checkout holding mounts cannot be deleted).
    assert set(buildah.run("containers", "--quiet").split()) == containers_before


@requires_real_builds
def test_a_base_image_that_is_not_local_fails_at_once_naming_it(buildah, registry, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM registry.example.invalid/nothing:1\nRUN true\n")
    started = time.monotonic()
    with pytest.raises(BuildError) as failure:
        buildah.build_and_push(tmp_path, "Dockerfile", f"{registry.host}/tekton-cd/unknown-base:v1")
    assert "registry.example.invalid/nothing" in failure.value.log
    # --pull=never: no attempt to reach a registry, so no network timeout to wait for.
    assert time.monotonic() - started < 30


@requires_real_builds
def test_the_build_log_and_timings_are_reported(first_build):
    for result in first_build.values():
        assert "STEP 1/" in result.log and "COMMIT" in result.log
        assert "Writing manifest to image destination" in result.log  # the push's part
        assert result.timings["build"] > 0 and result.timings["push"] > 0
