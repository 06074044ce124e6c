/**
 * The x86 machine: guest images (flat, ELF, multiboot), boot state, the ucall protocol of
 * {@code panavirt_guest.h}, and {@link dev.panavirt.machine.Machine}, which wires the buses and legacy devices
 * and runs the vCPUs.
 */
package dev.panavirt.machine;
