/**
 * Hypervisor-neutral device plumbing for the VMM: address buses that route guest port and MMIO accesses to
 * device models, the exit dispatcher that turns a vCPU's I/O exit into bus accesses, and small legacy devices
 * (a 16550A UART and an isa-debug-exit port).
 *
 * <p>Nothing here calls the kernel: the classes work on plain arguments and {@link java.lang.foreign.MemorySegment}
 * windows, so the KVM run loop (or a test) feeds them whatever exit data it has. The access path
 * ({@link dev.panavirt.vmm.Bus#read}, {@link dev.panavirt.vmm.Bus#write}, {@link dev.panavirt.vmm.ExitDispatcher})
 * allocates nothing once warmed up.
 *
 * <p>Guest-caused faults (accesses to unmapped addresses) are never thrown: they are counted, logged a
 * bounded number of times, and reads return zeros.
 */
package dev.panavirt.vmm;
