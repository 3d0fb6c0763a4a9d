"""The IBM Cloud modules' DOCUMENTATION matches their argument_spec (names, types, defaults,
aliases, required), and every secret option is no_log."""

import pytest
import yaml

from tests.playbook import load_module

MODULES = ["ibmcloud_auth", "ibmcloud_cluster_config"]


def _spec(module):
    if hasattr(module, "argument_spec"):
        return module.argument_spec()
    return dict(module.COMMON_ARGUMENT_SPEC)


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_are_the_argument_spec(name):
    module = load_module(name)
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
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
