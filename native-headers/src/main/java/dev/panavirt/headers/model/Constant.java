package dev.panavirt.headers.model;

/**
 * An integer constant: an object-like macro evaluated by clang, or an enum constant.
 *
 * @param name   the C name
 * @param bytes  width of the C type of the value: 1, 2, 4 or 8 (selects byte/short/int/long)
 * @param value  the value; for widths below 8 it is the value of the C type sign- or zero-extended
 * @param header the header that defines it
 * @param source documentation: the macro's replacement text or the enum's name
 */
public record Constant(String name, int bytes, long value, String header, String source) {

    public String javaType() {
        return switch (bytes) {
            case 1 -> "byte";
            case 2 -> "short";
            case 4 -> "int";
            case 8 -> "long";
            default -> throw new IllegalStateException(name + ": width " + bytes);
        };
    }
}
