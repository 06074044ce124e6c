package dev.panavirt.machine.acpi;

import dev.panavirt.kvm.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The ACPI tables that describe panavirt's x86 machine to an operating system: a hardware-reduced ACPI platform
 * (ACPI 6.5, section 4.1 "Hardware-Reduced ACPI") without fixed-feature hardware, SCI or PM timer, as the
 * minimal VMMs present theirs.
 *
 * <ul>
 *   <li><b>RSDP</b> (section 5.2.5, revision 2): both checksums, the XSDT's address; no RSDT.</li>
 *   <li><b>XSDT</b> (5.2.8): the FADT and the MADT.</li>
 *   <li><b>FADT</b> (5.2.9, revision 6.5, 276 bytes): HW_REDUCED_ACPI; no fixed power or sleep button; the
 *   reset register is I/O port 0x64 with value 0xfe, the keyboard controller's pulse-reset command, so Linux's
 *   ACPI reboot (drivers/acpi/reboot.c, {@code acpi_reboot}) ends the run the way its keyboard-controller
 *   fallback does; IA-PC boot flags: legacy ISA devices present (COM1), no 8042 (so Linux's i8042 driver leaves
 *   the reset-only stub alone), no VGA, no CMOS RTC (this machine has none). MSI is not declared absent: KVM's
 *   in-kernel local APICs take MSI writes, only no device uses them yet. X_DSDT points at the DSDT.</li>
 *   <li><b>MADT</b> (5.2.12, revision 5): local APIC address 0xfee00000, PCAT_COMPAT (KVM's in-kernel irqchip
 *   has the dual 8259 too); one enabled Processor Local APIC per vCPU (ACPI processor UID and APIC ID = vCPU id,
 *   the APIC ID KVM gives each vCPU); one I/O APIC (ID 0, as KVM's IOAPIC reports it, at 0xfec00000, GSI base
 *   0, 24 pins); the interrupt source override ISA IRQ 0 -> GSI 2, edge, active-high, the PIT's route in
 *   panavirt's KVM routing (the other ISA IRQs are identity-mapped, ACPI's default); and LINT1 of every local
 *   APIC as NMI, as on a PC.</li>
 *   <li><b>DSDT</b> (5.2.11.1, revision 2): under {@code \_SB_}, {@code COM1}: {@code _HID EisaId("PNP0501")},
 *   {@code _CRS} = {@code IO(Decode16, 0x3f8, 0x3f8, 1, 8)} and {@code Interrupt(...) {4}}. Linux's 8250 PNP
 *   driver takes the UART from there with its interrupt mapped through ACPI. The legacy probe's fixed IRQ 4 would
 *   not do: with the 8259 bypassed Linux sets up no legacy IRQs (arch/x86/kernel/apic/vector.c,
 *   {@code arch_probe_nr_irqs} returns the null PIC's count, 0). Then one device per virtio-mmio slot, named
 *   {@code VRnn} (nn the slot's index in hex), with {@code _HID "LNRO0005"} (the ACPI id Linux's
 *   drivers/virtio/virtio_mmio.c matches), {@code _UID} the index, and {@code _CRS} =
 *   {@code Memory32Fixed(ReadWrite, base, size)} and {@code Interrupt(ResourceConsumer, Edge, ActiveHigh,
 *   Exclusive) {gsi}}. Linux enumerates each as a platform device (drivers/acpi/acpi_platform.c).</li>
 * </ul>
 *
 * <p>Hardware-reduced ACPI makes Linux skip the legacy timer set-up and the 8259 (arch/x86/kernel/acpi/boot.c,
 * {@code acpi_generic_reduced_hw_init}): interrupts go through the IOAPIC, timekeeping through the local APIC
 * timer and kvmclock. There is no PCI host bridge in the DSDT, so Linux scans no PCI bus.
 *
 * <p>Placement: {@link #place} lays the tables out for given addresses without a VM; {@link #writeTo} copies
 * them into guest memory. The RSDP goes 16-byte aligned inside the BIOS area 0xe0000-0xfffff, where Linux finds
 * it without being told (ACPICA's {@code acpi_find_root_pointer}, the legacy scan); a boot loader may also pass
 * its address in {@code boot_params.acpi_rsdp_addr}. The other tables follow one another, 8-byte aligned, from
 * the tables address; the returned layout names the bytes used so the memory map can reserve them.
 */
public final class AcpiTables {
    /** The local APICs' MMIO base (the architectural default). */
    public static final long LOCAL_APIC_ADDRESS = 0xfee0_0000L;
    /** KVM's in-kernel IOAPIC's MMIO base (the PC default). */
    public static final long IOAPIC_ADDRESS = 0xfec0_0000L;
    /** The pins of KVM's in-kernel IOAPIC, GSIs 0-23. */
    public static final int IOAPIC_PINS = 24;
    /** The legacy scan's window for the RSDP: the BIOS read-only area. */
    public static final long BIOS_AREA_START = 0xe0000, BIOS_AREA_END = 0x100000;
    /** The ACPI id of a virtio-mmio device (drivers/virtio/virtio_mmio.c, {@code virtio_mmio_acpi_match}). */
    public static final String VIRTIO_MMIO_HID = "LNRO0005";
    /** COM1's PNP id (a 16550-compatible UART), its ports 0x3f8-0x3ff and its interrupt, ISA IRQ 4. */
    public static final String COM1_HID = "PNP0501";
    /** COM1's first port. */
    public static final int COM1_PORT = 0x3f8;
    /** COM1's GSI: ISA IRQ 4, identity-mapped. */
    public static final int COM1_GSI = 4;
    /** Bytes of the RSDP, revision 2. */
    public static final int RSDP_LENGTH = 36;
    /** Bytes of an FADT of revision 6. */
    public static final int FADT_LENGTH = 276;

    static final String OEM_ID = "PNVIRT", OEM_TABLE_ID = "PANAVIRT", CREATOR_ID = "PNVT";
    static final int HEADER_LENGTH = 36;

    // FADT fields (section 5.2.9, table 5.9), as offsets from the table's start.
    static final int FADT_DSDT = 40, FADT_IAPC_BOOT_ARCH = 109, FADT_FLAGS = 112, FADT_RESET_REG = 116,
            FADT_RESET_VALUE = 128, FADT_MINOR_VERSION = 131, FADT_X_DSDT = 140, FADT_HYPERVISOR_VENDOR = 268;
    // IAPC_BOOT_ARCH bits (table 5.11).
    static final int BOOT_LEGACY_DEVICES = 1, BOOT_8042 = 1 << 1, BOOT_VGA_NOT_PRESENT = 1 << 2,
            BOOT_MSI_NOT_SUPPORTED = 1 << 3, BOOT_CMOS_RTC_NOT_PRESENT = 1 << 5;
    // Fixed ACPI description flags (table 5.10).
    static final int FLAG_PWR_BUTTON = 1 << 4, FLAG_SLP_BUTTON = 1 << 5, FLAG_RESET_REG_SUP = 1 << 10,
            FLAG_HW_REDUCED_ACPI = 1 << 20;
    /** The keyboard controller's command port and its pulse-reset command. */
    static final int RESET_PORT = 0x64, RESET_VALUE = 0xfe;
    /** Generic Address Structure address space: system I/O (table 5.1). */
    static final int GAS_SYSTEM_IO = 1;

    // MADT (section 5.2.12): flags and structure types.
    static final int MADT_PCAT_COMPAT = 1;
    static final int MADT_LOCAL_APIC = 0, MADT_IO_APIC = 1, MADT_INTERRUPT_OVERRIDE = 2, MADT_LOCAL_APIC_NMI = 4;
    static final int LOCAL_APIC_ENABLED = 1;
    /** MPS INTI flags: polarity active-high (bits 1-0 = 01), trigger edge (bits 3-2 = 01). */
    static final int INTI_EDGE_ACTIVE_HIGH = 0b0101;
    /** The PIT's ISA IRQ and the GSI (IOAPIC pin) it reaches, as panavirt routes it. */
    static final int TIMER_IRQ = 0, TIMER_GSI = 2;
    /** A Local APIC NMI structure's processor UID meaning "all processors". */
    static final int ALL_PROCESSORS = 0xff;
    /** The highest vCPU count an xAPIC MADT describes: APIC IDs 0-254 (0xff is the broadcast ID). */
    public static final int MAX_VCPUS = 255;

    private final int vcpus;
    private final List<VirtioMmioSlot> slots;
    private final byte[] madt;
    private final byte[] dsdt;

    private AcpiTables(int vcpus, List<VirtioMmioSlot> slots) {
        this.vcpus = vcpus;
        this.slots = slots;
        this.madt = buildMadt(vcpus);
        this.dsdt = buildDsdt(slots);
    }

    /**
     * The tables for a machine of {@code vcpus} vCPUs (APIC IDs 0 to vcpus-1) and these virtio-mmio slots.
     *
     * @throws IllegalArgumentException when {@code vcpus} is outside 1-{@value #MAX_VCPUS}, two slots overlap or
     *     share a GSI, a slot covers the IOAPIC or local APIC page, or a slot takes GSI 0, 2 (pin 2 is the
     *     PIT's, and no KVM route leads to pin 0) or 4 (COM1's)
     */
    public static AcpiTables forMachine(int vcpus, List<VirtioMmioSlot> slots) {
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("an xAPIC MADT describes 1-" + MAX_VCPUS + " vCPUs, not " + vcpus);
        }
        List<VirtioMmioSlot> copy = List.copyOf(slots);
        for (int i = 0; i < copy.size(); i++) {
            VirtioMmioSlot s = copy.get(i);
            if (s.gsi() == 0 || s.gsi() == TIMER_GSI) {
                throw new IllegalArgumentException("virtio-mmio slot " + i + ": GSI " + s.gsi()
                        + " is the timer's (ISA IRQ 0 reaches IOAPIC pin 2; pin 0 has no route)");
            }
            if (s.gsi() == COM1_GSI) {
                throw new IllegalArgumentException("virtio-mmio slot " + i + ": GSI 4 is COM1's");
            }
            for (long page : new long[] {IOAPIC_ADDRESS, LOCAL_APIC_ADDRESS}) {
                if (overlaps(s.base(), s.size(), page, 0x1000)) {
                    throw new IllegalArgumentException("virtio-mmio slot " + i + " covers the APIC page 0x"
                            + Long.toHexString(page));
                }
            }
            for (int j = 0; j < i; j++) {
                VirtioMmioSlot t = copy.get(j);
                if (overlaps(s.base(), s.size(), t.base(), t.size())) {
                    throw new IllegalArgumentException("virtio-mmio slots " + j + " and " + i + " overlap");
                }
                if (s.gsi() == t.gsi()) {
                    throw new IllegalArgumentException("virtio-mmio slots " + j + " and " + i + " share GSI "
                            + s.gsi() + " (their interrupts are exclusive)");
                }
            }
        }
        return new AcpiTables(vcpus, copy);
    }

    /** The vCPUs the MADT lists. */
    public int vcpus() {
        return vcpus;
    }

    /** The virtio-mmio slots the DSDT declares, in order: slot i is device {@code \_SB_.VRnn}, nn = i in hex. */
    public List<VirtioMmioSlot> slots() {
        return slots;
    }

    /**
     * Where the tables went.
     *
     * @param rsdpAddress the RSDP's guest-physical address ({@link #RSDP_LENGTH} bytes)
     * @param tablesAddress the first byte of the other tables
     * @param tablesEnd one past their last byte
     * @param tables each table's address by signature: XSDT, FACP (the FADT), APIC (the MADT), DSDT
     */
    public record Layout(long rsdpAddress, long tablesAddress, long tablesEnd, Map<String, Long> tables) {
        /** Copies the map. */
        public Layout {
            tables = Map.copyOf(tables);
        }

        /** The lowest address used, RSDP included. */
        public long start() {
            return Math.min(rsdpAddress, tablesAddress);
        }

        /** One past the highest address used, RSDP included. */
        public long end() {
            return Math.max(rsdpAddress + RSDP_LENGTH, tablesEnd);
        }
    }

    /**
     * The tables laid out for these addresses, as bytes to copy into guest memory.
     *
     * @param layout where each part goes
     * @param rsdp the RSDP's bytes, for {@link Layout#rsdpAddress()}
     * @param tables the other tables' bytes, for {@link Layout#tablesAddress()}
     */
    public record Image(Layout layout, byte[] rsdp, byte[] tables) {}

    /**
     * Lays the tables out with the RSDP at {@code rsdpAddress} and the others from {@code tablesAddress}.
     *
     * @throws IllegalArgumentException when the RSDP is not 16-byte aligned inside the BIOS area, the tables
     *     address is not 8-byte aligned or the tables would not end below 4 GiB, or the two overlap
     */
    public Image place(long rsdpAddress, long tablesAddress) {
        if (rsdpAddress % 16 != 0 || rsdpAddress < BIOS_AREA_START || rsdpAddress + RSDP_LENGTH > BIOS_AREA_END) {
            throw new IllegalArgumentException("the RSDP goes 16-byte aligned inside 0xe0000-0xfffff (where the "
                    + "legacy scan finds it), not at 0x" + Long.toHexString(rsdpAddress));
        }
        long xsdtAt = tablesAddress;
        long fadtAt = align8(xsdtAt + HEADER_LENGTH + 2 * 8);
        long madtAt = align8(fadtAt + FADT_LENGTH);
        long dsdtAt = align8(madtAt + madt.length);
        long end = dsdtAt + dsdt.length;
        if (tablesAddress % 8 != 0 || tablesAddress < 0 || end > 1L << 32) {
            throw new IllegalArgumentException("the ACPI tables go 8-byte aligned below 4 GiB, not at 0x"
                    + Long.toHexString(tablesAddress));
        }
        if (overlaps(rsdpAddress, RSDP_LENGTH, tablesAddress, end - tablesAddress)) {
            throw new IllegalArgumentException("the RSDP at 0x" + Long.toHexString(rsdpAddress)
                    + " overlaps the tables at 0x" + Long.toHexString(tablesAddress) + "-0x" + Long.toHexString(end));
        }
        byte[] out = new byte[(int) (end - tablesAddress)];
        put(out, xsdtAt - tablesAddress, buildXsdt(fadtAt, madtAt));
        put(out, fadtAt - tablesAddress, buildFadt(dsdtAt));
        put(out, madtAt - tablesAddress, madt);
        put(out, dsdtAt - tablesAddress, dsdt);
        Layout layout = new Layout(rsdpAddress, tablesAddress, end,
                Map.of("XSDT", xsdtAt, "FACP", fadtAt, "APIC", madtAt, "DSDT", dsdtAt));
        return new Image(layout, buildRsdp(xsdtAt), out);
    }

    /**
     * Writes the tables into guest memory: the RSDP at {@code rsdpAddress}, the others from {@code tablesAddress}
     * (see {@link #place} for the rules on both).
     *
     * @return where they went, for the memory map (e820 type "ACPI reclaimable" or "reserved")
     * @throws IndexOutOfBoundsException when guest RAM does not hold one of the two ranges; nothing is written then
     */
    public Layout writeTo(GuestMemory memory, long rsdpAddress, long tablesAddress) {
        Image image = place(rsdpAddress, tablesAddress);
        memory.slice(tablesAddress, image.tables().length);     // both ranges checked before either is written
        memory.write(rsdpAddress, image.rsdp());
        memory.write(tablesAddress, image.tables());
        return image.layout();
    }

    // --- the tables ---

    /** RSDP revision 2 (section 5.2.5.3): checksum over the first 20 bytes, extended checksum over all 36. */
    static byte[] buildRsdp(long xsdtAddress) {
        ByteBuffer b = le(RSDP_LENGTH);
        b.put(ascii("RSD PTR ", 8));
        b.put((byte) 0);                 // checksum, below
        b.put(ascii(OEM_ID, 6));
        b.put((byte) 2);                 // revision: ACPI 2.0 and later
        b.putInt(0);                     // RsdtAddress: none, the XSDT serves
        b.putInt(RSDP_LENGTH);
        b.putLong(xsdtAddress);
        b.put((byte) 0);                 // extended checksum, below
        byte[] out = b.array();
        out[8] = (byte) -Aml.sum(out, 0, 20);
        out[32] = (byte) -Aml.sum(out, 0, RSDP_LENGTH);
        return out;
    }

    static byte[] buildXsdt(long... entries) {
        ByteBuffer body = le(8 * entries.length);
        for (long e : entries) {
            body.putLong(e);
        }
        return table("XSDT", 1, body.array());
    }

    static byte[] buildFadt(long dsdtAddress) {
        byte[] out = new byte[FADT_LENGTH];
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        // Hardware-reduced: no FACS, SCI, SMI command port, PM blocks or GPE blocks (all zero).
        b.putShort(FADT_IAPC_BOOT_ARCH,
                (short) (BOOT_LEGACY_DEVICES | BOOT_VGA_NOT_PRESENT | BOOT_CMOS_RTC_NOT_PRESENT));
        b.putInt(FADT_FLAGS, FLAG_HW_REDUCED_ACPI | FLAG_RESET_REG_SUP | FLAG_PWR_BUTTON | FLAG_SLP_BUTTON);
        putGas(b, FADT_RESET_REG, GAS_SYSTEM_IO, 8, 1, RESET_PORT);
        b.put(FADT_RESET_VALUE, (byte) RESET_VALUE);
        b.put(FADT_MINOR_VERSION, (byte) 5);
        b.putLong(FADT_X_DSDT, dsdtAddress);
        b.put(FADT_HYPERVISOR_VENDOR, ascii(OEM_TABLE_ID, 8));
        return finish(out, "FACP", 6);
    }

    static byte[] buildMadt(int vcpus) {
        ByteBuffer b = le(8 + 8 * vcpus + 12 + 10 + 6);
        b.putInt((int) LOCAL_APIC_ADDRESS);
        b.putInt(MADT_PCAT_COMPAT);
        for (int id = 0; id < vcpus; id++) {
            b.put((byte) MADT_LOCAL_APIC).put((byte) 8).put((byte) id).put((byte) id).putInt(LOCAL_APIC_ENABLED);
        }
        b.put((byte) MADT_IO_APIC).put((byte) 12).put((byte) 0).put((byte) 0);
        b.putInt((int) IOAPIC_ADDRESS).putInt(0);
        b.put((byte) MADT_INTERRUPT_OVERRIDE).put((byte) 10).put((byte) 0).put((byte) TIMER_IRQ);
        b.putInt(TIMER_GSI).putShort((short) INTI_EDGE_ACTIVE_HIGH);
        b.put((byte) MADT_LOCAL_APIC_NMI).put((byte) 6).put((byte) ALL_PROCESSORS);
        b.putShort((short) 0).put((byte) 1);   // flags: conforming to the bus; LINT1
        return table("APIC", 5, b.array());
    }

    static byte[] buildDsdt(List<VirtioMmioSlot> slots) {
        List<byte[]> devices = new ArrayList<>();
        devices.add(Aml.device("COM1",
                Aml.name("_HID", Aml.eisaId(COM1_HID)),
                Aml.name("_UID", Aml.integer(1)),
                Aml.name("_CRS", Aml.resourceTemplate(
                        Aml.ioPort(COM1_PORT, 8),
                        Aml.edgeInterrupt(COM1_GSI)))));
        for (int i = 0; i < slots.size(); i++) {
            VirtioMmioSlot s = slots.get(i);
            devices.add(Aml.device(deviceName(i),
                    Aml.name("_HID", Aml.string(VIRTIO_MMIO_HID)),
                    Aml.name("_UID", Aml.integer(i)),
                    Aml.name("_CRS", Aml.resourceTemplate(
                            Aml.memory32Fixed(true, s.base(), s.size()),
                            Aml.edgeInterrupt(s.gsi())))));
        }
        return table("DSDT", 2, Aml.scope("\\_SB_", devices.toArray(byte[][]::new)));
    }

    /** The DSDT name of slot {@code index}: VR00-VRFF. */
    static String deviceName(int index) {
        if (index < 0 || index > 0xff) {
            throw new IllegalArgumentException("the DSDT names 256 virtio-mmio slots, not " + (index + 1));
        }
        return String.format("VR%02X", index);
    }

    // --- helpers ---

    /** A table: the 36-byte header (section 5.2.6) before {@code body}, length and checksum filled in. */
    static byte[] table(String signature, int revision, byte[] body) {
        byte[] out = new byte[HEADER_LENGTH + body.length];
        System.arraycopy(body, 0, out, HEADER_LENGTH, body.length);
        return finish(out, signature, revision);
    }

    /** Fills the header of {@code out}, whose body is in place, and makes the whole table sum to zero. */
    private static byte[] finish(byte[] out, String signature, int revision) {
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, ascii(signature, 4));
        b.putInt(4, out.length);
        b.put(8, (byte) revision);
        b.put(9, (byte) 0);
        b.put(10, ascii(OEM_ID, 6));
        b.put(16, ascii(OEM_TABLE_ID, 8));
        b.putInt(24, 1);                 // OEM revision
        b.put(28, ascii(CREATOR_ID, 4));
        b.putInt(32, 1);                 // creator revision
        out[9] = (byte) -Aml.sum(out, 0, out.length);
        return out;
    }

    /** A Generic Address Structure (section 5.2.3.2): space, bit width, bit offset 0, access size, address. */
    private static void putGas(ByteBuffer b, int at, int space, int bitWidth, int accessSize, long address) {
        b.put(at, (byte) space).put(at + 1, (byte) bitWidth).put(at + 2, (byte) 0).put(at + 3, (byte) accessSize);
        b.putLong(at + 4, address);
    }

    private static byte[] ascii(String s, int length) {
        byte[] bytes = s.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length != length) {
            throw new IllegalArgumentException("'" + s + "' is not " + length + " characters");
        }
        return bytes;
    }

    private static ByteBuffer le(int length) {
        return ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void put(byte[] out, long at, byte[] part) {
        System.arraycopy(part, 0, out, (int) at, part.length);
    }

    private static long align8(long v) {
        return (v + 7) & ~7L;
    }

    private static boolean overlaps(long a, long aLength, long b, long bLength) {
        return a < b + bLength && b < a + aLength;
    }
}
