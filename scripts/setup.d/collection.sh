#!/usr/bin/env bash
# Makes this checkout usable in place as the collection tekton_cd.pipeline: ansible.cfg puts
# .cache/collections on the collections path, and this links the collection's directory there to
# the project root (relative, so the checkout can move). Safe to re-run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
namespace_dir=$root/.cache/collections/ansible_collections/tekton_cd
mkdir -p "$namespace_dir"
link=$namespace_dir/pipeline
if [[ $(readlink "$link" 2>/dev/null || true) != "../../../.." ]]; then
  rm -rf "$link"
  ln -s ../../../.. "$link"
fi
# The plugins' Python bytecode, as pip writes it for an installed package: every run reads it
# (plugins/plugin_utils/preload.py) instead of compiling 7,000 lines again, also where
# PYTHONDONTWRITEBYTECODE keeps Python from writing it at run time. Stale files are recompiled.
"$root/.venv/bin/python" -m compileall -q "$root/plugins" >/dev/null
