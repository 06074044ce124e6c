package dev.panavirt.headers.model;

/** The type of a record member, as far as the bindings care. */
public sealed interface CType permits CType.ScalarType, CType.Int128Type, CType.RecordType, CType.ArrayType {

    /** Natural alignment in bytes (the alignment of its layout when nothing caps it). */
    long alignment();

    /** Size in bytes. */
    long size();

    /** A C scalar (integer, floating point, _Bool, pointer). */
    record ScalarType(Scalar scalar) implements CType {
        @Override
        public long alignment() {
            return scalar.size;
        }

        @Override
        public long size() {
            return scalar.size;
        }
    }

    /**
     * {@code __int128} / {@code __uint128_t}: FFM has no 128-bit value layout, so it is a
     * 16-byte-aligned sequence of two {@code long long} and accessed as a slice.
     */
    record Int128Type(boolean unsigned) implements CType {
        @Override
        public long alignment() {
            return 16;
        }

        @Override
        public long size() {
            return 16;
        }
    }

    /** A struct or union, either a class of its own or a nested class of its user. */
    record RecordType(Record record) implements CType {
        @Override
        public long alignment() {
            return record.align();
        }

        @Override
        public long size() {
            return record.size();
        }
    }

    /** A fixed-size array; multi-dimensional arrays nest. */
    record ArrayType(CType element, long count) implements CType {
        @Override
        public long alignment() {
            return element.alignment();
        }

        @Override
        public long size() {
            return element.size() * count;
        }

        /** Dimensions outermost first, e.g. {@code [8, 16]} for {@code __u8 fpr[8][16]}. */
        public long[] dimensions() {
            int n = 1;
            CType t = element;
            while (t instanceof ArrayType a) {
                n++;
                t = a.element();
            }
            long[] dims = new long[n];
            CType cur = this;
            for (int i = 0; i < n; i++) {
                ArrayType a = (ArrayType) cur;
                dims[i] = a.count();
                cur = a.element();
            }
            return dims;
        }
    }
}
