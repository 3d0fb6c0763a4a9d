"""The IBM Cloud modules' DOCUMENTATION (with the doc fragments it extends) matches their
argument_spec (names, types, defaults, aliases, required), and every secret option is no_log."""

import importlib.util

import pytest
import yaml

from tests.playbook import ROOT, load_module

MODULES = ["ibmcloud_auth", "ibmcloud_cluster_config"]


def _spec(module):
    if hasattr(module, "argument_spec"):
        return module.argument_spec()
    return dict(module.COMMON_ARGUMENT_SPEC)


def _documented_options(module):
    documentation = yaml.safe_load(module.DOCUMENTATION)
    options = dict(documentation.get("options") or {})
    for fragment in documentation.get("extends_documentation_fragment") or []:
        path = ROOT / "plugins" / "doc_fragments" / f"{fragment.rpartition('.')[2]}.py"
        spec = importlib.util.spec_from_file_location(f"doc_fragment_{fragment}", path)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        options.update(yaml.safe_load(loaded.ModuleDocFragment.DOCUMENTATION)["options"])
    return options


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_are_the_argument_spec(name):
    module = load_module(name)
    documented = _documented_options(module)
    spec = _spec(module)
    assert set(documented) == set(spec)
    for option, doc in documented.items():
        declared = spec[option]
        assert doc.get("type", "str") == declared.get("type", "str"), option
        assert doc.get("default") == declared.get("default"), option
        assert bool(doc.get("required")) == bool(declared.get("required")), option
        assert sorted(doc.get("aliases", [])) == sorted(declared.get("aliases", [])), option
    assert spec["api_key"]["no_log"] is True


@pytest.mark.parametrize("name", MODULES)
def test_examples_and_return_are_yaml(name):
    module = load_module(name)
    assert isinstance(yaml.safe_load(module.EXAMPLES), list)
    assert isinstance(yaml.safe_load(module.RETURN), dict)
