package dev.panavirt.headers.model;

import java.util.List;

/** One member of a record, in the record's own offset space (bytes from the record's start). */
public sealed interface Member permits Member.Field, Member.FlexibleArray, Member.AnonymousMember, Member.BitfieldUnit {

    long offset();

    /** Bytes the member occupies in the layout (0 for a flexible array). */
    long size();

    /**
     * A named member of a complete type.
     *
     * @param cName    the C member name
     * @param javaName the accessor name (C name, plus {@code _} if it is a Java keyword)
     * @param cDecl    the C declaration for documentation, e.g. {@code __u64 rax}
     */
    record Field(String cName, String javaName, long offset, CType type, String cDecl) implements Member {
        @Override
        public long size() {
            return type.size();
        }
    }

    /** A flexible array member {@code T x[]} or zero-length array {@code T x[0]}. */
    record FlexibleArray(String cName, String javaName, long offset, CType element, String cDecl) implements Member {
        @Override
        public long size() {
            return 0;
        }
    }

    /**
     * A C11 anonymous struct/union member: it has no name of its own, its members are accessed
     * through the enclosing record, and its layout is an unnamed group.
     */
    record AnonymousMember(Record record, long offset) implements Member {
        @Override
        public long size() {
            return record.size();
        }
    }

    /**
     * A run of adjacent bitfields, exposed as one storage unit because FFM has no bitfields.
     *
     * @param unit the unit's type: an integer scalar of 1/2/4/8 bytes or a byte array
     * @param bits the C bitfields inside, bit offsets relative to the unit's first byte
     */
    record BitfieldUnit(String javaName, long offset, CType unit, List<Bit> bits) implements Member {
        @Override
        public long size() {
            return unit.size();
        }
    }

    /** One C bitfield inside a {@link BitfieldUnit}; {@code name} is empty for an unnamed one. */
    record Bit(String name, long bitOffset, long width, String cDecl) {
    }
}
