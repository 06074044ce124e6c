package dev.panavirt.headers.emit;

import dev.panavirt.headers.model.CType;
import dev.panavirt.headers.model.Member;
import dev.panavirt.headers.model.Record;
import dev.panavirt.headers.model.Scalar;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Layout text for hand-built models: padding, unions, packing caps, alignment bumps. No libclang. */
class LayoutsTest {

    static final CType U8 = new CType.ScalarType(Scalar.CHAR);
    static final CType U16 = new CType.ScalarType(Scalar.SHORT);
    static final CType U32 = new CType.ScalarType(Scalar.INT);
    static final CType U64 = new CType.ScalarType(Scalar.LONG_LONG);

    static Member.Field field(String name, long offset, CType t) {
        return new Member.Field(name, name, offset, t, "T " + name);
    }

    private final Layouts layouts = new Layouts("h", Record::qualifiedJavaName);

    @Test
    void gapsAndTailBecomePadding() {
        Record r = new Record("s", "struct s", "x.h", false, 24, 8);
        r.members().addAll(List.of(field("a", 0, U8), field("b", 8, U64), field("c", 16, U16)));
        String g = layouts.group(r, Long.MAX_VALUE, "");
        assertEquals("""
                MemoryLayout.structLayout(
                    h.C_CHAR.withName("a"),
                    MemoryLayout.paddingLayout(7),
                    h.C_LONG_LONG.withName("b"),
                    h.C_SHORT.withName("c"),
                    MemoryLayout.paddingLayout(6)
                )""", g);
    }

    @Test
    void unionPadsToItsSize() {
        Record r = new Record("u", "union u", "x.h", true, 16, 8);
        r.members().addAll(List.of(field("a", 0, U64), field("b", 0, new CType.ArrayType(U8, 12))));
        String g = layouts.group(r, Long.MAX_VALUE, "");
        assertTrue(g.startsWith("MemoryLayout.unionLayout("), g);
        assertTrue(g.contains("MemoryLayout.paddingLayout(16)"), g);
    }

    @Test
    void packedRecordCapsMemberAlignment() {
        // struct __attribute__((packed)) { __u8 a; __u64 b; __u16 c; }
        Record r = new Record("p", "struct p", "x.h", false, 11, 1);
        r.members().addAll(List.of(field("a", 0, U8), field("b", 1, U64), field("c", 9, U16)));
        String g = layouts.group(r, Long.MAX_VALUE, "");
        assertTrue(g.contains("h.C_LONG_LONG.withByteAlignment(1).withName(\"b\")"), g);
        assertTrue(g.contains("h.C_SHORT.withByteAlignment(1).withName(\"c\")"), g);
        assertTrue(g.contains("h.C_CHAR.withName(\"a\")"), g);
    }

    @Test
    void cappedRecordMemberIsInlined() {
        Record inner = new Record("geo", "struct geo", "x.h", false, 4, 2);
        inner.members().addAll(List.of(field("cyl", 0, U16), field("heads", 2, U8), field("sectors", 3, U8)));
        Record outer = new Record("cfg", "struct cfg", "x.h", false, 5, 1);
        outer.members().addAll(List.of(field("x", 0, U8), field("g", 1, new CType.RecordType(inner))));
        String g = layouts.group(outer, Long.MAX_VALUE, "");
        assertTrue(g.contains("h.C_SHORT.withByteAlignment(1).withName(\"cyl\")"), g);
        assertTrue(!g.contains("geo.layout()"), g);
        // Uncapped, the class's own layout is used.
        Record plain = new Record("cfg2", "struct cfg2", "x.h", false, 6, 2);
        plain.members().addAll(List.of(field("x", 0, U16), field("g", 2, new CType.RecordType(inner))));
        assertTrue(layouts.group(plain, Long.MAX_VALUE, "").contains("geo.layout().withName(\"g\")"));
    }

    @Test
    void recordAlignmentAboveMembersIsApplied() {
        Record r = new Record("a", "struct a", "x.h", false, 64, 64);
        r.members().add(field("x", 0, U32));
        assertTrue(layouts.group(r, Long.MAX_VALUE, "").endsWith(".withByteAlignment(64)"));
    }

    @Test
    void int128IsAnAlignedPairOfLongs() {
        assertEquals("MemoryLayout.sequenceLayout(2, h.C_LONG_LONG).withByteAlignment(16)",
                layouts.of(new CType.Int128Type(true), Long.MAX_VALUE));
        assertEquals("MemoryLayout.sequenceLayout(2, h.C_LONG_LONG.withByteAlignment(4))",
                layouts.of(new CType.Int128Type(true), 4));
    }

    @Test
    void overlappingMembersAreRejected() {
        Record r = new Record("o", "struct o", "x.h", false, 8, 4);
        r.members().addAll(List.of(field("a", 0, U32), field("b", 2, U32)));
        assertThrows(IllegalStateException.class, () -> Layouts.elements(r));
    }

    @Test
    void lowBit() {
        assertEquals(Long.MAX_VALUE, Layouts.lowBit(0));
        assertEquals(1, Layouts.lowBit(9));
        assertEquals(8, Layouts.lowBit(24));
    }
}
