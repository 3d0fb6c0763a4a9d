"""Modules stay a declaration over the shared core: at most 150 code lines outside their
DOCUMENTATION / EXAMPLES / RETURN (counted by scripts/module_sizes.py, listed in docs/architecture.md)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.playbook import ROOT

spec = importlib.util.spec_from_file_location("module_sizes", ROOT / "scripts" / "module_sizes.py")
sizes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sizes)

# Owned by another branch (role-validation), which brings it under the limit; remove it from here then.
NOT_YET_THIN = {"k8s_access_review"}


@pytest.mark.parametrize("name", sorted(sizes.module_sizes()))
def test_module_is_at_most_150_code_lines(name):
    lines = sizes.module_sizes()[name]
    if name in NOT_YET_THIN:
        pytest.xfail(f"{name} has {lines} code lines; being thinned on another branch")
    assert lines <= sizes.LIMIT, f"{name} has {lines} code lines outside its documentation"


def test_the_count_leaves_out_documentation_and_blank_lines():
    source = 'DOCUMENTATION = r"""\nmodule: x\n"""\n\nimport os\n\n# why\nRETURN = """\n"""\n'
    assert sizes.code_lines(source) == 2
