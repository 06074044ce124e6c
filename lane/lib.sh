# Shared by lane/prepare, lane/boot and lane/run (sourced, not executed).
LANE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LANE_REPO=$(cd "$LANE_DIR/.." && pwd)
LANE_CACHE=${LANE_CACHE:-$LANE_DIR/cache}

# Say which command failed when errexit ends a script (otherwise it ends without a word).
trap 'lane_log "error: ${BASH_SOURCE[0]##*/} line $LINENO: $BASH_COMMAND failed"' ERR

# Prints the comment block at the top of script $1 (its usage text).
lane_usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"; }

lane_log() { printf 'lane: %s\n' "$*" >&2; }
lane_die() { printf 'lane: error: %s\n' "$*" >&2; exit "${LANE_DIE_CODE:-2}"; }

# Seconds since the epoch with milliseconds, for the timing breakdown.
lane_now() { date +%s.%3N; }
lane_since() { awk -v a="$1" -v b="$(lane_now)" 'BEGIN { printf "%.2f", b - a }'; }

# The junit-platform version that matches the root pom's JUnit Jupiter version (5.x.y -> 1.x.y).
lane_junit_platform_version() {
  local jv
  jv=$(sed -n 's:.*<junit.version>\(5\.[0-9.]*\)</junit.version>.*:\1:p' "$LANE_REPO/pom.xml" | head -1)
  [ -n "$jv" ] || jv=5.13.4
  echo "1.${jv#5.}"
}
