# Sourced by every entry point: picks a JDK >= 22 without any manual export.
# Order: $JAVA_HOME if new enough, else the newest JDK under /usr/lib/jvm, else `java` on PATH.
panavirt_java_feature() {  # prints the feature version of the JDK at $1, or 0
  local rel="$1/release" v
  if [ -r "$rel" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel")
  elif [ -x "$1/bin/java" ]; then
    v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
  fi
  echo "${v:-0}"
}

panavirt_find_jdk() {
  local want=22 best="" bestv=0 d v
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ] && [ "$(panavirt_java_feature "$JAVA_HOME")" -ge $want ]; then
    echo "$JAVA_HOME"; return 0
  fi
  for d in /usr/lib/jvm/*/ /usr/local/lib/jvm/*/ /opt/java/*/; do
    d=${d%/}
    [ -x "$d/bin/javac" ] || continue
    v=$(panavirt_java_feature "$d")
    if [ "$v" -ge $want ] && [ "$v" -gt "$bestv" ]; then best=$d; bestv=$v; fi
  done
  if [ -z "$best" ] && command -v javac >/dev/null 2>&1; then
    d=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
    [ "$(panavirt_java_feature "$d")" -ge $want ] && best=$d
  fi
  [ -n "$best" ] || { echo "panavirt: no JDK >= $want found (looked at JAVA_HOME and /usr/lib/jvm); install one, e.g. Temurin 25" >&2; return 1; }
  echo "$best"
}

JAVA_HOME=$(panavirt_find_jdk) || exit 1
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"

# Maven's own libraries (guava) call sun.misc.Unsafe, which JDK 23+ warns about in four lines on every
# build. Allowed for Maven's JVM only: MAVEN_OPTS reaches no test, fuzzing or benchmark JVM.
if [ "$(panavirt_java_feature "$JAVA_HOME")" -ge 23 ]; then
  case " ${MAVEN_OPTS:-} " in
    *" --sun-misc-unsafe-memory-access="*) ;;
    *) export MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--sun-misc-unsafe-memory-access=allow" ;;
  esac
fi
