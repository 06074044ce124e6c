/**
 * A software model of KVM's GICv3 ITS ({@code KVM_DEV_TYPE_ARM_VGIC_ITS}) for hosts without an arm64 KVM:
 * {@link dev.panavirt.models.gicv3.Vgic} is the VM-wide state (guest memory, vCPUs and their
 * redistributor view, LPIs, {@code KVM_SIGNAL_MSI}); {@link dev.panavirt.models.gicv3.ItsDevice} is one
 * ITS with its device attributes and MMIO frame; {@link dev.panavirt.replay.targets.ItsSessionTarget} drives
 * it from scripted sessions. Guest memory is reached through {@link dev.panavirt.base.GuestRam},
 * with a heap implementation for tests and an adapter over a real VM's memory.
 *
 * <p>Behaviour follows the kernel's {@code arch/arm64/kvm/vgic/vgic-its.c} (with {@code vgic-kvm-device.c},
 * {@code vgic-mmio.c} and {@code Documentation/virt/kvm/devices/arm-vgic-its.rst}), errno for errno. Plain
 * Java: no FFM calls, and no allocation on the steady command and MSI paths.
 */
package dev.panavirt.models.gicv3;
