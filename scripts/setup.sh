#!/usr/bin/env bash
# One command for a fresh machine: a virtualenv in .venv with the pinned dependencies and the
# pinned helm/kubectl binaries. Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [[ $(cat "$VENV/.requirements.sha256" 2>/dev/null || true) != "$want" ]]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  echo "$want" >"$VENV/.requirements.sha256"
fi
for step in scripts/setup.d/*.sh; do
  [[ -e $step ]] || continue
  bash "$step" "$VENV"
done
echo "setup: ready (ansible-core $("$VENV/bin/python" -c "import ansible.release as r; print(r.__version__)"))"
