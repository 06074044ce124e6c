package dev.panavirt.headers.emit;

import dev.panavirt.headers.model.CType;
import dev.panavirt.headers.model.Member;
import dev.panavirt.headers.model.Record;
import dev.panavirt.headers.model.Scalar;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Builds the Java source text of FFM layouts for the model, reproducing clang's offsets, sizes and
 * alignments exactly.
 *
 * <p>Alignment rule: a member's layout gets the alignment {@code min(natural, cap)}, where the cap
 * is the smallest of the enclosing record's clang alignment, the largest power of two dividing the
 * member's offset, and any cap inherited from outside. A capped record member cannot simply use its
 * class's {@code layout()} (FFM does not let a group be less aligned than its members), so such a
 * member is written inline with the cap pushed down to its own members. A group whose clang
 * alignment exceeds its members' (an {@code aligned} attribute, or a record with a capped member)
 * gets {@code withByteAlignment}. Gaps and tail padding become {@code paddingLayout}.
 */
public final class Layouts {

    /** An element of a group layout: padding or a member. */
    public sealed interface Element permits Pad, Item {
    }

    public record Pad(long bytes) implements Element {
    }

    public record Item(Member member) implements Element {
    }

    private final String header;
    private final Function<Record, String> classRef;

    /**
     * @param header   simple name of the header class holding {@code C_INT} etc.
     * @param classRef how to refer to a record's class from the current source (simple, nested, or
     *                 fully qualified when shadowed)
     */
    public Layouts(String header, Function<Record, String> classRef) {
        this.header = header;
        this.classRef = classRef;
    }

    /** The largest power of two dividing {@code offset} (offset 0 divides everything). */
    public static long lowBit(long offset) {
        return offset == 0 ? Long.MAX_VALUE : Long.lowestOneBit(offset);
    }

    /** The elements of {@code r}'s group layout, padding included, in layout order. */
    public static List<Element> elements(Record r) {
        List<Element> out = new ArrayList<>();
        long cursor = 0;
        for (Member m : r.members()) {
            if (r.isUnion()) {
                if (m.offset() != 0) {
                    throw new IllegalStateException(r + ": union member at offset " + m.offset());
                }
                out.add(new Item(m));
                cursor = Math.max(cursor, m.size());
            } else {
                if (m.offset() < cursor) {
                    throw new IllegalStateException(r + ": member " + m + " overlaps the previous one (ends at "
                            + cursor + ")");
                }
                if (m.offset() > cursor) out.add(new Pad(m.offset() - cursor));
                out.add(new Item(m));
                cursor = m.offset() + m.size();
            }
        }
        if (cursor > r.size()) throw new IllegalStateException(r + ": members end at " + cursor);
        if (cursor < r.size()) out.add(new Pad(r.isUnion() ? r.size() : r.size() - cursor));
        return out;
    }

    /** Alignment the layout of a member gets inside {@code r} under an outer cap. */
    public static long memberCap(Record r, Member m, long outerCap) {
        return Math.min(Math.min(outerCap, r.align()), lowBit(m.offset()));
    }

    /** Natural alignment of a member's type. */
    public static long naturalAlign(Member m) {
        return switch (m) {
            case Member.Field f -> f.type().alignment();
            case Member.FlexibleArray f -> f.element().alignment();
            case Member.AnonymousMember a -> a.record().align();
            case Member.BitfieldUnit b -> b.unit().alignment();
        };
    }

    /** The layout expression of a type with its alignment capped at {@code cap}. */
    public String of(CType t, long cap) {
        return of(t, cap, "");
    }

    /** As {@link #of(CType, long)}; inline groups indent their members under {@code indent}. */
    public String of(CType t, long cap, String indent) {
        return switch (t) {
            case CType.ScalarType s -> scalar(s.scalar(), cap);
            case CType.Int128Type i -> {
                long eff = Math.min(16, cap);
                String seq = "MemoryLayout.sequenceLayout(2, " + scalar(Scalar.LONG_LONG, cap) + ")";
                yield eff > Scalar.LONG_LONG.size ? seq + ".withByteAlignment(" + eff + ")" : seq;
            }
            case CType.RecordType r -> cap >= r.record().align()
                    ? classRef.apply(r.record()) + ".layout()"
                    : group(r.record(), cap, indent);
            case CType.ArrayType a ->
                    "MemoryLayout.sequenceLayout(" + a.count() + ", " + of(a.element(), cap, indent) + ")";
        };
    }

    private String scalar(Scalar s, long cap) {
        String e = header + "." + s.constant;
        return cap < s.size ? e + ".withByteAlignment(" + cap + ")" : e;
    }

    /**
     * The full group layout expression of {@code r} ({@code structLayout} or {@code unionLayout}),
     * members on separate lines indented by {@code indent + 4}.
     */
    public String group(Record r, long cap, String indent) {
        String inner = indent + "    ";
        StringBuilder sb = new StringBuilder();
        sb.append(r.isUnion() ? "MemoryLayout.unionLayout(" : "MemoryLayout.structLayout(");
        List<Element> els = elements(r);
        long maxAlign = 1;
        if (els.isEmpty()) sb.append(')');
        for (int i = 0; i < els.size(); i++) {
            sb.append('\n').append(inner);
            switch (els.get(i)) {
                case Pad p -> sb.append("MemoryLayout.paddingLayout(").append(p.bytes()).append(')');
                case Item it -> {
                    Member m = it.member();
                    long mcap = memberCap(r, m, cap);
                    maxAlign = Math.max(maxAlign, Math.min(naturalAlign(m), mcap));
                    sb.append(member(m, mcap, inner));
                }
            }
            if (i + 1 < els.size()) sb.append(',');
        }
        if (!els.isEmpty()) sb.append('\n').append(indent).append(')');
        long target = Math.min(r.align(), cap);
        if (target > maxAlign) sb.append(".withByteAlignment(").append(target).append(')');
        return sb.toString();
    }

    private String member(Member m, long cap, String indent) {
        return switch (m) {
            case Member.Field f -> of(f.type(), cap, indent) + named(f.cName());
            case Member.FlexibleArray f ->
                    "MemoryLayout.sequenceLayout(0, " + of(f.element(), cap, indent) + ")" + named(f.cName());
            case Member.AnonymousMember a -> group(a.record(), cap, indent);
            case Member.BitfieldUnit b -> of(b.unit(), cap, indent) + named(b.javaName());
        };
    }

    private static String named(String name) {
        return ".withName(\"" + name + "\")";
    }
}
