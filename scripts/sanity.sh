#!/usr/bin/env bash
# ansible-test sanity on the collection as users get it: built with ansible-galaxy (galaxy.yml's
# build_ignore applies), installed into .cache/sanity, tested there with the project's Python.
# ansible-test makes a virtualenv per sanity test and bootstraps pip in it from a host outside
# PyPI; scripts/ansible-test/get_pip.py stands in for that download (HOME is a project directory,
# so nothing is written to the user's home). The virtualenvs are kept: later runs reuse them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.venv/bin
work=$root/.cache/sanity
export HOME=$root/.cache/ansible-test-home
mkdir -p "$HOME/.ansible/test/cache"
cp "$root/scripts/ansible-test/get_pip.py" "$HOME/.ansible/test/cache/get_pip_24_2.py"

rm -rf "$work/build" "$work/ansible_collections"
mkdir -p "$work/build"
printf "[defaults]\n" >"$work/ansible.cfg"  # nothing of the checkout's configuration
(cd "$root" && ANSIBLE_CONFIG=$work/ansible.cfg "$bin/ansible-galaxy" collection build -f --output-path "$work/build" >/dev/null)
ANSIBLE_CONFIG=$work/ansible.cfg "$bin/ansible-galaxy" collection install -f -p "$work" "$work"/build/*.tar.gz >/dev/null
cd "$work/ansible_collections/tekton_cd/pipeline"
exec "$bin/ansible-test" sanity --python 3.11 --color no "$@"
