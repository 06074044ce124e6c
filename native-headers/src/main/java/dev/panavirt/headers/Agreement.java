package dev.panavirt.headers;

import dev.panavirt.headers.model.BindingPackage;
import dev.panavirt.headers.model.CType;
import dev.panavirt.headers.model.Constant;
import dev.panavirt.headers.model.Member;
import dev.panavirt.headers.model.Record;
import dev.panavirt.headers.model.StringConstant;
import dev.panavirt.headers.model.Typedef;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Keeps of an arch-neutral package only what every header tree agrees on: the same records with
 * the same layout (every member path's offset, size, alignment and kind, through nested and
 * referenced records), the same constants (value and width), string macros and typedef layouts.
 * Everything else is left out and reported.
 */
final class Agreement {
    private Agreement() {
    }

    static final String RECORDS = "records whose layout differs between arches (left out of an arch-neutral package)";
    static final String CONSTANTS = "constants whose value differs between arches (left out of an arch-neutral package)";
    static final String STRINGS = "string macros that differ between arches (left out of an arch-neutral package)";
    static final String TYPEDEFS = "typedefs that differ between arches (left out of an arch-neutral package)";

    /**
     * {@code base} (parsed with its own tree) reduced to what the packages parsed with the same spec
     * on the other trees ({@code others}: arch tree -> package) agree on.
     */
    static BindingPackage keepAgreed(BindingPackage base, Map<String, BindingPackage> others) {
        Map<String, List<String>> skipped = base.skipped();
        List<Typedef> typedefs = new ArrayList<>(base.typedefs());
        List<Record> records = new ArrayList<>(base.records());
        List<Constant> constants = new ArrayList<>(base.constants());
        List<StringConstant> strings = new ArrayList<>(base.strings());
        Set<String> droppedRecords = new HashSet<>();
        Set<String> droppedConstants = new HashSet<>();
        Set<String> droppedStrings = new HashSet<>();
        for (Map.Entry<String, BindingPackage> o : others.entrySet()) {
            String arch = o.getKey();
            BindingPackage there = o.getValue();

            Map<String, Typedef> td = new HashMap<>();
            there.typedefs().forEach(t -> td.put(t.name(), t));
            for (Typedef t : List.copyOf(typedefs)) {
                Typedef u = td.get(t.name());
                if (u == null || u.scalar() != t.scalar()) {
                    typedefs.remove(t);
                    BindingPackage.skip(skipped, TYPEDEFS, t.name() + " (" + t.header() + ": " + base.arch() + " "
                            + t.scalar() + ", " + arch + " " + (u == null ? "none" : u.scalar()) + ")");
                }
            }

            Map<String, Record> rec = new HashMap<>();
            there.records().forEach(r -> rec.put(r.cName(), r));
            for (Record r : List.copyOf(records)) {
                Record u = rec.get(r.cName());
                String why = null;
                if (u == null) {
                    why = "not on " + arch;
                } else {
                    List<String> a = facts(r);
                    List<String> b = facts(u);
                    if (!a.equals(b)) why = firstDifference(a, b, base.arch(), arch);
                }
                if (why != null) {
                    records.remove(r);
                    droppedRecords.add(r.cName());
                    BindingPackage.skip(skipped, RECORDS, r.cName() + " (" + r.header() + ": " + why + ")");
                }
            }

            Map<String, Constant> con = new HashMap<>();
            there.constants().forEach(c -> con.put(c.name(), c));
            for (Constant c : List.copyOf(constants)) {
                Constant u = con.get(c.name());
                if (u == null || u.value() != c.value() || u.bytes() != c.bytes()) {
                    constants.remove(c);
                    droppedConstants.add(c.name());
                    BindingPackage.skip(skipped, CONSTANTS, c.name() + " (" + c.header() + ": " + base.arch() + " "
                            + describe(c) + ", " + arch + " " + (u == null ? "none" : describe(u)) + ")");
                }
            }

            Map<String, StringConstant> str = new HashMap<>();
            there.strings().forEach(s -> str.put(s.name(), s));
            for (StringConstant s : List.copyOf(strings)) {
                StringConstant u = str.get(s.name());
                if (u == null || !u.value().equals(s.value())) {
                    strings.remove(s);
                    droppedStrings.add(s.name());
                    BindingPackage.skip(skipped, STRINGS, s.name() + " (" + s.header() + ": " + arch + " "
                            + (u == null ? "none" : "\"" + u.value() + "\"") + ")");
                }
            }
        }
        // A kept record that uses a left-out one would not compile; the recursive facts make that
        // impossible, and this says so loudly if it ever is not.
        for (Record r : records) {
            for (String used : usedRecords(r, new ArrayList<>())) {
                if (droppedRecords.contains(used)) {
                    throw new IllegalStateException(r.cName() + " is kept but uses the left-out " + used);
                }
            }
        }
        skipped.values().forEach(l -> l.sort(null));
        return base.withContents(records, constants, typedefs, strings);
    }

    private static String describe(Constant c) {
        return c.javaType() + " 0x" + Long.toHexString(c.value());
    }

    private static String firstDifference(List<String> a, List<String> b, String archA, String archB) {
        for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
            String x = i < a.size() ? a.get(i) : "nothing";
            String y = i < b.size() ? b.get(i) : "nothing";
            if (!x.equals(y)) return archA + " " + x + ", " + archB + " " + y;
        }
        throw new IllegalStateException("no difference");
    }

    /** One line per layout fact: every member path with its kind, offset from the record start and size. */
    static List<String> facts(Record r) {
        List<String> out = new ArrayList<>();
        record(r, r.cName(), 0, out);
        return out;
    }

    private static void record(Record r, String path, long at, List<String> out) {
        out.add(path + " " + (r.isUnion() ? "union" : "struct") + " @" + at + " size " + r.size() + " align "
                + r.align());
        for (Member m : r.members()) {
            switch (m) {
                case Member.Field f -> type(f.type(), path + "." + f.cName(), at + f.offset(), out);
                case Member.FlexibleArray f -> {
                    out.add(path + "." + f.cName() + " [] @" + (at + f.offset()));
                    type(f.element(), path + "." + f.cName() + "[0]", at + f.offset(), out);
                }
                case Member.AnonymousMember a -> record(a.record(), path + ".<anonymous>", at + a.offset(), out);
                case Member.BitfieldUnit b -> {
                    type(b.unit(), path + "." + b.javaName(), at + b.offset(), out);
                    for (Member.Bit bit : b.bits()) {
                        out.add(path + "." + b.javaName() + ":" + bit.name() + " bit " + bit.bitOffset() + " width "
                                + bit.width());
                    }
                }
            }
        }
    }

    private static void type(CType t, String path, long at, List<String> out) {
        switch (t) {
            case CType.ScalarType s -> out.add(path + " " + s.scalar() + " @" + at + " size " + s.size());
            case CType.Int128Type i -> out.add(path + " int128" + (i.unsigned() ? " unsigned" : "") + " @" + at);
            case CType.ArrayType a -> {
                out.add(path + " [" + a.count() + "] @" + at + " size " + a.size());
                type(a.element(), path + "[0]", at, out);
            }
            case CType.RecordType rt -> record(rt.record(), path + " (" + rt.record().cName() + ")", at, out);
        }
    }

    private static List<String> usedRecords(Record r, List<String> out) {
        for (Member m : r.members()) {
            switch (m) {
                case Member.Field f -> used(f.type(), out);
                case Member.FlexibleArray f -> used(f.element(), out);
                case Member.AnonymousMember a -> usedRecords(a.record(), out);
                case Member.BitfieldUnit b -> {
                }
            }
        }
        return out;
    }

    private static void used(CType t, List<String> out) {
        switch (t) {
            case CType.ArrayType a -> used(a.element(), out);
            case CType.RecordType rt -> {
                out.add(rt.record().cName());
                usedRecords(rt.record(), out);
            }
            default -> {
            }
        }
    }
}
