"""execution-environment.yml, the image AWX / Automation Platform run the playbooks in: valid for
ansible-builder's version 3 schema (ansible-builder's own validator, offline), the same Python
requirements as requirements.txt's runtime section, and a build context that ansible-builder makes
from it holding the collection as `make ee` packs it and the pinned helm/kubectl install step."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile

import pytest
import yaml

from tests.playbook import ROOT, VENV_BIN

EE_FILE = ROOT / "execution-environment.yml"


@pytest.fixture(scope="module")
def definition():
    return yaml.safe_load(EE_FILE.read_text())


def runtime_requirements():
    """requirements.txt's lines from '# Runtime' up to the next comment block, as {name: pin}."""
    pins, in_runtime = {}, False
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("#"):
            if in_runtime and pins:
                break
            in_runtime = in_runtime or line.startswith("# Runtime")
            continue
        if in_runtime and line.strip():
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def pins_of(lines):
    return {name.strip().lower(): version.strip()
            for name, _, version in (line.partition("==") for line in lines)}


def test_the_definition_is_valid_for_ansible_builder_schema_3(definition):
    from ansible_builder.ee_schema import validate_schema

    assert definition["version"] == 3
    validate_schema(dict(definition))  # raises DefinitionError, naming the problem


def test_a_wrong_definition_is_refused_by_the_same_validator(definition):
    from ansible_builder.ee_schema import validate_schema
    from ansible_builder.exceptions import DefinitionError

    broken = {**definition, "dependencies": {**definition["dependencies"], "pyton": ["x"]}}
    with pytest.raises(DefinitionError):
        validate_schema(broken)


def test_python_requirements_are_requirements_txt_runtime_section(definition):
    runtime = runtime_requirements()
    assert "kubernetes" in runtime and "ansible-core" in runtime  # the section was found
    dependencies = definition["dependencies"]
    installed = pins_of(dependencies["python"])
    installed.update(pins_of([dependencies["ansible_core"]["package_pip"]]))
    assert installed == runtime
    for pin in installed.values():
        assert re.fullmatch(r"\d+(\.\d+)*", pin), f"not pinned exactly: {pin}"
    # The collection's own requirements.txt (test tools included) is not what the image installs.
    assert "tekton_cd.pipeline" in dependencies["exclude"]["all_from_collections"]


def test_build_context_has_the_collection_and_the_checked_helm_install(definition, tmp_path):
    """As `make ee` does it, up to the image build (which needs podman or docker): pack the
    collection, let ansible-builder write the build context, and look at what it holds."""
    workdir = tmp_path / "project"
    workdir.mkdir()
    shutil.copy(EE_FILE, workdir)
    shutil.copytree(ROOT / "scripts", workdir / "scripts")
    (workdir / "build" / "ee").mkdir(parents=True)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=120, env=env)
    packed = next(tmp_path.glob("tekton_cd-pipeline-*.tar.gz"))
    shutil.move(packed, workdir / "build" / "ee" / "tekton_cd-pipeline.tar.gz")
    with tarfile.open(workdir / "build" / "ee" / "tekton_cd-pipeline.tar.gz") as archive:
        names = archive.getnames()
    top = {name.split("/")[0] for name in names}
    assert {"plugins", "roles", "meta", "playbooks"} <= top
    assert not top & {"emulator", ".venv", ".cache", ".ansible", "build", "molecule"}
    # Of the tests, only ansible-test's sanity ignores travel with the collection.
    assert all(name == "tests" or name.startswith("tests/sanity")
               for name in names if name.startswith("tests"))

    context = tmp_path / "context"
    created = subprocess.run([str(VENV_BIN / "ansible-builder"), "create", "-f", "execution-environment.yml",
                              "--context", str(context), "--output-filename", "Containerfile"],
                             cwd=workdir, capture_output=True, text=True, timeout=120, check=False)
    assert created.returncode == 0, created.stdout + created.stderr
    assert "No matches" not in created.stdout + created.stderr  # every additional build file was found
    containerfile = (context / "Containerfile").read_text()
    assert "scripts/setup.d/tools.sh /usr/local" in containerfile
    # ansible.cfg's collections_path (a checkout's .cache) must not hide the installed collection.
    assert "ENV ANSIBLE_COLLECTIONS_PATH=/usr/share/ansible/collections" in containerfile
    assert (context / "_build" / "collection" / "tekton_cd-pipeline.tar.gz").is_file()
    assert (context / "_build" / "tools" / "scripts" / "tools.sha256").read_text() == \
        (ROOT / "scripts" / "tools.sha256").read_text()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert galaxy["collections"] == [{"name": "/build/collection/tekton_cd-pipeline.tar.gz", "type": "file"}]
    # The Containerfile copies _build to /build before installing the collection from there.
    assert "COPY _build /build" in containerfile
    python = (context / "_build" / "requirements.txt").read_text().split()
    assert pins_of(python) == pins_of(definition["dependencies"]["python"])


def test_make_ee_packs_the_collection_where_the_definition_takes_it_from(definition):
    makefile = (ROOT / "Makefile").read_text()
    sources = [entry["src"] for entry in definition["additional_build_files"]]
    assert "build/ee/tekton_cd-pipeline.tar.gz" in sources
    assert "mv build/ee/tekton_cd-pipeline-*.tar.gz build/ee/tekton_cd-pipeline.tar.gz" in makefile
    for source in sources[1:]:
        assert (ROOT / source).is_file(), source
