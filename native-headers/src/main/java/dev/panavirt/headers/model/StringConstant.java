package dev.panavirt.headers.model;

/**
 * An object-like macro whose value is a string literal, emitted the way jextract does: a method
 * returning a NUL-terminated segment allocated on first use.
 *
 * @param name   the C name
 * @param value  the literal's bytes (printable ASCII only; anything else is reported, not emitted)
 * @param header the header that defines it
 * @param source documentation: the macro's definition as written
 */
public record StringConstant(String name, String value, String header, String source) {
}
