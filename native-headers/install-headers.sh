#!/usr/bin/env bash
# Installs the pinned Linux uapi headers that panavirt's bindings are generated from, and checks them.
#
#   hdr=$(native-headers/install-headers.sh)        # last line of stdout: the cache directory
#   native-headers/install-headers.sh --no-verify   # install only (used when rewriting the manifest)
#
# The package and version come from native-headers/headers.manifest (lines "package" and "version").
# First run (~25 s): apt-installs that exact Debian linux-source version if its tarball is missing or
# another version is installed, extracts the tarball into
#   ${PANAVIRT_CACHE:-$HOME/.cache/panavirt}/headers/<version>/
# runs `make headers_install ARCH=<arch> INSTALL_HDR_PATH=<cache>/<arch>` for x86, arm64, riscv and
# loongarch, deletes the extracted source, and writes a stamp file. Every run (the first included)
# then verifies the sha256 of every header the manifest lists and refuses, naming the file, on any
# difference. Progress goes to stderr; stdout carries only the cache path.
#
# It also apt-installs clang-16 and libclang1-16 if either is missing (Debian 12, as regen.sh does):
# the bindings' tests compile these headers with clang-16 for arm64, riscv64 and loongarch64
# (CrossArchLayoutTest, part of the default test run), and the generator loads libclang.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
manifest="$here/headers.manifest"
verify=1
for a in "$@"; do
  case "$a" in
    --no-verify) verify=0 ;;
    *) echo "usage: $0 [--no-verify]" >&2; exit 2 ;;
  esac
done

log() { echo "install-headers: $*" >&2; }
die() { echo "install-headers: error: $*" >&2; exit 1; }

[ -r "$manifest" ] || die "no manifest at $manifest"
pkg=$(awk '$1 == "package" { print $2 }' "$manifest")
version=$(awk '$1 == "version" { print $2 }' "$manifest")
[ -n "$pkg" ] && [ -n "$version" ] || die "$manifest needs 'package' and 'version' lines"
arches=(x86 arm64 riscv loongarch)
series=${pkg#linux-source-}                       # 6.12
tarball=/usr/src/$pkg.tar.xz
cache=${PANAVIRT_CACHE:-$HOME/.cache/panavirt}/headers/$version
stamp=$cache/.installed
stamp_text="$pkg $version ${arches[*]}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $*"
  fi
}

ensure_package() {
  local have
  have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
  if [ "$have" = "$version" ] && [ -r "$tarball" ]; then return; fi
  log "installing $pkg=$version (installed: ${have:-none}, tarball: $([ -r "$tarball" ] && echo present || echo missing))"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show "$pkg=$version" >/dev/null 2>&1; then
    log "apt-get update (version $version not in the package lists)"
    as_root apt-get update -q >&2
  fi
  as_root apt-get install -y -q --allow-downgrades "$pkg=$version" >&2
  have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
  [ "$have" = "$version" ] || die "$pkg is at '${have:-none}' after apt-get install, wanted $version"
  [ -r "$tarball" ] || die "$tarball missing after installing $pkg"
}

# headers_install copies the headers with rsync (the kernel's Makefile), which a fresh machine may lack.
ensure_tools() {
  command -v rsync >/dev/null 2>&1 && return
  log "installing rsync (make headers_install needs it)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q rsync >&2 || { as_root apt-get update -q >&2; as_root apt-get install -y -q rsync >&2; }
}

# The cross-arch layout check needs the clang-16 binary; the generator needs libclang1-16.
ensure_clang() {
  local missing=()
  command -v clang-16 >/dev/null 2>&1 || missing+=(clang-16)
  [ -e /usr/lib/llvm-16/lib/libclang.so.1 ] || missing+=(libclang1-16)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]} (the cross-arch layout check compiles the headers with clang-16)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -q "${missing[@]}" >&2; then
    as_root apt-get update -q >&2
    as_root apt-get install -y -q "${missing[@]}" >&2
  fi
  command -v clang-16 >/dev/null 2>&1 || die "clang-16 is not on the PATH after apt-get install ${missing[*]}"
}

install_headers() {
  local src=$cache/src
  rm -rf "$src" "${arches[@]/#/$cache/}" "$stamp"
  mkdir -p "$src"
  log "extracting $tarball (source trees not needed for headers_install are skipped)"
  # headers_install needs the top-level Makefile, scripts/, include/ and arch/ (the arch Makefiles and
  # syscall tables); everything else is left in the tarball to save time and disk.
  tar -xJf "$tarball" -C "$src" --strip-components=1 \
    --exclude="$pkg/drivers" --exclude="$pkg/Documentation" --exclude="$pkg/sound" \
    --exclude="$pkg/fs" --exclude="$pkg/net" --exclude="$pkg/tools/testing" --exclude="$pkg/samples" \
    --exclude="$pkg/rust" --exclude="$pkg/LICENSES"
  for arch in "${arches[@]}"; do
    log "make headers_install ARCH=$arch"
    make -s -C "$src" headers_install ARCH="$arch" INSTALL_HDR_PATH="$cache/$arch" >&2
    [ -r "$cache/$arch/include/linux/kvm.h" ] || die "headers_install ARCH=$arch produced no linux/kvm.h"
  done
  log "removing the extracted source"
  rm -rf "$src"
  echo "$stamp_text" > "$stamp"
}

verify_headers() {
  local n=0 bad=0 want file got
  while read -r kind want file; do
    [ "$kind" = "sha256" ] || continue
    n=$((n + 1))
    if [ ! -f "$cache/$file" ]; then
      echo "install-headers: MISSING $file (listed in $manifest)" >&2; bad=$((bad + 1)); continue
    fi
    got=$(sha256sum "$cache/$file" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
      echo "install-headers: CHECKSUM MISMATCH $file: sha256 $got, manifest $want" >&2; bad=$((bad + 1))
    fi
  done < "$manifest"
  [ "$n" -gt 0 ] || die "$manifest lists no sha256 lines (write it with native-headers/regen.sh --write-manifest)"
  [ "$bad" -eq 0 ] || die "$bad of $n header files differ from $manifest; refusing to use $cache"
  log "verified $n header files against $manifest"
}

mkdir -p "$cache"
exec 9>"$cache.lock"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ]; then
  log "already installed in $cache"
else
  ensure_package
  ensure_tools
  install_headers
fi
if [ "$verify" -eq 1 ]; then verify_headers; fi
ensure_clang
echo "$cache"
