"""Every module in plugins/modules: its documentation renders, and says what its argument_spec does.

Modules are found by listing plugins/modules, so a new module is checked without touching this
file. The argument_spec is the one the module really passes to AnsibleModule (captured by running
its ``main()`` up to that point); the documentation is what ``ansible-doc`` shows, doc fragments
included.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess

import pytest

from tests.playbook import ROOT, VENV_BIN, load_module

MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")

# Option names that hold secrets and must be no_log; names of secrets ("secret_name") are not secrets.
SECRET_OPTION = re.compile(
    r"(^|_)(password|passwd|token|api_key|apikey|secret_key|access_key|private_key|client_secret|passphrase|"
    r"kubeconfig)$"
)


class _SpecCaptured(Exception):
    def __init__(self, argument_spec, options):
        super().__init__("captured")
        self.argument_spec = argument_spec
        self.options = options


def module_argument_spec(name, monkeypatch):
    from ansible.module_utils import basic

    def capture(self, argument_spec, **options):
        raise _SpecCaptured(argument_spec, options)

    module = load_module(name)
    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    with pytest.raises(_SpecCaptured) as captured:
        module.main()
    return captured.value.argument_spec, captured.value.options


def _ansible_doc(*args):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    environment["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    environment["ANSIBLE_NOCOLOR"] = "1"
    return subprocess.run([str(VENV_BIN / "ansible-doc"), "-M", str(ROOT / "plugins" / "modules"), *args],
                          capture_output=True, text=True, cwd=ROOT, env=environment, timeout=120, check=False)


@functools.cache
def _all_documentation():
    """ansible-doc's JSON for all modules in one process, or None if any module's docs are broken."""
    answer = _ansible_doc("--json", *MODULES)
    return json.loads(answer.stdout) if answer.returncode == 0 else None


def documentation_of(name):
    """ansible-doc's JSON for one module (from the batch when every module parses)."""
    everything = _all_documentation()
    if everything is not None:
        return everything[name]
    answer = _ansible_doc("--json", name)
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)[name]


def _differences(spec, documented, where):
    problems = []
    spec_names, doc_names = set(spec), set(documented or {})
    for missing in sorted(spec_names - doc_names):
        problems.append(f"{where}{missing}: in argument_spec but not documented")
    for extra in sorted(doc_names - spec_names):
        problems.append(f"{where}{extra}: documented but not in argument_spec")
    for name in sorted(spec_names & doc_names):
        option, doc = spec[name], documented[name]
        here = f"{where}{name}"
        checks = {
            "type": (option.get("type", "str"), doc.get("type", "str")),
            "required": (bool(option.get("required", False)), bool(doc.get("required", False))),
            "default": (option.get("default"), doc.get("default")),
            "choices": (sorted(map(str, option.get("choices") or [])),
                        sorted(map(str, doc.get("choices") or []))),
            "aliases": (sorted(option.get("aliases") or []), sorted(doc.get("aliases") or [])),
            "elements": (option.get("elements"), doc.get("elements")),
        }
        for what, (in_spec, in_doc) in checks.items():
            if in_spec != in_doc:
                problems.append(f"{here}: {what} is {in_spec!r} in argument_spec but {in_doc!r} in the docs")
        if not doc.get("description"):
            problems.append(f"{here}: no description")
        if SECRET_OPTION.search(name) and option.get("type", "str") in ("str", "raw", "dict") \
                and not option.get("no_log"):
            problems.append(f"{here}: holds a secret but is not no_log")
        if option.get("options") or doc.get("suboptions"):
            problems.extend(
                _differences(option.get("options") or {}, doc.get("suboptions") or {}, here + ".")
            )
    return problems


def test_modules_are_found():
    assert "k8s_namespace" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_argument_spec_matches_documentation(name, monkeypatch):
    spec, _options = module_argument_spec(name, monkeypatch)
    documented = documentation_of(name)
    assert _differences(spec, documented["doc"].get("options") or {}, "") == []
    assert documented.get("examples", "").strip(), f"{name} has no EXAMPLES"
    assert documented.get("return"), f"{name} has no RETURN"


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders(name):
    answer = _ansible_doc(name)
    assert answer.returncode == 0, answer.stderr
    assert f"MODULE {name}" in answer.stdout
    assert "WARNING" not in answer.stderr and "ERROR" not in answer.stderr, answer.stderr


def test_the_comparison_finds_disagreements():
    spec = {"name": {"type": "str", "required": True}, "token": {"type": "str"},
            "mode": {"choices": ["a", "b"], "default": "a"}}
    documented = {"name": {"type": "str", "description": "x"},
                  "mode": {"choices": ["a"], "default": "b", "description": "x"},
                  "extra": {"description": "x"}}
    problems = _differences(spec, documented, "")
    assert problems == [
        "token: in argument_spec but not documented",
        "extra: documented but not in argument_spec",
        "mode: default is 'a' in argument_spec but 'b' in the docs",
        "mode: choices is ['a', 'b'] in argument_spec but ['a'] in the docs",
        "name: required is True in argument_spec but False in the docs",
    ]
    assert _differences({"api_key": {"type": "str"}}, {"api_key": {"description": "x"}}, "") == [
        "api_key: holds a secret but is not no_log"
    ]
