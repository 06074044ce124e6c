/**
 * Legacy PC devices: the 16550 UART, QEMU's isa-debug-exit, fw_cfg and pc-testdev (ports and its MMIO IORAM),
 * system control port A (0x92), and the 8259 PIC mask registers that a guest probes before the in-kernel irqchip
 * takes over.
 */
package dev.panavirt.vmm.legacy;
