#!/usr/bin/env bash
# Real image builds (run by scripts/setup.sh with the virtualenv as $1): installs buildah, the
# registry, debootstrap, skopeo and git where it can (root on Debian or Ubuntu), then makes the
# local base images once (see emulator/builds/base_images.py): public registries may be
# unreachable, so `debian:bookworm-slim` and `postgres` are made on this machine and cached under
# .cache/builds. Where it cannot install, it prints the one command that would and carries on:
# the emulator then simulates the build steps and says so. A re-run with everything in place does
# nothing and touches no network.
set -euo pipefail

venv=${1:?usage: builders.sh VENV_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
packages=(buildah docker-registry debootstrap skopeo git)
install_command="apt-get update && apt-get install -y --no-install-recommends ${packages[*]}"

say() { echo "builders.sh: $*"; }

missing=()
for package in "${packages[@]}"; do
  # dpkg-query answers from the local database: no network for an already installed package.
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$package")
done

debian_like=false
if [[ -r /etc/os-release ]]; then
  # shellcheck source=/dev/null
  os_ids=" $(. /etc/os-release; echo "${ID:-} ${ID_LIKE:-}") "
  [[ $os_ids == *" debian "* || $os_ids == *" ubuntu "* ]] && debian_like=true
fi

if ((${#missing[@]})); then
  if [[ $(id -u) == 0 && $debian_like == true ]]; then
    started=$SECONDS
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    say "installed ${missing[*]} in $((SECONDS - started)) s"
  else
    say "real image builds need ${missing[*]}; as root on Debian or Ubuntu, install them with:"
    say "  $install_command"
    say "until then the emulator simulates the build steps and says so."
    exit 0
  fi
fi

if [[ $(id -u) != 0 ]]; then
  say "real image builds need root (buildah with chroot isolation and vfs storage); they are simulated for this user."
  exit 0
fi

"$venv/bin/python" -m emulator.builds.base_images --cache-dir "$root/.cache/builds"
