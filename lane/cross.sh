# The cross-architecture part of the lane (sourced by lane/prepare, lane/run and lane/boot): which QEMU,
# machine, compiler and Debian packages each guest architecture takes. x86_64 is the lane of
# lane/kernel.pin and needs none of this.
#
# One design for every architecture: a Debian kernel .deb unpacked with dpkg -x, an initramfs with
# busybox and a static C program compiled per run (lane/agent), the results back over the console
# between @@LANE-DATA markers (the virt machines of arm64 and riscv64 have one UART).

lane_arch_check() {  # lane_arch_check ARCH: dies unless ARCH is one the lane knows
  case $1 in
    x86_64|arm64|riscv64) ;;
    *) lane_die "unknown --arch $1 (x86_64, arm64 or riscv64)" ;;
  esac
}

# lane_arch_vars ARCH: sets the per-architecture settings
#   A_DEB      Debian's architecture name        A_SUITES  the suites the lane's apt reads
#   A_ABI A_KVER A_KSHA   the pinned kernel       A_BBVER A_BBSHA  the pinned busybox-static
#   A_QEMU A_QEMU_PKG     the emulator and its bookworm package
#   A_CC A_CC_PKGS        the cross compiler and the packages that give it a static libc
#   A_MODULES  modules the guest loads (with their dependencies); empty when KVM is built in
#   A_JRE_DEBS A_JAVA     the pinned JRE packages (PACKAGE=VERSION=SHA256) and its java, for --java
lane_arch_vars() {
  source "$LANE_DIR/arch.pin"
  case $1 in
    arm64)
      A_DEB=arm64 A_SUITES=$ARM64_SUITES
      A_ABI=$ARM64_KERNEL_ABI A_KVER=$ARM64_KERNEL_VERSION A_KSHA=$ARM64_KERNEL_SHA256
      A_BBVER=$ARM64_BUSYBOX_VERSION A_BBSHA=$ARM64_BUSYBOX_SHA256
      A_QEMU=qemu-system-aarch64 A_QEMU_PKG=qemu-system-arm
      A_CC=aarch64-linux-gnu-gcc A_CC_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
      A_MODULES= A_JRE_DEBS= A_JAVA= ;;
    riscv64)
      A_DEB=riscv64 A_SUITES=$RISCV64_SUITES
      A_ABI=$RISCV64_KERNEL_ABI A_KVER=$RISCV64_KERNEL_VERSION A_KSHA=$RISCV64_KERNEL_SHA256
      A_BBVER=$RISCV64_BUSYBOX_VERSION A_BBSHA=$RISCV64_BUSYBOX_SHA256
      A_QEMU=qemu-system-riscv64 A_QEMU_PKG=qemu-system-misc
      A_CC=riscv64-linux-gnu-gcc A_CC_PKGS="gcc-riscv64-linux-gnu libc6-dev-riscv64-cross"
      A_MODULES=kvm A_JRE_DEBS=$RISCV64_JRE_DEBS A_JAVA=$RISCV64_JAVA ;;
    *) lane_die "no cross settings for $1" ;;
  esac
}

# lane_arch_qemu ARCH KERNEL INITRD CONSOLE: the QEMU command line of one boot (in the array QEMU_CMD);
# LANE_APPEND adds kernel arguments (e.g. no5lvl: HotSpot on riscv64 refuses QEMU's default Sv57).
# arm64: a virt board with EL2 (virtualization=on) so KVM runs in the guest, GICv3 with an ITS.
# riscv64: the H extension (KVM) and V with VLEN 128 (vlenb 16, the models' default); OpenSBI from
# qemu-system-data is the firmware.
lane_arch_qemu() {
  local arch=$1 kernel=$2 initrd=$3 con=$4
  local common=(-nodefaults -m "${LANE_MEM:-1G}" -smp "${LANE_SMP:-1}" -display none -no-reboot
                -accel "tcg,thread=${LANE_TCG_THREAD:-multi}" -kernel "$kernel" -initrd "$initrd"
                -serial "file:$con" -monitor none)
  case $arch in
    arm64) QEMU_CMD=(qemu-system-aarch64 -machine virt,virtualization=on,gic-version=3,its=on -cpu max
                     "${common[@]}" -append "console=ttyAMA0 quiet loglevel=3 panic=-1 ${LANE_APPEND:-}") ;;
    riscv64) QEMU_CMD=(qemu-system-riscv64 -machine virt -cpu rv64,h=true,v=true,vlen=128
                       "${common[@]}" -append "console=ttyS0 quiet loglevel=3 panic=-1 ${LANE_APPEND:-}") ;;
  esac
}

# The lane's own apt: its own sources list, state and cache under lane/cache/<arch>/apt, the host's
# keyring. Prints the options for apt-get/apt-cache.
lane_arch_apt_opts() {
  local a=$1
  printf '%s\n' -o "Dir::State=$a/state" -o "Dir::State::status=$a/state/status" -o "Dir::Cache=$a/cache" \
    -o "Dir::Etc::SourceList=$a/etc/sources.list" -o "Dir::Etc::SourceParts=$a/etc/sources.list.d" \
    -o "Dir::Etc::Preferences=$a/etc/preferences" -o "Dir::Etc::PreferencesParts=$a/etc/preferences.d" \
    -o "APT::Architecture=$A_DEB" -o "APT::Architectures::=$A_DEB" -o "APT::Sandbox::User=root"
}

# prepare_cross ARCH FORCE: fetches, unpacks and caches the guest pieces of ARCH under
# lane/cache/<arch>/<abi>/ and points lane/cache/<arch>/current at them.
prepare_cross() {
  local arch=$1 force=$2 t0 t
  t0=$(lane_now)
  lane_arch_vars "$arch"
  local AC=$LANE_CACHE/$arch C=$LANE_CACHE/$arch/$A_ABI RECIPE=1
  mkdir -p "$C"
  if [ "$force" = 0 ] && [ "$(cat "$C/ready" 2>/dev/null)" = $RECIPE ] && command -v "$A_QEMU" >/dev/null \
     && command -v "$A_CC" >/dev/null; then
    ln -sfn "$A_ABI" "$AC/current"
    [ "${LANE_QUIET:-0}" = 1 ] || lane_log "prepare: cached ($arch $A_ABI) in $(lane_since "$t0") s"
    return 0
  fi
  rm -f "$C/ready"
  [ "$force" = 1 ] && rm -rf "$C/root" "$C/busybox" "$C/base.cpio"
  apt_install "$A_QEMU_PKG" qemu-system-data $A_CC_PKGS busybox-static kmod cpio xz-utils zstd

  # the lane's own apt configuration
  local AA=$AC/apt s
  mkdir -p "$AA/state/lists/partial" "$AA/cache/archives/partial" "$AA/etc/sources.list.d" "$AA/etc/preferences.d"
  [ -f "$AA/state/status" ] || : > "$AA/state/status"
  : > "$AA/etc/sources.list.new"
  for s in $A_SUITES; do
    case $s in *-security) u=http://deb.debian.org/debian-security ;; *) u=http://deb.debian.org/debian ;; esac
    echo "deb [arch=$A_DEB signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $u $s main" >> "$AA/etc/sources.list.new"
  done
  mv "$AA/etc/sources.list.new" "$AA/etc/sources.list"
  local opts; mapfile -t opts < <(lane_arch_apt_opts "$AA")
  fetch() {  # fetch PACKAGE VERSION SHA256 DIR: downloads the .deb, checks it, unpacks it into DIR
    local p=$1 v=$2 sum=$3 dir=$4 tmp got
    if ! apt-cache "${opts[@]}" show "$p=$v" >/dev/null 2>&1; then
      lane_log "apt-get update ($arch: $A_SUITES, the lane's own apt state)"
      apt-get "${opts[@]}" update -qq >&2
      apt-cache "${opts[@]}" show "$p=$v" >/dev/null 2>&1 \
        || lane_die "Debian no longer offers $p $v ($arch); bump lane/arch.pin (lane/README.md says how)"
    fi
    tmp=$(mktemp -d "$C/.deb.XXXXXX")
    (cd "$tmp" && apt-get "${opts[@]}" download -qq "$p=$v" >&2)
    got=$(sha256sum "$tmp"/*.deb | cut -d' ' -f1)
    [ "$got" = "$sum" ] || { rm -rf "$tmp"; lane_die "$p $v: SHA256 $got, lane/arch.pin pins $sum"; }
    rm -rf "$dir"
    dpkg -x "$tmp"/*.deb "$dir"
    rm -rf "$tmp"
  }
  # bookworm names the image vmlinuz, trixie's riscv64 package vmlinux (an Image QEMU loads as it is)
  kimg() { ls "$C/root/boot/vmlinuz-$A_ABI" "$C/root/boot/vmlinux-$A_ABI" 2>/dev/null | head -1; }
  if [ -z "$(kimg)" ]; then
    t=$(lane_now)
    fetch "linux-image-$A_ABI" "$A_KVER" "$A_KSHA" "$C/root"
    lane_log "kernel $A_ABI unpacked in $(lane_since "$t") s"
  fi
  bb() { ls "$C/busybox/bin/busybox" "$C/busybox/usr/bin/busybox" 2>/dev/null | head -1; }   # trixie: merged /usr
  [ -n "$(bb)" ] || fetch busybox-static "$A_BBVER" "$A_BBSHA" "$C/busybox"

  # base initramfs: busybox and the modules KVM needs, in modprobe's order
  t=$(lane_now)
  local S; S=$(mktemp -d "$C/.stage.XXXXXX")
  mkdir -p "$S"/{bin,sbin,dev,proc,sys,tmp,etc,lib/lane,lane}
  cp "$(bb)" "$S/bin/busybox"
  # the applet list comes from the host's busybox (the guest's cannot run here); both are Debian's
  for a in $(/bin/busybox --list); do [ -e "$S/bin/$a" ] || ln -s busybox "$S/bin/$a"; done
  : > "$S/lib/lane/modules.list"
  if [ -n "$A_MODULES" ]; then
    local MROOT=$C/root deps ko name
    [ -d "$MROOT/lib/modules/$A_ABI" ] || MROOT=$C/root/usr
    depmod -b "$MROOT" "$A_ABI"
    deps=$(modprobe -d "$MROOT" -S "$A_ABI" --show-depends -a $A_MODULES) || lane_die "modprobe --show-depends failed"
    for ko in $(awk '$1 == "insmod" { print $2 }' <<<"$deps"); do
      name=$(basename "$ko"); name=${name%.xz}; name=${name%.zst}; name=${name%.ko}
      case $ko in
        *.xz) xz -dc "$ko" > "$S/lib/lane/$name.ko" ;;
        *.zst) zstd -qdc "$ko" > "$S/lib/lane/$name.ko" ;;
        *) cp "$ko" "$S/lib/lane/$name.ko" ;;
      esac
      echo "$name" >> "$S/lib/lane/modules.list"
    done
  fi
  mknod -m 600 "$S/dev/console" c 5 1
  mknod -m 666 "$S/dev/null" c 1 3
  (cd "$S" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet) > "$C/base.cpio"
  rm -rf "$S"
  lane_log "base initramfs $arch ($(du -k "$C/base.cpio" | cut -f1) KB${A_MODULES:+, modules for $A_MODULES}) in $(lane_since "$t") s"
  cat > "$C/lane.env" <<EOT
LANE_ARCH=$arch
LANE_ABI=$A_ABI
LANE_KERNEL_VERSION=$A_KVER
LANE_VMLINUZ=$(kimg)
LANE_BASE_CPIO=$C/base.cpio
EOT
  echo $RECIPE > "$C/ready"
  ln -sfn "$A_ABI" "$AC/current"
  lane_log "prepare: done ($arch $A_ABI) in $(lane_since "$t0") s"
}

# prepare_cross_jre ARCH: the JRE for lane/run --java, as an initramfs part of its own
# (lane/cache/<arch>/<abi>/jre.cpio, appended to the run's): the pinned .debs of <ARCH>_JRE_DEBS
# (lane/arch.pin) fetched through the lane's apt, checked and unpacked at the root, so the launcher's
# interpreter (/lib/ld-linux-*) and libraries sit where the guest's ld.so looks. Docs and man pages stay out.
prepare_cross_jre() {
  local arch=$1 t; t=$(lane_now)
  lane_arch_vars "$arch"
  local C=$LANE_CACHE/$arch/$A_ABI AA=$LANE_CACHE/$arch/apt RECIPE=1
  [ -n "$A_JRE_DEBS" ] || lane_die "no JRE pinned for $arch (lane/arch.pin)"
  [ "$(cat "$C/jre.ready" 2>/dev/null)" = "$RECIPE $A_JRE_DEBS" ] && [ -f "$C/jre.cpio" ] && return 0
  rm -f "$C/jre.ready"
  local opts; mapfile -t opts < <(lane_arch_apt_opts "$AA")
  local S tmp e p v sum got
  S=$(mktemp -d "$C/.jre.XXXXXX"); tmp=$S/debs; mkdir -p "$tmp" "$S/root"
  for e in $A_JRE_DEBS; do
    p=${e%%=*}; sum=${e##*=}; v=${e#*=}; v=${v%=*}
    if ! apt-cache "${opts[@]}" show "$p=$v" >/dev/null 2>&1; then
      apt-get "${opts[@]}" update -qq >&2
      apt-cache "${opts[@]}" show "$p=$v" >/dev/null 2>&1 \
        || { rm -rf "$S"; lane_die "Debian no longer offers $p $v ($arch); bump lane/arch.pin"; }
    fi
    (cd "$tmp" && apt-get "${opts[@]}" download -qq "$p=$v" >&2)
    got=$(sha256sum "$tmp"/"${p}"_*.deb | cut -d' ' -f1)
    [ "$got" = "$sum" ] || { rm -rf "$S"; lane_die "$p $v: SHA256 $got, lane/arch.pin pins $sum"; }
    dpkg -x "$tmp"/"${p}"_*.deb "$S/root"
  done
  rm -rf "$S/root/usr/share" "$S/root/usr/lib/debug" "$S/root"/usr/lib/jvm/*/{legal,man,docs}
  # the base initramfs has /lib as a directory (its modules): the interpreter's name there
  local ld; ld=$(cd "$S/root/usr/lib" && ls ld-linux-* | head -1)
  mkdir -p "$S/root/lib" && ln -s "/usr/lib/$ld" "$S/root/lib/$ld"
  (cd "$S/root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet) > "$C/jre.cpio"
  rm -rf "$S"
  echo "$RECIPE $A_JRE_DEBS" > "$C/jre.ready"
  lane_log "JRE for $arch ($(du -m "$C/jre.cpio" | cut -f1) MB initramfs part) in $(lane_since "$t") s"
}

# run_cross_diff (from lane/run, with ARCH, BUILD, SCRIPTS, PINS, RUN set): the differential test of the
# architecture's model against its KVM. Exit status: 0 every difference pinned, 1 a difference or stale
# pin, 2 usage or prepare error, 3 the nested host failed.
run_cross_diff() {
  local device T0 t
  case $ARCH in
    riscv64) device=riscv-vector ;;
    arm64) device=its ;;
  esac
  [ "$(id -u)" = 0 ] || lane_die "the lane needs root (apt-get in prepare)"
  source "$LANE_REPO/tools/jdk.sh"
  T0=$(lane_now)
  "$LANE_DIR/prepare" --arch "$ARCH" || lane_die "lane/prepare --arch $ARCH failed (its messages are above)"
  local T_PREP; T_PREP=$(lane_since "$T0")
  lane_arch_vars "$ARCH"
  [ -f "$LANE_DIR/agent/$ARCH.c" ] || lane_die "no kernel agent for $ARCH yet (lane/agent/$ARCH.c)"
  local mods=runtime/models; [ "${JAVA_AGENT:-0}" = 1 ] && mods=runtime/models,runtime/kvm
  if [ "$BUILD" = 1 ]; then
    (cd "$LANE_REPO" && mvn -q -B -o -Dstyle.color=never compile -pl "$mods" -am >&2) \
      || (cd "$LANE_REPO" && mvn -q -B -Dstyle.color=never compile -pl "$mods" -am >&2) \
      || lane_die "mvn compile failed"
  fi
  local cp=$LANE_REPO/runtime/models/target/classes:$LANE_REPO/runtime/base/target/classes:$LANE_REPO/bindings/target/classes
  [ -d "$LANE_REPO/runtime/models/target/classes/dev/panavirt/replay/remote" ] || lane_die "models not compiled: pass --build"
  if [ ${#SCRIPTS[@]} = 0 ]; then
    SCRIPTS=("$LANE_REPO/examples/sessions/$device.pvs"
             "$LANE_REPO/runtime/tests/src/test/resources/dev/panavirt/replay/fuzz/ScriptFuzzTestInputs/scriptOnAModel/$device")
    local f
    for f in "$LANE_DIR/sessions/$device"/*.pvs; do [ -f "$f" ] && SCRIPTS+=("$f"); done
  fi
  PINS=${PINS:-$LANE_DIR/sessions/$device.pins}
  [ -f "$PINS" ] || lane_die "no pins file $PINS"
  RUN=${RUN:-$LANE_CACHE/$ARCH/runs/$(date +%Y%m%d-%H%M%S)-$$}
  mkdir -p "$RUN"; RUN=$(cd "$RUN" && pwd)
  { ls -1dt "$LANE_CACHE/$ARCH"/runs/*/ 2>/dev/null || true; } | tail -n +11 | xargs -r rm -rf
  local S=$RUN/stage
  rm -rf "$S" && mkdir -p "$S/lane"
  cp "$LANE_DIR/guest/init-cross" "$S/init" && chmod 755 "$S/init"
  # the calls: each script run on the model here, every call written down (KernelDiff calls)
  "$JAVA_HOME/bin/java" -cp "$cp" dev.panavirt.replay.remote.KernelDiff calls --device "$device" \
    --out "$S/lane/calls" "${SCRIPTS[@]}" || lane_die "KernelDiff calls failed"
  if [ "${JAVA_AGENT:-0}" = 1 ]; then
    # the Java agent (dev.panavirt.kvm.session.KernelAgent): the project's classes as they are, on the
    # guest's own JRE; --enable-native-access as on the x86 lane
    [ -n "$A_JAVA" ] || lane_die "no JRE for $ARCH (lane/arch.pin)"
    [ -d "$LANE_REPO/runtime/kvm/target/classes/dev/panavirt/kvm/session" ] || lane_die "kvm not compiled: pass --build"
    prepare_cross_jre "$ARCH"
    local m gcp=
    for m in bindings runtime/base runtime/sys runtime/models runtime/kvm; do
      mkdir -p "$S/lane/cp/${m##*/}" && cp -r "$LANE_REPO/$m/target/classes/." "$S/lane/cp/${m##*/}/"
      gcp=$gcp${gcp:+:}/lane/cp/${m##*/}
    done
    echo "set -- /bin/sh -c '$A_JAVA -XX:TieredStopAtLevel=1 --enable-native-access=ALL-UNNAMED -cp $gcp dev.panavirt.kvm.session.KernelAgent < calls'" > "$S/lane/job"
    export LANE_MEM=${LANE_MEM:-2G}
    # HotSpot refuses QEMU's default Sv57 on riscv64 ("Unsupported satp mode"): the kernel stays at Sv48
    [ "$ARCH" = riscv64 ] && export LANE_APPEND="no5lvl ${LANE_APPEND:-}"
    lane_log "Java agent staged; $(grep -c '^session ' "$S/lane/calls") sessions, $(grep -vc '^session ' "$S/lane/calls") calls"
  else
  # the agent, static, for the guest's architecture; its guest code needs the vector extension on riscv64
  t=$(lane_now)
  local objs=() src
  for src in "$LANE_DIR/agent/agent.c" "$LANE_DIR/agent/$ARCH.c" "$LANE_DIR/agent/guest-$ARCH.S"; do
    [ -f "$src" ] || continue
    local march=(); [ "$ARCH" = riscv64 ] && { march=(-march=rv64gc); case $src in *.S) march=(-march=rv64gcv) ;; esac; }
    "$A_CC" -O2 -Wall -Wextra "${march[@]}" -c -o "$S/$(basename "$src").o" "$src" || lane_die "compiling $src failed"
    objs+=("$S/$(basename "$src").o")
  done
  "$A_CC" -static -o "$S/lane/agent" "${objs[@]}" || lane_die "linking the agent failed"
  rm -f "${objs[@]}"
  lane_log "agent built in $(lane_since "$t") s; $(grep -c '^session ' "$S/lane/calls") sessions, $(grep -vc '^session ' "$S/lane/calls") calls"
  echo 'set -- /bin/sh -c "./agent < calls"' > "$S/lane/job"
  fi
  (cd "$S" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet) > "$RUN/run.cpio"
  [ "${JAVA_AGENT:-0}" = 1 ] && cat "$LANE_CACHE/$ARCH/$A_ABI/jre.cpio" >> "$RUN/run.cpio"
  cp "$S/lane/calls" "$RUN/calls"
  rm -rf "$S"
  local T_STAGE; T_STAGE=$(lane_since "$T0")
  [ "${LANE_QUIET:-0}" = 1 ] || lane_log "booting ($ARCH $A_ABI, run dir $RUN)"
  local rc=0
  LANE_ARCH=$ARCH setpriv --pdeathsig KILL -- "$LANE_DIR/boot" "$RUN" || rc=$?
  [ -f "$RUN/timings" ] && source "$RUN/timings"
  if [ $rc = 3 ] || ! [ -s "$RUN/out/stdout" ]; then
    [ -s "$RUN/out/stderr" ] && sed 's/^/agent| /' "$RUN/out/stderr" >&2
    lane_log "the nested host gave no transcript (boot status $rc)"; exit 3
  fi
  cp "$RUN/out/stdout" "$RUN/transcript"
  [ -s "$RUN/out/stderr" ] && sed 's/^/agent| /' "$RUN/out/stderr" >&2
  local T_BOOT; T_BOOT=$(lane_since "$T0")
  rc=0
  "$JAVA_HOME/bin/java" -cp "$cp" dev.panavirt.replay.remote.KernelDiff compare --device "$device" \
    --transcript "$RUN/transcript" --pins "$PINS" "${SCRIPTS[@]}" > "$RUN/report" || rc=$?
  cat "$RUN/report"
  printf 'lane: timings (s): prepare %s | calls + agent %s | qemu %s (kernel to /init %s, agent %s) | compare %s | total wall %s\n' \
    "$T_PREP" "$(awk -v a="$T_PREP" -v b="$T_STAGE" 'BEGIN { printf "%.2f", b - a }')" "${t_wall:-?}" "${t_init:-?}" \
    "$(awk -v a="${t_java:-0}" -v b="${t_java_end:-0}" 'BEGIN { printf "%.2f", b - a }')" \
    "$(awk -v a="$T_BOOT" -v b="$(lane_since "$T0")" 'BEGIN { printf "%.2f", b - a }')" "$(lane_since "$T0")" | tee "$RUN/summary" >&2
  [ $rc = 0 ] && exit 0
  [ $rc = 1 ] && exit 1
  lane_die "KernelDiff compare failed (status $rc)"
}
