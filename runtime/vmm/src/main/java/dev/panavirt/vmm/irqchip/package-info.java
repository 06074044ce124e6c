/**
 * Interrupt controllers for a VM from the host kernel when its KVM offers the device type, otherwise from
 * panavirt's models, behind one {@link dev.panavirt.base.DeviceAttributes} interface.
 */
package dev.panavirt.vmm.irqchip;
