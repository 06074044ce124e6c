# Sourced by ./panavirt and ./run-tests: where KVM is used, from a choice of local, nested or auto.
# auto is the nested host (lane/README.md) exactly when this host has no /dev/kvm.
panavirt_kvm_where() {  # prints local or nested for the choice $1; returns 1 for anything else
  case $1 in
    local|nested) echo "$1" ;;
    auto) if [ -e /dev/kvm ]; then echo local; else echo nested; fi ;;
    *) return 1 ;;
  esac
}
