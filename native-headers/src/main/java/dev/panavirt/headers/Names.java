package dev.panavirt.headers;

import dev.panavirt.headers.model.Record;

import java.util.Set;

/** Java names for C names: keywords and restricted identifiers get a trailing underscore. */
public final class Names {
    private Names() {
    }

    private static final Set<String> KEYWORDS = Set.of(
            "abstract", "assert", "boolean", "break", "byte", "case", "catch", "char", "class", "const",
            "continue", "default", "do", "double", "else", "enum", "extends", "final", "finally", "float",
            "for", "goto", "if", "implements", "import", "instanceof", "int", "interface", "long", "native",
            "new", "package", "private", "protected", "public", "return", "short", "static", "strictfp",
            "super", "switch", "synchronized", "this", "throw", "throws", "transient", "try", "void",
            "volatile", "while", "true", "false", "null", "_");
    /** Restricted identifiers: fine as method names, not as type names. */
    private static final Set<String> RESTRICTED_TYPE_NAMES = Set.of(
            "var", "yield", "record", "sealed", "permits");

    public static boolean isReserved(String name) {
        return KEYWORDS.contains(name);
    }

    /** Accessor name of a C member. */
    public static String memberName(String c) {
        return KEYWORDS.contains(c) ? c + "_" : c;
    }

    /** Class name of a C tag or typedef. */
    public static String typeName(String c) {
        return KEYWORDS.contains(c) || RESTRICTED_TYPE_NAMES.contains(c) ? c + "_" : c;
    }

    /** Nested class name for a field of anonymous record type; never equal to an enclosing class. */
    static String nestedName(String field, Record cls) {
        String n = typeName(field);
        boolean clash;
        do {
            clash = false;
            for (Record r = cls; r != null; r = r.outer()) {
                if (n.equals(r.javaName())) {
                    n = n + "_";
                    clash = true;
                }
            }
        } while (clash);
        return n;
    }
}
