/**
 * PCI for the small machine: a host bridge with configuration mechanism #1 ({@link PciHostBridge}), type-0
 * configuration headers with BARs that follow the guest's writes ({@link PciFunction}), and QEMU's
 * {@code pci-testdev} ({@link PciTestdev}).
 */
package dev.panavirt.vmm.pci;
