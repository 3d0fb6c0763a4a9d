"""When ibmcloud_cluster_config rewrites `dest`, and how: only for a real change, mode 0600."""

import base64
import json
import stat
import time

import pytest
import yaml

from tests.playbook import load_module

module = load_module("ibmcloud_cluster_config")
build_kubeconfig = module.build_kubeconfig
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_config import hide_tokens  # noqa: E402


def _jwt(expires_in):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none'})}.{part({'exp': int(time.time()) + expires_in})}.sig"


def _config(token, server="https://127.0.0.1:6443"):
    return build_kubeconfig("dev", server, "PEM", token)


def _write(path, config, mode=0o600):
    path.write_text(yaml.safe_dump(config))
    path.chmod(mode)


def test_missing_file_is_written(tmp_path):
    assert module.plan_write(str(tmp_path / "k.yml"), _config("t"))[0] is True


def test_identical_file_is_kept(tmp_path):
    dest = tmp_path / "k.yml"
    _write(dest, _config("t"))
    assert module.plan_write(str(dest), _config("t")) == (False, _config("t"), _config("t"))


def test_fresh_token_on_disk_is_kept_and_returned(tmp_path):
    dest, old = tmp_path / "k.yml", _config(_jwt(3600))
    _write(dest, old)
    needs_write, _, kept = module.plan_write(str(dest), _config(_jwt(3600 + 5)))
    assert needs_write is False and kept == old


@pytest.mark.parametrize("old_token", [_jwt(60), "opaque-old"], ids=["expiring-jwt", "opaque-old"])
def test_expiring_or_opaque_different_token_is_replaced(tmp_path, old_token):
    dest, new = tmp_path / "k.yml", _config(_jwt(3600))
    _write(dest, _config(old_token))
    assert module.plan_write(str(dest), new)[::2] == (True, new)


def test_other_server_is_replaced(tmp_path):
    dest = tmp_path / "k.yml"
    _write(dest, _config("t", server="https://127.0.0.1:1"))
    assert module.plan_write(str(dest), _config("t"))[0] is True


def test_wrong_mode_is_fixed(tmp_path):
    dest = tmp_path / "k.yml"
    _write(dest, _config("t"), mode=0o644)
    assert module.plan_write(str(dest), _config("t"))[0] is True
    module.write_private(str(dest), _config("t"))
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert yaml.safe_load(dest.read_text()) == _config("t")
    assert [p.name for p in tmp_path.iterdir()] == ["k.yml"]  # no temporary file left


def test_redacted_copy_hides_tokens_only():
    redacted = hide_tokens(_config("secret-token"))
    assert "secret-token" not in json.dumps(redacted)
    assert redacted["clusters"] == _config("x")["clusters"]
