package dev.panavirt.headers.emit;

/** Escapes C text for use inside a Javadoc {@code {@code ...}} tag. */
final class Doc {
    private Doc() {
    }

    /**
     * Collapses whitespace and escapes what could end the comment, start a tag, unbalance the
     * inline tag's braces, or be read as a unicode escape by javac.
     */
    static String code(String s) {
        String t = s.replace("\\\n", " ").replaceAll("\\s+", " ").trim();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            switch (c) {
                case '*' -> sb.append(i + 1 < t.length() && t.charAt(i + 1) == '/' ? "&#42;" : "*");
                case '@' -> sb.append("&#64;");
                case '{' -> sb.append("&#123;");
                case '}' -> sb.append("&#125;");
                case '\\' -> sb.append("&#92;");
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                default -> sb.append(c < 0x20 || c > 0x7e ? "?" : String.valueOf(c));
            }
        }
        return sb.toString();
    }
}
