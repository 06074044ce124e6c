/**
 * The guest test kit: compiles small C guests with the host's gcc against {@code panavirt_guest.h} and runs
 * them on one vCPU, turning their ucalls into host-side results ({@code AssertionError} for a failed guest
 * assertion). Tests and users depend on it explicitly; nothing in the runtime does.
 */
module dev.panavirt.testkit {
    requires transitive dev.panavirt.vmm;

    exports dev.panavirt.testkit;
}
