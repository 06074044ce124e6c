package dev.panavirt.bench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/** Reads a {@code results-MODE.json} written by {@link Report#json()} back into a {@link Report}. */
public final class ReportData {
    private ReportData() {}

    /**
     * The report of a finished run, to write again (for example after a change to the report's format).
     *
     * @param out where the new report goes
     */
    public static Report read(Path json, Path out) throws IOException {
        Map<String, Object> root = asMap(new Parser(Files.readString(json)).value());
        String mode = str(root, "mode", "custom");
        Settings base = mode.equals("full") ? Settings.full() : Settings.quick();
        Settings s = new Settings(mode, integer(root, "forks", base.forks()),
                integer(root, "warmupIterations", base.warmup()), integer(root, "warmupMs", base.warmupMs()),
                integer(root, "iterations", base.iterations()), integer(root, "iterationMs", base.timeMs()),
                List.of(), out, str(root, "commit", ""), false, null);
        Properties versions = new Properties();
        if (root.get("versions") instanceof Map<?, ?> v) {
            v.forEach((k, val) -> versions.setProperty(String.valueOf(k), String.valueOf(val)));
        }
        Environment env = new Environment(str(root, "cpu", "?"), integer(root, "cores", 0),
                Boolean.TRUE.equals(root.get("hypervisor")), str(root, "kernel", "?"), str(root, "jdk", "?"),
                versions, str(root, "loadBefore", "?"));
        Map<String, Sample> samples = new LinkedHashMap<>();
        for (Object o : (List<?>) root.getOrDefault("benchmarks", List.of())) {
            Map<String, Object> b = asMap(o);
            String name = str(b, "name", "?");
            String path = str(b, "path", "?");
            String cls = str(b, "class", name.substring(0, Math.max(0, name.length() - path.length() - 1)));
            Map<String, String> params = new LinkedHashMap<>();
            if (b.get("params") instanceof Map<?, ?> p) {
                p.forEach((k, v) -> params.put(String.valueOf(k), String.valueOf(v)));
            }
            Sample sample = new Sample(Bench.of(cls, path, params));
            List<Double> its = doubles(b.get("iterations"));
            int forks = Math.max(1, doubles(b.get("forkMeans")).size());
            Object alloc = b.get("allocBytesPerOp");
            List<Double> allocs = alloc instanceof Double d ? List.of(d) : List.of();
            if (!its.isEmpty()) {
                int per = its.size() / forks;
                for (int f = 0; f < forks; f++) {
                    int end = f == forks - 1 ? its.size() : (f + 1) * per;
                    sample.addFork(its.subList(f * per, end), allocs, str(b, "unit", ""));
                }
            }
            for (Object fail : (List<?>) b.getOrDefault("failures", List.of())) {
                sample.addFailure(String.valueOf(fail));
            }
            samples.put(sample.bench().name(), sample);
        }
        Instant started = Instant.parse(str(root, "started", Instant.EPOCH.toString()));
        Instant finished = Instant.parse(str(root, "finished", started.toString()));
        return new Report(s, env, samples, started, finished, str(root, "loadAfter", "?"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object o) {
        if (!(o instanceof Map<?, ?>)) {
            throw new IllegalArgumentException("not a results file: expected a JSON object");
        }
        return (Map<String, Object>) o;
    }

    private static String str(Map<String, Object> m, String key, String dflt) {
        return m.get(key) instanceof String s ? s : dflt;
    }

    private static int integer(Map<String, Object> m, String key, int dflt) {
        return m.get(key) instanceof Double d ? d.intValue() : dflt;
    }

    private static List<Double> doubles(Object o) {
        List<Double> out = new ArrayList<>();
        if (o instanceof List<?> l) {
            for (Object x : l) {
                if (x instanceof Double d) {
                    out.add(d);
                }
            }
        }
        return out;
    }

    /** A small JSON parser: objects, arrays, strings, numbers (as Double), true, false, null. */
    static final class Parser {
        private final String s;
        private int i;

        Parser(String s) {
            this.s = s;
        }

        Object value() {
            ws();
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            return switch (c) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> number();
            };
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            ws();
            if (peek() == '}') {
                i++;
                return m;
            }
            while (true) {
                ws();
                String k = string();
                ws();
                expect(':');
                m.put(k, value());
                ws();
                if (peek() == ',') {
                    i++;
                } else {
                    expect('}');
                    return m;
                }
            }
        }

        private List<Object> array() {
            List<Object> l = new ArrayList<>();
            i++;
            ws();
            if (peek() == ']') {
                i++;
                return l;
            }
            while (true) {
                l.add(value());
                ws();
                if (peek() == ',') {
                    i++;
                } else {
                    expect(']');
                    return l;
                }
            }
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c == '\\') {
                    char e = s.charAt(i++);
                    switch (e) {
                        case 'n' -> b.append('\n');
                        case 't' -> b.append('\t');
                        case 'r' -> b.append('\r');
                        case 'b' -> b.append('\b');
                        case 'f' -> b.append('\f');
                        case 'u' -> {
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                            i += 4;
                        }
                        default -> b.append(e);
                    }
                } else {
                    b.append(c);
                }
            }
        }

        private Double number() {
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            if (start == i) {
                throw error("unexpected character '" + s.charAt(i) + "'");
            }
            return Double.valueOf(s.substring(start, i));
        }

        private Object literal(String word, Object v) {
            if (!s.startsWith(word, i)) {
                throw error("expected " + word);
            }
            i += word.length();
            return v;
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private char peek() {
            return i < s.length() ? s.charAt(i) : '\0';
        }

        private void expect(char c) {
            if (peek() != c) {
                throw error("expected '" + c + "'");
            }
            i++;
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("results JSON, offset " + i + ": " + what);
        }
    }
}
