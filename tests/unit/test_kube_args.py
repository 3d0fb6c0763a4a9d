"""The shared connection options: environment fallbacks, aliases, and what no_log hides."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import (  # noqa: E402
    CONNECTION_ARGS,
    with_connection_args,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    kubeconfig_secrets,
    run_handler,
    validate_params,
)

ENVIRONMENT = ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY",
               "K8S_AUTH_VERIFY_SSL", "K8S_AUTH_SSL_CA_CERT")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def validate(params):
    result = ArgumentSpecValidator(with_connection_args({"name": {"type": "str"}})).validate(params)
    assert result.error_messages == []
    return result


def test_environment_fallbacks_like_kubernetes_core(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", "/dev/null")
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "ctx")
    monkeypatch.setenv("K8S_AUTH_HOST", "https://127.0.0.1:6443")
    monkeypatch.setenv("K8S_AUTH_API_KEY", "t0ken")
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "no")
    monkeypatch.setenv("K8S_AUTH_SSL_CA_CERT", "/dev/null")
    params = validate({}).validated_parameters
    assert params["kubeconfig"] == "/dev/null" and params["context"] == "ctx"
    assert params["host"] == "https://127.0.0.1:6443" and params["api_key"] == "t0ken"
    assert params["validate_certs"] is False and params["ca_cert"] == "/dev/null"


def test_task_values_beat_the_environment_and_aliases_work(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_HOST", "https://127.0.0.1:1")
    params = validate({"host": "https://127.0.0.1:2", "verify_ssl": True, "ssl_ca_cert": "/dev/null"})
    assert params.validated_parameters["host"] == "https://127.0.0.1:2"
    assert params.validated_parameters["validate_certs"] is True
    assert params.validated_parameters["ca_cert"] == "/dev/null"


def test_nothing_set_means_none_so_the_client_picks_in_cluster_or_kubeconfig():
    params = validate({}).validated_parameters
    assert all(params[name] is None for name in CONNECTION_ARGS)


def test_module_spec_wins_over_connection_spec():
    spec = with_connection_args({"context": {"type": "str", "required": True}})
    assert spec["context"] == {"type": "str", "required": True}
    assert "context" in CONNECTION_ARGS and "required" not in CONNECTION_ARGS["context"]


def test_secrets_are_no_log():
    assert CONNECTION_ARGS["api_key"]["no_log"] and CONNECTION_ARGS["kubeconfig"]["no_log"]
    result = validate({"api_key": "t0ken"})
    assert "t0ken" in result._no_log_values


KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "default",
    "clusters": [{"name": "default", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "admin", "user": {"token": "s3cr3t-token", "client-key-data": "S0VZ"}},
              {"name": "exec", "user": {"exec": {"command": "get-token", "env": [
                  {"name": "API_KEY", "value": "exec-secret"}]}}},
              {"name": "basic", "user": {"username": "admin", "password": "pa55"}}],
    "contexts": [{"name": "default", "context": {"cluster": "default", "user": "admin"}}],
}


def test_kubeconfig_secrets_are_found():
    assert kubeconfig_secrets(KUBECONFIG) == {"s3cr3t-token", "S0VZ", "exec-secret", "pa55"}


def test_only_the_secrets_of_a_kubeconfig_stay_masked():
    result = validate({"kubeconfig": KUBECONFIG})
    assert {"v1", "default", "https://127.0.0.1:6443"} <= set(result._no_log_values)  # plain no_log
    declaration = ModuleDeclaration({"name": {"type": "str"}}, None)
    masked = declaration.secret_option_values(result.validated_parameters, result._no_log_values)
    assert masked == {"s3cr3t-token", "S0VZ", "exec-secret", "pa55"}


def test_a_kubeconfig_path_is_not_masked():
    result = validate({"kubeconfig": "configs/kubeconfig", "api_key": "t0ken"})
    declaration = ModuleDeclaration({"name": {"type": "str"}}, None)
    assert declaration.secret_option_values(result.validated_parameters, result._no_log_values) == {"t0ken"}


def test_handlers_run_without_ansible_module():
    def handler(params, check_mode):
        if not params.get("name"):
            raise KubeError.invalid("name", "it is empty", "give a name")
        return {"changed": not check_mode, "name": params["name"]}

    assert run_handler(handler, {"name": "x"}, True) == {"changed": False, "name": "x"}
    with pytest.raises(KubeError, match="Invalid value for option 'name'"):
        run_handler(handler, {}, False)


def test_validate_params_completes_and_rejects_like_ansible_module(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "from-env")
    spec = {"name": {"type": "str", "required": True}, "wait": {"type": "bool", "default": True}}
    params = validate_params(spec, {"name": "x"})
    assert params["wait"] is True and params["context"] == "from-env" and params["host"] is None
    with pytest.raises(KubeError) as error:
        validate_params(spec, {"wait": "maybe"})
    assert error.value.msg.startswith("Invalid task arguments: ")
    assert "missing required arguments: name" in error.value.msg


ITEM_OPTIONS = {"labels": {"type": "dict"}, "allowed": {"type": "list", "default": []}}


def test_requested_turns_either_form_into_elements():
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import option_at, requested

    single = {"name": "a", "namespace": "ns", "labels": {"x": "y"}, "allowed": [], "items": None}
    assert requested(single, "items", ITEM_OPTIONS, one="item", shared=("namespace",)) == [
        ("", {"name": "a", "namespace": "ns", "labels": {"x": "y"}, "allowed": []})]
    listed = {"name": None, "namespace": "ns", "labels": None, "allowed": [],
              "items": [{"name": "a", "namespace": None}, {"name": "b", "namespace": "other"}]}
    assert requested(listed, "items", ITEM_OPTIONS, one="item", shared=("namespace",)) == [
        ("items[0]", {"name": "a", "namespace": "ns"}), ("items[1]", {"name": "b", "namespace": "other"})]
    assert option_at("items[1]", "labels") == "items[1].labels" and option_at("", "labels") == "labels"
    nameless = {"labels": None, "allowed": [{"verb": "get"}], "items": None}
    assert requested(nameless, "items", ITEM_OPTIONS) == [
        ("", {"labels": None, "allowed": [{"verb": "get"}]})]


@pytest.mark.parametrize(("params", "message"), [
    ({"name": "a", "labels": None, "allowed": [], "items": [{"name": "b"}]},
     "Invalid value for option 'name': it cannot be combined with items; move name into the elements"),
    ({"name": None, "labels": None, "allowed": [{"verb": "get"}], "items": [{"name": "b"}]},
     "option 'allowed': it cannot be combined with items"),
    ({"name": None, "labels": None, "allowed": [], "items": None},
     "option 'name': neither name nor items is given; give the name of one item, or a items list"),
])
def test_requested_refuses_mixed_or_missing_forms(params, message):
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import requested

    with pytest.raises(KubeError) as raised:
        requested(params, "items", ITEM_OPTIONS, one="item")
    assert message in raised.value.msg
