package dev.panavirt.lane;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The test cases of the JUnit (legacy XML) reports the guest brought back. */
record GuestReport(List<Case> cases) {

    /** Outcome of one guest test case. */
    enum Outcome { PASSED, FAILED, SKIPPED }

    /**
     * One {@code <testcase>}: for FAILED, {@code detail} is the stack trace text and {@code message} the
     * exception message; for SKIPPED, {@code message} is the reason.
     */
    record Case(String className, String name, double seconds, Outcome outcome, String message,
                String type, String detail) {
        String simpleClassName() {
            return className.substring(className.lastIndexOf('.') + 1);
        }
    }

    static GuestReport read(Path reportsDir) throws IOException {
        List<Case> cases = new ArrayList<>();
        if (!Files.isDirectory(reportsDir)) {
            return new GuestReport(cases);
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(reportsDir)) {
            files = s.filter(p -> p.getFileName().toString().matches("TEST-.*\\.xml")).sorted().toList();
        }
        for (Path file : files) {
            readFile(file, cases);
        }
        return new GuestReport(cases);
    }

    private static void readFile(Path file, List<Case> out) throws IOException {
        Element root = Xml.parse(Files.readString(file, StandardCharsets.UTF_8), file);
        for (Element tc : root.descendants("testcase")) {
            double seconds = 0;
            try {
                seconds = Double.parseDouble(tc.attr("time"));
            } catch (NumberFormatException ignored) {
                // leave 0
            }
            Outcome outcome = Outcome.PASSED;
            String message = "";
            String type = "";
            String detail = "";
            for (Element e : tc.children) {
                switch (e.name) {
                    case "failure", "error" -> {
                        outcome = Outcome.FAILED;
                        message = e.attr("message");
                        type = e.attr("type");
                        detail = e.text.toString();
                    }
                    case "skipped" -> {
                        if (outcome != Outcome.FAILED) {
                            outcome = Outcome.SKIPPED;
                            String text = e.attrs.containsKey("message") ? e.attr("message") : e.text.toString();
                            message = text.strip().lines().findFirst().orElse("skipped in the guest");
                        }
                    }
                    default -> { }
                }
            }
            out.add(new Case(tc.attr("classname"), tc.attr("name"), seconds, outcome, message, type, detail));
        }
    }

    /** An element of the report: name, attributes, child elements, text and CDATA content. */
    static final class Element {
        final String name;
        final Map<String, String> attrs = new LinkedHashMap<>();
        final List<Element> children = new ArrayList<>();
        final StringBuilder text = new StringBuilder();

        Element(String name) {
            this.name = name;
        }

        String attr(String key) {
            return attrs.getOrDefault(key, "");
        }

        List<Element> descendants(String wanted) {
            List<Element> found = new ArrayList<>();
            for (Element c : children) {
                if (c.name.equals(wanted)) {
                    found.add(c);
                }
                found.addAll(c.descendants(wanted));
            }
            return found;
        }
    }

    /**
     * Just enough XML for the JUnit report writer's output (elements, attributes, text, CDATA,
     * comments, the declaration); it needs nothing beyond java.base.
     */
    static final class Xml {
        private static final Pattern ATTR = Pattern.compile("([\\w:.-]+)\\s*=\\s*(\"([^\"]*)\"|'([^']*)')");

        private Xml() {
        }

        static Element parse(String xml, Path file) throws IOException {
            Element doc = new Element("#document");
            Deque<Element> open = new ArrayDeque<>();
            open.push(doc);
            int i = 0;
            while (i < xml.length()) {
                int lt = xml.indexOf('<', i);
                if (lt < 0) {
                    lt = xml.length();
                }
                open.peek().text.append(unescape(xml.substring(i, lt)));
                if (lt == xml.length()) {
                    break;
                }
                if (xml.startsWith("<![CDATA[", lt)) {
                    int end = find(xml, "]]>", lt, file);
                    open.peek().text.append(xml, lt + 9, end);
                    i = end + 3;
                } else if (xml.startsWith("<!--", lt)) {
                    i = find(xml, "-->", lt, file) + 3;
                } else if (xml.startsWith("<?", lt) || xml.startsWith("<!", lt)) {
                    i = find(xml, ">", lt, file) + 1;
                } else if (xml.startsWith("</", lt)) {
                    int end = find(xml, ">", lt, file);
                    String name = xml.substring(lt + 2, end).strip();
                    if (open.size() < 2 || !open.peek().name.equals(name)) {
                        throw new IOException("malformed guest report " + file + ": unexpected </" + name + ">");
                    }
                    open.pop();
                    i = end + 1;
                } else {
                    int end = tagEnd(xml, lt, file);
                    boolean empty = xml.charAt(end - 1) == '/';
                    String body = xml.substring(lt + 1, empty ? end - 1 : end);
                    int sp = 0;
                    while (sp < body.length() && !Character.isWhitespace(body.charAt(sp))) {
                        sp++;
                    }
                    Element e = new Element(body.substring(0, sp));
                    Matcher m = ATTR.matcher(body.substring(sp));
                    while (m.find()) {
                        e.attrs.put(m.group(1), unescape(m.group(3) != null ? m.group(3) : m.group(4)));
                    }
                    open.peek().children.add(e);
                    if (!empty) {
                        open.push(e);
                    }
                    i = end + 1;
                }
            }
            if (open.size() != 1 || doc.children.size() != 1) {
                throw new IOException("malformed guest report " + file + ": unbalanced elements");
            }
            return doc.children.getFirst();
        }

        private static int find(String xml, String what, int from, Path file) throws IOException {
            int at = xml.indexOf(what, from);
            if (at < 0) {
                throw new IOException("malformed guest report " + file + ": no " + what + " after offset " + from);
            }
            return at;
        }

        /** The '>' closing the start tag at {@code lt}, skipping quoted attribute values. */
        private static int tagEnd(String xml, int lt, Path file) throws IOException {
            char quote = 0;
            for (int j = lt + 1; j < xml.length(); j++) {
                char c = xml.charAt(j);
                if (quote != 0) {
                    if (c == quote) {
                        quote = 0;
                    }
                } else if (c == '"' || c == '\'') {
                    quote = c;
                } else if (c == '>') {
                    return j;
                }
            }
            throw new IOException("malformed guest report " + file + ": unterminated tag at offset " + lt);
        }

        static String unescape(String s) {
            if (s.indexOf('&') < 0) {
                return s;
            }
            StringBuilder sb = new StringBuilder(s.length());
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                int semi = c == '&' ? s.indexOf(';', i) : -1;
                if (semi < 0) {
                    sb.append(c);
                    continue;
                }
                String ent = s.substring(i + 1, semi);
                switch (ent) {
                    case "lt" -> sb.append('<');
                    case "gt" -> sb.append('>');
                    case "amp" -> sb.append('&');
                    case "quot" -> sb.append('"');
                    case "apos" -> sb.append('\'');
                    default -> {
                        try {
                            int cp = ent.startsWith("#x") ? Integer.parseInt(ent.substring(2), 16)
                                    : ent.startsWith("#") ? Integer.parseInt(ent.substring(1)) : -1;
                            if (cp < 0) {
                                sb.append(c);
                                continue;
                            }
                            sb.appendCodePoint(cp);
                        } catch (NumberFormatException e) {
                            sb.append(c);
                            continue;
                        }
                    }
                }
                i = semi;
            }
            return sb.toString();
        }
    }
}
