package dev.panavirt.machine.acpi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The AML encoder's terms, byte by byte against ACPI 6.5 chapter 20, and read back. */
class AmlTest {
    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    /**
     * Every PkgLength near a boundary of its byte count states the content plus its own bytes, in the fewest
     * bytes that can: 1 byte up to a total of 63, 2 up to 4095, 3 up to 2^20-1, 4 up to 2^28-1.
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 61, 62, 63, 64, 4092, 4093, 4094, 4095, 4096, (1 << 20) - 4, (1 << 20) - 3,
            (1 << 20) - 2, (1 << 28) - 6, (1 << 28) - 5})
    void pkgLengthCountsItselfInTheFewestBytes(int content) {
        byte[] enc = Aml.pkgLength(content);
        AmlReader.PkgLength p = AmlReader.pkgLength(enc, 0);
        assertEquals(enc.length, p.bytes(), "the lead byte states how many bytes follow");
        assertEquals(content + enc.length, p.length());
        int total = content + enc.length;
        int expectedBytes = total <= 63 ? 1 : total < 1 << 12 ? 2 : total < 1 << 20 ? 3 : 4;
        assertEquals(expectedBytes, enc.length, "content " + content);
        // one byte fewer could not have held it
        if (enc.length > 1) {
            int smaller = enc.length - 1;
            int limit = smaller == 1 ? 63 : (1 << (4 + 8 * (smaller - 1))) - 1;
            assertEquals(true, content + smaller > limit, "content " + content + " fits " + smaller + " bytes");
        }
    }

    @Test
    void pkgLengthBoundaryBytes() {
        assertArrayEquals(hex("3f"), Aml.pkgLength(62));            // 63, one byte
        assertArrayEquals(hex("41 04"), Aml.pkgLength(63));         // 65 = 0x041: lead 01, nibble 1, then 0x04
        assertArrayEquals(hex("4f ff"), Aml.pkgLength(4093));       // 4095 = 0xfff
        assertArrayEquals(hex("81 00 01"), Aml.pkgLength(4094));    // 4097 = 0x1001
        assertArrayEquals(hex("cf ff ff ff"), Aml.pkgLength((1 << 28) - 5)); // 2^28 - 1
        assertThrows(IllegalArgumentException.class, () -> Aml.pkgLength((1 << 28) - 4)); // 2^28 needs 29 bits
        assertThrows(IllegalArgumentException.class, () -> Aml.pkgLength(-1));
    }

    @Test
    void integersTakeTheShortestEncoding() {
        assertArrayEquals(hex("00"), Aml.integer(0));
        assertArrayEquals(hex("01"), Aml.integer(1));
        assertArrayEquals(hex("ff"), Aml.integer(-1));
        assertArrayEquals(hex("0a 02"), Aml.integer(2));
        assertArrayEquals(hex("0a ff"), Aml.integer(0xff));
        assertArrayEquals(hex("0b 00 01"), Aml.integer(0x100));
        assertArrayEquals(hex("0b ff ff"), Aml.integer(0xffff));
        assertArrayEquals(hex("0c 00 00 01 00"), Aml.integer(0x10000));
        assertArrayEquals(hex("0c ff ff ff ff"), Aml.integer(0xffff_ffffL));
        assertArrayEquals(hex("0e 00 00 00 00 01 00 00 00"), Aml.integer(0x1_0000_0000L));
        for (long v : new long[] {0, 1, 2, 0xff, 0x100, 0xfffe, 0x12345, 0xffff_ffffL, 0x1234_5678_9abcL}) {
            assertEquals(v, AmlReader.data(Aml.integer(v)));
        }
    }

    @Test
    void stringsAreAsciiWithATerminatingNul() {
        assertArrayEquals(hex("0d 4c 4e 52 4f 30 30 30 35 00"), Aml.string("LNRO0005"));
        assertEquals("LNRO0005", AmlReader.data(Aml.string("LNRO0005")));
        assertThrows(IllegalArgumentException.class, () -> Aml.string("caf\u00e9"));
        assertThrows(IllegalArgumentException.class, () -> Aml.string("a\0b"));
    }

    @Test
    void nameStringsWithRootAndMultipleSegments() {
        assertArrayEquals(hex("5c 5f 53 42 5f"), Aml.nameString("\\_SB_"));
        assertArrayEquals(hex("5f 48 49 44"), Aml.nameString("_HID"));
        assertArrayEquals(hex("41 42 5f 5f"), Aml.nameString("AB"));             // padded with underscores
        assertArrayEquals(hex("5c 2e 5f 53 42 5f 56 52 30 30"), Aml.nameString("\\_SB_.VR00"));
        assertArrayEquals(hex("2f 03 41 5f 5f 5f 42 5f 5f 5f 43 5f 5f 5f"), Aml.nameString("A.B.C"));
        for (String bad : new String[] {"", "TOOLONG", "1ABC", "ab", "A..B", "A-B"}) {
            assertThrows(IllegalArgumentException.class, () -> Aml.nameString(bad), bad);
        }
    }

    @Test
    void bufferStatesItsSizeInsideItsPackage() {
        // BufferOp, PkgLength 6 (itself 1 + the size term 0a 03 + the 3 bytes), size, bytes
        assertArrayEquals(hex("11 06 0a 03 aa bb cc"), Aml.buffer(hex("aa bb cc")));
        for (int n : new int[] {0, 1, 58, 59, 60, 61, 62, 300, 4090, 4091, 4092, 5000}) {
            byte[] bytes = new byte[n];
            for (int i = 0; i < n; i++) {
                bytes[i] = (byte) (i * 7);
            }
            assertArrayEquals(bytes, (byte[]) AmlReader.data(Aml.buffer(bytes)), "buffer of " + n);
        }
    }

    @Test
    void resourceDescriptorsAsTheSpecLaysThemOut() {
        // 6.4.3.4: 0x86, length 9, RW, base, length
        assertArrayEquals(hex("86 0900 01 0000b0d0 00100000"), Aml.memory32Fixed(true, 0xd0b0_0000L, 0x1000));
        assertArrayEquals(hex("86 0900 00 00100000 00200000"), Aml.memory32Fixed(false, 0x1000, 0x2000));
        // 6.4.3.6: 0x89, length 6, consumer|edge (active-high, exclusive), one interrupt, GSI 5
        assertArrayEquals(hex("89 0600 03 01 05000000"), Aml.edgeInterrupt(5));
        assertThrows(IllegalArgumentException.class, () -> Aml.memory32Fixed(true, 1L << 32, 0x1000));
        assertThrows(IllegalArgumentException.class, () -> Aml.edgeInterrupt(-1));
    }

    @Test
    void eisaIdsCompressThreeLettersAndFourHexDigits() {
        // PNP0501 is the well-known 0x0105D041: 'P' 'N' 'P' as 5-bit codes 10h 0Eh 10h, then 05 01
        assertArrayEquals(hex("0c 41 d0 05 01"), Aml.eisaId("PNP0501"));
        assertEquals(0x0105_d041L, AmlReader.data(Aml.eisaId("PNP0501")));
        assertEquals(0x030a_d041L, AmlReader.data(Aml.eisaId("PNP0A03")));   // the PCI host bridge id
        assertArrayEquals(hex("0c 04 21 ff ff"), Aml.eisaId("AAAFFFF"));
        for (String bad : new String[] {"PNP050", "pnp0501", "PNP050G", "PN10501"}) {
            assertThrows(IllegalArgumentException.class, () -> Aml.eisaId(bad), bad);
        }
    }

    @Test
    void ioPortDescriptorIsASmallItemOfSevenBytes() {
        // 6.4.2.5: tag 0x47 (small item 8, length 7), Decode16, min, max, alignment 1, length
        assertArrayEquals(hex("47 01 f803 f803 01 08"), Aml.ioPort(0x3f8, 8));
        assertThrows(IllegalArgumentException.class, () -> Aml.ioPort(0x10000, 1));
        assertThrows(IllegalArgumentException.class, () -> Aml.ioPort(0x3f8, 0));
    }

    @Test
    void resourceTemplateEndsWithAChecksummedEndTag() {
        byte[] template = (byte[]) AmlReader.data(Aml.resourceTemplate(Aml.memory32Fixed(true, 0xd000_0000L, 0x1000),
                Aml.edgeInterrupt(7)));
        assertEquals(12 + 9 + 2, template.length);
        assertEquals(0x79, template[template.length - 2] & 0xff);
        assertEquals(0, Aml.sum(template, 0, template.length), "descriptors and end tag sum to zero");
    }

    @Test
    void devicesNestInScopesAndReadBack() {
        byte[] aml = Aml.scope("\\_SB_",
                Aml.device("DEV0", Aml.name("_HID", Aml.string("LNRO0005")), Aml.name("_UID", Aml.integer(0))),
                Aml.device("DEV1", Aml.name("_UID", Aml.integer(0x1234))));
        assertEquals(0x10, aml[0] & 0xff);
        List<AmlReader.Term> terms = AmlReader.parse(aml, 0, aml.length);
        assertEquals(1, terms.size());
        AmlReader.Term sb = terms.get(0);
        assertEquals("Scope", sb.kind());
        assertEquals("\\_SB_", sb.name());
        assertEquals(List.of("DEV0", "DEV1"), sb.children().stream().map(AmlReader.Term::name).toList());
        assertEquals("Device", sb.child("DEV0").kind());
        assertEquals("LNRO0005", sb.child("DEV0").child("_HID").value());
        assertEquals(0x1234L, sb.child("DEV1").child("_UID").value());
        // DeviceOp is the two-byte ExtOpPrefix 0x5b 0x82
        byte[] device = Aml.device("DEV1");
        assertArrayEquals(hex("5b 82 05 44 45 56 31"), device);
    }

    @Test
    void aScopeLargerThanOneByteOfLengthStillReadsBack() {
        byte[][] devices = new byte[40][];
        for (int i = 0; i < devices.length; i++) {
            devices[i] = Aml.device(String.format("D%03d", i), Aml.name("_UID", Aml.integer(i)));
        }
        byte[] aml = Aml.scope("\\_SB_", devices);
        assertEquals(2, AmlReader.pkgLength(aml, 1).bytes(), "a scope of " + aml.length + " bytes");
        AmlReader.Term sb = AmlReader.parse(aml, 0, aml.length).get(0);
        assertEquals(40, sb.children().size());
        assertEquals(39L, sb.child("D039").child("_UID").value());
    }
}
