/**
 * Legacy PC devices on the I/O-port bus: the 16550 UART, QEMU's isa-debug-exit and fw_cfg, and the 8259 PIC
 * mask registers that a guest probes before the in-kernel irqchip takes over.
 */
package dev.panavirt.vmm.legacy;
