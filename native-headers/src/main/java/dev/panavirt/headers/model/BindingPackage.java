package dev.panavirt.headers.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Everything generated into one Java package: the records (classes), the constants of the header
 * class, and what was left out (for the report).
 *
 * @param packageName  e.g. {@code dev.panavirt.bindings.kvm.x86_64}
 * @param headerClass  e.g. {@code kvm_h}
 * @param headers      the bound headers, include-relative, in order
 * @param arch         the header tree parsed ({@code x86}, {@code arm64}, ...)
 * @param records      top-level classes, sorted by name
 * @param constants    header-class integer constants, in header then source order
 * @param typedefs     scalar and pointer typedefs of every header the parse read, in declaration order
 * @param strings      string-literal macros, in header then source order
 * @param skipped      category -> sorted entries (function-like macros, non-integer macros, typedefs, ...)
 */
public record BindingPackage(String packageName, String headerClass, List<String> headers, String arch,
                             List<Record> records, List<Constant> constants, List<Typedef> typedefs,
                             List<StringConstant> strings, Map<String, List<String>> skipped) {

    /** This package with other typedef layouts (the rest unchanged). */
    public BindingPackage withTypedefs(List<Typedef> t) {
        return new BindingPackage(packageName, headerClass, headers, arch, records, constants, List.copyOf(t), strings,
                skipped);
    }

    /** This package with other records, constants, typedef layouts and string macros (the rest unchanged). */
    public BindingPackage withContents(List<Record> r, List<Constant> c, List<Typedef> t, List<StringConstant> s) {
        return new BindingPackage(packageName, headerClass, headers, arch, List.copyOf(r), List.copyOf(c),
                List.copyOf(t), List.copyOf(s), skipped);
    }

    public static Map<String, List<String>> newSkipped() {
        return new TreeMap<>();
    }

    public static void skip(Map<String, List<String>> skipped, String category, String entry) {
        skipped.computeIfAbsent(category, k -> new ArrayList<>()).add(entry);
    }
}
