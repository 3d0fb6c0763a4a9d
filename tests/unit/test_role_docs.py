"""docs/variables.md is what scripts/role_docs.py makes from the roles' meta/argument_specs.yml
right now (so the reference of every variable is written once, and current), and every variable a
role's defaults/main.yml sets is described there."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.playbook import ROOT

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "defaults" / "main.yml").exists())


def test_docs_variables_md_is_current():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import role_docs
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert (ROOT / "docs" / "variables.md").read_text() == role_docs.render(), (
        "docs/variables.md is out of date: run `make docs` (python scripts/role_docs.py)")


def test_the_check_mode_of_the_script_tells_a_stale_file(tmp_path):
    script = tmp_path / "scripts" / "role_docs.py"
    script.parent.mkdir()
    for name in ("role_docs.py", "generated_file.py"):
        (script.parent / name).write_text((ROOT / "scripts" / name).read_text())
    (tmp_path / "docs").mkdir()
    (tmp_path / "roles" / "demo" / "meta").mkdir(parents=True)
    spec = {"argument_specs": {"main": {"short_description": "A demo role", "options": {
        "demo_name": {"type": "str", "default": "x", "description": "The name."}}}}}
    (tmp_path / "roles" / "demo" / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(spec))
    check = [sys.executable, str(script), "--check"]
    assert subprocess.run(check, capture_output=True, timeout=60).returncode == 1
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True, timeout=60)
    assert subprocess.run(check, capture_output=True, timeout=60).returncode == 0
    written = (tmp_path / "docs" / "variables.md").read_text()
    assert "| `demo_name` | str | `x` | The name. |" in written


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_described_in_the_argument_specs(role):
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    described = set()
    for entry_point in specs["argument_specs"].values():
        described |= set(entry_point.get("options") or {})
    assert sorted(set(defaults) - described) == []
