package dev.panavirt.headers.model;

import java.util.ArrayList;
import java.util.List;

/**
 * A struct or union. It is either a generated class (top level, or nested for an anonymous record
 * that has a field name), or an anonymous member whose fields its user exposes.
 */
public final class Record {
    private final String javaName;
    private final String cName;
    private final String header;
    private final boolean union;
    private final long size;
    private final long align;
    private final List<Member> members = new ArrayList<>();
    private final List<Record> nested = new ArrayList<>();
    private Record outer;

    /**
     * @param javaName class name; null for an anonymous member (no class of its own)
     * @param cName    how C spells the type ({@code struct kvm_regs}, a typedef name), or a description
     *                 such as {@code struct kvm_run::io} for a nested anonymous record
     * @param header   the header declaring it, relative to the include root ({@code linux/kvm.h})
     */
    public Record(String javaName, String cName, String header, boolean union, long size, long align) {
        this.javaName = javaName;
        this.cName = cName;
        this.header = header;
        this.union = union;
        this.size = size;
        this.align = align;
    }

    public String javaName() {
        return javaName;
    }

    public String cName() {
        return cName;
    }

    public String header() {
        return header;
    }

    public boolean isUnion() {
        return union;
    }

    public long size() {
        return size;
    }

    public long align() {
        return align;
    }

    /** Members in layout order (ascending offset for structs, declaration order for unions). */
    public List<Member> members() {
        return members;
    }

    /** Classes declared inside this class (named fields of anonymous record type, at any depth of anonymous members). */
    public List<Record> nested() {
        return nested;
    }

    /** The class this nested class is declared in, or null. */
    public Record outer() {
        return outer;
    }

    public Record addNested(Record r) {
        r.outer = this;
        nested.add(r);
        return r;
    }

    public boolean isAnonymousMember() {
        return javaName == null;
    }

    /** Java name relative to the package, e.g. {@code kvm_run.io}. */
    public String qualifiedJavaName() {
        return outer == null ? javaName : outer.qualifiedJavaName() + "." + javaName;
    }

    @Override
    public String toString() {
        return (javaName == null ? "<anonymous>" : qualifiedJavaName()) + " (" + cName + ", " + size + " bytes)";
    }
}
