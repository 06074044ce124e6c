package dev.panavirt.vmm;

/**
 * Outcome of emulating one I/O exit. Both values mean the vCPU carries on: an unmapped access is a guest fault
 * the VMM absorbs (reads see zeros), not a reason to stop.
 */
public enum Emulation {
    /** A device handled every access of the exit. */
    HANDLED,
    /** At least one access hit no device; reads were answered with zeros and writes dropped. */
    UNMAPPED
}
