# Sourced by ./panavirt and ./run-tests: where KVM is used, from a choice of local, nested or auto.
# auto is the nested host (lane/README.md) exactly when this host has no /dev/kvm.
panavirt_kvm_where() {  # prints local or nested for the choice $1; returns 1 for anything else
  case $1 in
    local|nested) echo "$1" ;;
    auto) if [ -e /dev/kvm ]; then echo local; else echo nested; fi ;;
    *) return 1 ;;
  esac
}

# Whether this host's KVM runs on hardware virtualization (kvm_amd or kvm_intel loaded), as the tests
# tagged kvm-hw need; the paravirtual KVM (kvm_pvm) does not. Same rule as dev.panavirt.kvm.KvmFlavour.
panavirt_kvm_hardware() {
  [ -e /dev/kvm ] && { [ -d /sys/module/kvm_amd ] || [ -d /sys/module/kvm_intel ]; }
}
