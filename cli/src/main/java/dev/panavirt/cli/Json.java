package dev.panavirt.cli;

import java.util.List;
import java.util.Map;

/** Writes maps, lists, strings, numbers and booleans as JSON (enough for the CLI's reports). */
final class Json {
    private Json() {}

    static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb, "");
        return sb.toString();
    }

    private static void write(Object v, StringBuilder sb, String indent) {
        switch (v) {
            case null -> sb.append("null");
            case Map<?, ?> m -> {
                sb.append("{");
                String inner = indent + "  ";
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    sb.append(first ? "\n" : ",\n").append(inner);
                    string(String.valueOf(e.getKey()), sb);
                    sb.append(": ");
                    write(e.getValue(), sb, inner);
                    first = false;
                }
                sb.append(first ? "}" : "\n" + indent + "}");
            }
            case List<?> l -> {
                sb.append("[");
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) {
                        sb.append(", ");
                    }
                    write(l.get(i), sb, indent);
                }
                sb.append("]");
            }
            case Number n -> sb.append(n);
            case Boolean b -> sb.append(b);
            default -> string(String.valueOf(v), sb);
        }
    }

    private static void string(String s, StringBuilder sb) {
        sb.append('"');
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
