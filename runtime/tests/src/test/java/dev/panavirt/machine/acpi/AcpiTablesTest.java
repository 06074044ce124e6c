package dev.panavirt.machine.acpi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The tables as a guest reads them, from the placed bytes and without a VM: the signatures, lengths and
 * checksums the kernel verifies (drivers/acpi/acpica/tbprint.c, tbutils.c), field offsets from ACPI 6.5
 * chapter 5, and the DSDT decoded back into its devices and resources.
 */
class AcpiTablesTest {
    static final long RSDP = 0xf0000, TABLES = 0xf0040;
    static final List<VirtioMmioSlot> SLOTS = List.of(new VirtioMmioSlot(0xd000_0000L, 0x1000, 5),
            new VirtioMmioSlot(0xd000_1000L, 0x1000, 6), new VirtioMmioSlot(0xd001_0000L, 0x2000, 23));

    /** The placed image, addressed by guest-physical address. */
    record Guest(AcpiTables.Image image) {
        ByteBuffer at(long gpa, int length) {
            long t = image.layout().tablesAddress();
            byte[] src;
            int off;
            if (gpa >= t && gpa + length <= image.layout().tablesEnd()) {
                src = image.tables();
                off = (int) (gpa - t);
            } else if (gpa == image.layout().rsdpAddress() && length <= AcpiTables.RSDP_LENGTH) {
                src = image.rsdp();
                off = 0;
            } else {
                throw new AssertionError("nothing placed at 0x" + Long.toHexString(gpa) + "+" + length);
            }
            return ByteBuffer.wrap(Arrays.copyOfRange(src, off, off + length)).order(ByteOrder.LITTLE_ENDIAN);
        }

        /** A whole table at {@code gpa}, its length read from its header. */
        byte[] table(long gpa) {
            int length = at(gpa, 8).getInt(4);
            return at(gpa, length).array();
        }

        /** Follows RSDP -> XSDT to the table with this signature. */
        byte[] find(String signature) {
            ByteBuffer rsdp = at(image.layout().rsdpAddress(), AcpiTables.RSDP_LENGTH);
            byte[] xsdt = table(rsdp.getLong(24));
            ByteBuffer x = ByteBuffer.wrap(xsdt).order(ByteOrder.LITTLE_ENDIAN);
            for (int off = 36; off < xsdt.length; off += 8) {
                byte[] t = table(x.getLong(off));
                if (signature(t).equals(signature)) {
                    return t;
                }
            }
            throw new AssertionError("no " + signature + " in the XSDT");
        }
    }

    static Guest guest(int vcpus, List<VirtioMmioSlot> slots) {
        return new Guest(AcpiTables.forMachine(vcpus, slots).place(RSDP, TABLES));
    }

    static String signature(byte[] table) {
        return new String(table, 0, 4, StandardCharsets.US_ASCII);
    }

    static int sum(byte[] b, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) {
            s += b[i] & 0xff;
        }
        return s & 0xff;
    }

    static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void rsdpRevision2WithBothChecksums() {
        Guest g = guest(1, SLOTS);
        byte[] rsdp = g.image().rsdp();
        ByteBuffer b = le(rsdp);
        assertEquals(36, rsdp.length);
        assertEquals("RSD PTR ", new String(rsdp, 0, 8, StandardCharsets.US_ASCII));
        assertEquals(0, sum(rsdp, 0, 20), "the ACPI 1.0 checksum covers bytes 0-19");
        assertEquals(0, sum(rsdp, 0, 36), "the extended checksum covers all 36 bytes");
        assertEquals("PNVIRT", new String(rsdp, 9, 6, StandardCharsets.US_ASCII));
        assertEquals(2, rsdp[15]);
        assertEquals(0, b.getInt(16), "no RSDT");
        assertEquals(36, b.getInt(20));
        assertEquals(g.image().layout().tables().get("XSDT"), b.getLong(24));
        assertEquals(0, rsdp[33] | rsdp[34] | rsdp[35], "reserved bytes");
    }

    @Test
    void everyTableHasAValidHeaderAndSumsToZero() {
        Guest g = guest(2, SLOTS);
        for (String sig : List.of("XSDT", "FACP", "APIC", "DSDT")) {
            byte[] t = g.table(g.image().layout().tables().get(sig));
            assertEquals(sig, signature(t));
            assertEquals(t.length, le(t).getInt(4));
            assertEquals(0, sum(t, 0, t.length), sig + " checksum");
            assertEquals("PNVIRT", new String(t, 10, 6, StandardCharsets.US_ASCII), sig + " OEM ID");
            assertEquals("PANAVIRT", new String(t, 16, 8, StandardCharsets.US_ASCII), sig + " OEM table ID");
            assertEquals("PNVT", new String(t, 28, 4, StandardCharsets.US_ASCII), sig + " creator ID");
        }
        assertEquals(1, g.table(g.image().layout().tables().get("XSDT"))[8], "XSDT revision");
        assertEquals(6, g.find("FACP")[8], "FADT revision");
        assertEquals(5, g.find("APIC")[8], "MADT revision");
        assertEquals(2, g.table(g.image().layout().tables().get("DSDT"))[8], "DSDT revision 2: 64-bit integers");
    }

    @Test
    void theXsdtListsTheFadtAndTheMadt() {
        Guest g = guest(1, SLOTS);
        byte[] xsdt = g.table(le(g.image().rsdp()).getLong(24));
        assertEquals("XSDT", signature(xsdt));
        assertEquals(36 + 16, xsdt.length);
        ByteBuffer b = le(xsdt);
        assertEquals(g.image().layout().tables().get("FACP"), b.getLong(36));
        assertEquals(g.image().layout().tables().get("APIC"), b.getLong(44));
    }

    @Test
    void theFadtIsHardwareReducedWithTheKeyboardControllerReset() {
        Guest g = guest(1, SLOTS);
        byte[] fadt = g.find("FACP");
        ByteBuffer b = le(fadt);
        assertEquals(276, fadt.length, "FADT revision 6 is 276 bytes (ACPI 6.5 table 5.9)");
        assertEquals(5, fadt[131], "FADT minor version");
        assertEquals(0, b.getInt(36), "FIRMWARE_CTRL: no FACS");
        assertEquals(0, b.getInt(40), "the 32-bit DSDT address is left 0, X_DSDT serves");
        assertEquals(0, b.getShort(46), "SCI_INT: none in hardware-reduced mode");
        assertEquals(0, b.getInt(48), "SMI_CMD: none");
        for (int off = 56; off <= 84; off += 4) {
            assertEquals(0, b.getInt(off), "PM/GPE block at offset " + off);
        }
        int boot = b.getShort(109) & 0xffff;
        assertEquals(1 | 1 << 2 | 1 << 5, boot, "IAPC_BOOT_ARCH: legacy devices, no VGA, no CMOS RTC; no 8042");
        int flags = b.getInt(112);
        assertEquals(1 << 20 | 1 << 10 | 1 << 4 | 1 << 5, flags,
                "HW_REDUCED_ACPI, RESET_REG_SUP, PWR_BUTTON and SLP_BUTTON (no fixed-feature buttons)");
        // RESET_REG: GAS {SystemIO, 8 bits, offset 0, byte access, 0x64}; RESET_VALUE 0xfe
        assertEquals(1, fadt[116]);
        assertEquals(8, fadt[117]);
        assertEquals(0, fadt[118]);
        assertEquals(1, fadt[119]);
        assertEquals(0x64, b.getLong(120));
        assertEquals(0xfe, fadt[128] & 0xff);
        assertEquals(0, b.getLong(132), "X_FIRMWARE_CTRL");
        assertEquals(g.image().layout().tables().get("DSDT"), b.getLong(140), "X_DSDT");
        for (int off = 148; off < 268; off++) {
            assertEquals(0, fadt[off], "extended PM blocks and sleep registers are absent, offset " + off);
        }
        assertEquals("PANAVIRT", new String(fadt, 268, 8, StandardCharsets.US_ASCII), "hypervisor vendor");
    }

    /** The MADT's interrupt controller structures, decoded by type and length. */
    static List<byte[]> madtEntries(byte[] madt) {
        List<byte[]> out = new ArrayList<>();
        int off = 44;
        while (off < madt.length) {
            int len = madt[off + 1] & 0xff;
            assertTrue(len >= 2 && off + len <= madt.length, "entry at " + off + " of length " + len);
            out.add(Arrays.copyOfRange(madt, off, off + len));
            off += len;
        }
        assertEquals(madt.length, off, "entries fill the table exactly");
        return out;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 255})
    void theMadtListsEachVcpuTheIoapicTheTimerOverrideAndLint1(int vcpus) {
        byte[] madt = guest(vcpus, SLOTS).find("APIC");
        ByteBuffer b = le(madt);
        assertEquals(0xfee0_0000, b.getInt(36), "local APIC address");
        assertEquals(1, b.getInt(40), "PCAT_COMPAT");
        List<byte[]> entries = madtEntries(madt);
        assertEquals(vcpus + 3, entries.size());
        for (int id = 0; id < vcpus; id++) {
            byte[] e = entries.get(id);
            assertArrayEquals(new byte[] {0, 8, (byte) id, (byte) id, 1, 0, 0, 0}, e,
                    "Processor Local APIC for vCPU " + id + ": UID = APIC ID = vCPU id, enabled");
        }
        ByteBuffer ioapic = le(entries.get(vcpus));
        assertEquals(1, ioapic.get(0), "I/O APIC type");
        assertEquals(12, ioapic.get(1));
        assertEquals(0, ioapic.get(2), "IOAPIC id 0, as KVM's IOAPIC reports it");
        assertEquals(0xfec0_0000, ioapic.getInt(4));
        assertEquals(0, ioapic.getInt(8), "GSI base");
        ByteBuffer iso = le(entries.get(vcpus + 1));
        assertEquals(2, iso.get(0), "interrupt source override");
        assertEquals(10, iso.get(1));
        assertEquals(0, iso.get(2), "bus: ISA");
        assertEquals(0, iso.get(3), "source: IRQ 0, the PIT");
        assertEquals(2, iso.getInt(4), "GSI 2, where panavirt's routing puts the PIT");
        assertEquals(0b0101, iso.getShort(8), "edge-triggered, active-high");
        assertArrayEquals(new byte[] {4, 6, (byte) 0xff, 0, 0, 1}, entries.get(vcpus + 2),
                "Local APIC NMI: all processors, conforming, LINT1");
    }

    /** The DSDT's resources for one device, decoded from its ResourceTemplate (0 or -1 where absent). */
    record Resources(long base, long length, boolean writable, int ioPort, int ioLength, int gsi,
            int interruptFlags) {}

    static Resources resources(byte[] template) {
        assertEquals(0, sum(template, 0, template.length), "resource template checksum");
        ByteBuffer b = le(template);
        long base = -1, length = -1;
        boolean writable = false;
        int port = -1, ports = -1, gsi = -1, flags = -1, off = 0;
        while (true) {
            int tag = template[off] & 0xff;
            if (tag == 0x79) {
                assertEquals(template.length, off + 2, "the End Tag closes the template");
                break;
            }
            if (tag == 0x47) {          // small item: I/O port, 7 data bytes
                assertEquals(1, template[off + 1], "Decode16");
                port = b.getShort(off + 2) & 0xffff;
                assertEquals(port, b.getShort(off + 4) & 0xffff, "a fixed range: minimum = maximum");
                ports = template[off + 7] & 0xff;
                off += 8;
                continue;
            }
            assertTrue((tag & 0x80) != 0, "unexpected small item 0x" + Integer.toHexString(tag));
            int len = b.getShort(off + 1) & 0xffff;
            if (tag == 0x86) {
                assertEquals(9, len);
                writable = template[off + 3] == 1;
                base = Integer.toUnsignedLong(b.getInt(off + 4));
                length = Integer.toUnsignedLong(b.getInt(off + 8));
            } else if (tag == 0x89) {
                assertEquals(6, len);
                flags = template[off + 3] & 0xff;
                assertEquals(1, template[off + 4], "one interrupt");
                gsi = b.getInt(off + 5);
            } else {
                throw new AssertionError("unexpected descriptor 0x" + Integer.toHexString(tag));
            }
            off += 3 + len;
        }
        return new Resources(base, length, writable, port, ports, gsi, flags);
    }

    static AmlReader.Term systemBus(Guest g) {
        byte[] dsdt = g.table(g.image().layout().tables().get("DSDT"));
        List<AmlReader.Term> terms = AmlReader.parse(dsdt, 36, dsdt.length);
        assertEquals(1, terms.size());
        AmlReader.Term sb = terms.get(0);
        assertEquals("Scope", sb.kind());
        assertEquals("\\_SB_", sb.name());
        return sb;
    }

    @Test
    void theDsdtDeclaresCom1AndOneVirtioMmioDevicePerSlot() {
        AmlReader.Term sb = systemBus(guest(1, SLOTS));
        assertEquals(List.of("COM1", "VR00", "VR01", "VR02"),
                sb.children().stream().map(AmlReader.Term::name).toList());
        AmlReader.Term com1 = sb.child("COM1");
        assertEquals("Device", com1.kind());
        assertEquals(0x0105_d041L, com1.child("_HID").value(), "EisaId(\"PNP0501\")");
        assertEquals(new Resources(-1, -1, false, 0x3f8, 8, 4, 0b0011),
                resources((byte[]) com1.child("_CRS").value()), "IO(Decode16, 0x3f8, 0x3f8, 1, 8), IRQ 4 edge high");
        for (int i = 0; i < SLOTS.size(); i++) {
            AmlReader.Term dev = sb.children().get(i + 1);
            assertEquals("Device", dev.kind());
            assertEquals(List.of("_HID", "_UID", "_CRS"), dev.children().stream().map(AmlReader.Term::name).toList());
            assertEquals("LNRO0005", dev.child("_HID").value());
            assertEquals((long) i, dev.child("_UID").value());
            Resources r = resources((byte[]) dev.child("_CRS").value());
            VirtioMmioSlot s = SLOTS.get(i);
            assertEquals(new Resources(s.base(), s.size(), true, -1, -1, s.gsi(), 0b0011), r,
                    "Memory32Fixed(ReadWrite) and Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive)");
        }
    }

    @Test
    void manySlotsNeedLongerPackagesAndStillDecode() {
        List<VirtioMmioSlot> many = new ArrayList<>();
        for (int i = 0; i < 19; i++) {
            many.add(new VirtioMmioSlot(0xd000_0000L + 0x1000L * i, 0x1000, 5 + i));
        }
        AmlReader.Term sb = systemBus(guest(2, many));
        assertEquals(20, sb.children().size());
        assertEquals("VR12", sb.children().get(19).name());
        assertEquals(23, resources((byte[]) sb.child("VR12").child("_CRS").value()).gsi());
    }

    @Test
    void withoutSlotsTheDsdtHoldsJustCom1() {
        AmlReader.Term sb = systemBus(guest(1, List.of()));
        assertEquals(List.of("COM1"), sb.children().stream().map(AmlReader.Term::name).toList());
    }

    @Test
    void theLayoutCoversEveryTableAndNothingOverlaps() {
        AcpiTables t = AcpiTables.forMachine(4, SLOTS);
        AcpiTables.Image image = t.place(0xe0000, 0x9_0000);
        AcpiTables.Layout l = image.layout();
        assertEquals(0xe0000, l.rsdpAddress());
        assertEquals(0x9_0000, l.tablesAddress());
        assertEquals(l.tablesEnd() - l.tablesAddress(), image.tables().length);
        assertEquals(0x9_0000, l.start());
        assertEquals(0xe0000 + 36, l.end());
        Guest g = new Guest(image);
        long previousEnd = l.tablesAddress();
        for (String sig : List.of("XSDT", "FACP", "APIC", "DSDT")) {
            long at = l.tables().get(sig);
            assertEquals(0, at % 8, sig + " 8-byte aligned");
            assertTrue(at >= previousEnd, sig + " after the previous table");
            previousEnd = at + g.table(at).length;
        }
        assertEquals(l.tablesEnd(), previousEnd, "the DSDT is last and ends the range");
        // the same tables placed elsewhere differ only in the addresses
        AcpiTables.Image moved = t.place(0xf0000, 0x10_0000);
        assertEquals(image.tables().length, moved.tables().length);
        assertEquals(0x10_0000L, le(moved.rsdp()).getLong(24));
    }

    @Test
    void placementRules() {
        AcpiTables t = AcpiTables.forMachine(1, SLOTS);
        assertThrows(IllegalArgumentException.class, () -> t.place(0xf0008, TABLES), "RSDP not 16-byte aligned");
        assertThrows(IllegalArgumentException.class, () -> t.place(0xd0000, TABLES), "RSDP below the BIOS area");
        assertThrows(IllegalArgumentException.class, () -> t.place(0xffff0, TABLES), "RSDP past 1 MiB");
        assertThrows(IllegalArgumentException.class, () -> t.place(RSDP, RSDP + 16), "tables over the RSDP");
        assertThrows(IllegalArgumentException.class, () -> t.place(RSDP, TABLES + 4), "tables not 8-byte aligned");
        assertThrows(IllegalArgumentException.class, () -> t.place(RSDP, (1L << 32) - 64), "tables past 4 GiB");
        t.place(0xfffd0, 0x8000);   // the last aligned RSDP slot that fits below 1 MiB
    }

    @Test
    void machineRules() {
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.forMachine(0, SLOTS));
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.forMachine(256, SLOTS));
        var pin2 = List.of(new VirtioMmioSlot(0xd000_0000L, 0x1000, 2));
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.forMachine(1, pin2), "the PIT's pin");
        var com1 = List.of(new VirtioMmioSlot(0xd000_0000L, 0x1000, 4));
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.forMachine(1, com1), "COM1's IRQ");
        var pin0 = List.of(new VirtioMmioSlot(0xd000_0000L, 0x1000, 0));
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.forMachine(1, pin0), "no route to pin 0");
        var overlap = List.of(new VirtioMmioSlot(0xd000_0000L, 0x2000, 5), new VirtioMmioSlot(0xd000_1000L, 0x1000, 6));
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.forMachine(1, overlap));
        var shared = List.of(new VirtioMmioSlot(0xd000_0000L, 0x1000, 5), new VirtioMmioSlot(0xd000_1000L, 0x1000, 5));
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.forMachine(1, shared));
        var apic = List.of(new VirtioMmioSlot(0xfec0_0000L, 0x1000, 5));
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.forMachine(1, apic));
        assertThrows(IllegalArgumentException.class, () -> new VirtioMmioSlot(0xd000_0800L, 0x1000, 5), "unaligned");
        assertThrows(IllegalArgumentException.class, () -> new VirtioMmioSlot(0xd000_0000L, 0x800, 5), "short");
        assertThrows(IllegalArgumentException.class, () -> new VirtioMmioSlot(0xffff_f000L, 0x2000, 5), "past 4 GiB");
        assertThrows(IllegalArgumentException.class, () -> new VirtioMmioSlot(0xd000_0000L, 0x1000, 24), "pin 24");
    }
}
