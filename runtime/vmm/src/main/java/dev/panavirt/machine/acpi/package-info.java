/**
 * ACPI tables for the x86 machine: a hardware-reduced platform whose MADT describes the vCPUs' local APICs, the
 * IOAPIC and the timer's interrupt override, and whose DSDT declares the virtio-mmio devices, with the small AML
 * encoder that DSDT needs. {@link dev.panavirt.machine.acpi.AcpiTables} builds and places them; nothing here
 * touches a VM except {@code writeTo}, which copies them into guest memory.
 */
package dev.panavirt.machine.acpi;
