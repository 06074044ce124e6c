/**
 * Versioned binary records of x86 KVM state, for snapshots and migration: {@link
 * dev.panavirt.kvm.state.X86VcpuState} (one vCPU), {@link dev.panavirt.kvm.state.X86VmState} (kvmclock,
 * in-kernel irqchip and PIT) and {@link dev.panavirt.kvm.state.X86MachineState} (both, with the restore order).
 *
 * <p>Every record shares one framing, little-endian: an 8-byte ASCII magic naming the record kind, a u16 version,
 * a u16 of flags (0), a u32 section count, then that many sections of a u32 tag (four ASCII characters), a u32
 * length and the bytes. Decoding checks each length against the input before reading and refuses an unknown
 * version or tag, a repeated or missing section, a wrong size or trailing bytes with a
 * {@link dev.panavirt.kvm.state.StateFormatException}. Structs are stored in the uapi layout of
 * {@code asm/kvm.h}, which is kernel ABI: a record moves between x86-64 hosts.
 */
package dev.panavirt.kvm.state;
