#!/usr/bin/env bash
# Regenerates the committed bindings (bindings/src/main/java/dev/panavirt/bindings/...) from the
# pinned uapi headers, then checks them against C on every arch.
#
#   native-headers/regen.sh                  # normal: headers must match headers.manifest
#   native-headers/regen.sh --write-manifest # after changing the pin or the bound headers: rewrite it
#
# Steps: apt-install libclang1-16 and clang-16 if missing; install-headers.sh (which refuses on any
# checksum difference); build the generator; run it (it re-checks every header file it reads against
# the manifest, deletes the stale generated files of each package and writes the new ones, the test
# index and native-headers/generated-report.txt); then run the bindings' layout tests: the x86-64 gcc
# probe, the golden values, and the clang cross-arch check with a missing clang counting as failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
write_manifest=0
for a in "$@"; do
  case "$a" in
    --write-manifest) write_manifest=1 ;;
    *) echo "usage: $0 [--write-manifest]" >&2; exit 2 ;;
  esac
done
log() { echo "regen: $*" >&2; }

# shellcheck source=../tools/jdk.sh
source "$root/tools/jdk.sh"

libclang=${PANAVIRT_LIBCLANG:-/usr/lib/llvm-16/lib/libclang.so.1}
clang=${PANAVIRT_CLANG:-clang-16}
missing=()
[ -e "$libclang" ] || missing+=(libclang1-16)
command -v "$clang" >/dev/null 2>&1 || missing+=(clang-16)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo_ apt-get install -y -q "${missing[@]}" >&2; then
    $sudo_ apt-get update -q >&2
    $sudo_ apt-get install -y -q "${missing[@]}" >&2
  fi
fi
resource_dir=$("$clang" -print-resource-dir)

if [ "$write_manifest" -eq 1 ]; then
  hdr=$(native-headers/install-headers.sh --no-verify | tail -1)
else
  hdr=$(native-headers/install-headers.sh | tail -1)
fi
log "headers: $hdr"

log "building the generator"
mvn -q -pl native-headers -am package >&2

args=(--headers-dir "$hdr" --ext-include native-headers/include --manifest native-headers/headers.manifest
      --out bindings/src/main/java
      --index bindings/src/test/resources/dev/panavirt/bindings/generated-index.tsv
      --report native-headers/generated-report.txt
      --libclang "$libclang" --resource-dir "$resource_dir")
[ "$write_manifest" -eq 1 ] && args+=(--write-manifest)
log "generating"
LIBCLANG_DISABLE_CRASH_RECOVERY=1 java --enable-native-access=dev.panavirt.headers \
  -p native-headers/target/classes -m dev.panavirt.headers/dev.panavirt.headers.Main "${args[@]}"

if [ "$write_manifest" -eq 1 ]; then
  native-headers/install-headers.sh >/dev/null
fi

log "checking the bindings against gcc (x86-64) and clang (arm64, riscv64, loongarch64)"
mvn -q -pl bindings -am test -Dsurefire.failIfNoSpecifiedTests=false \
  -Dtest='GccProbeTest,GoldenValuesTest,CrossArchLayoutTest' \
  -Dpanavirt.headers.dir="$hdr" -Dpanavirt.crossarch.required=true -Dpanavirt.clang="$clang" >&2
log "done; review with: git status bindings native-headers && git diff --stat"
