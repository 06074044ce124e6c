# Sourced by ./panavirt and bench/run (after tools/jdk.sh, which also keeps Maven's Unsafe warnings away): builds jars with Maven only when what goes into
# them changed, and quietly: Maven's output is shown only when the build fails.
#
# Staleness is judged against a stamp written when a build succeeds, not against the jar: Maven leaves a
# module's jar untouched when only its dependencies changed, so the jar alone would look stale forever.

# panavirt_stale STAMP PATH...: true when STAMP is missing or any PATH (or a file under it) is newer.
panavirt_stale() {
  local stamp=$1
  shift
  [ ! -f "$stamp" ] && return 0
  [ -n "$(find "$@" -newer "$stamp" -print -quit 2>/dev/null)" ]
}

# panavirt_build ROOT STAMP WHO MAVEN-ARGS...: runs `mvn MAVEN-ARGS` in ROOT; on success touches STAMP with the
# time the build started (so an edit made during the build still counts as newer); on failure prints Maven's
# output and a line naming WHO, and returns 70 (an internal error: never 1, a guest's status).
panavirt_build() {
  local root=$1 stamp=$2 who=$3 log
  shift 3
  mkdir -p "$(dirname "$stamp")"
  : > "$stamp.building"
  log=$(mktemp)
  if (cd "$root" && mvn -B -q -ntp -Dstyle.color=never "$@") >"$log" 2>&1; then
    mv -f "$stamp.building" "$stamp"
    rm -f "$log"
    return 0
  fi
  # Debian's Maven 3.8 writes colour resets even in batch mode; strip them.
  sed 's/\x1b\[[0-9;]*m//g' "$log" >&2
  echo "$who: the build failed (Maven's output above)" >&2
  rm -f "$log" "$stamp.building"
  return 70
}
