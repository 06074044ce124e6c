package dev.panavirt.headers.model;

/**
 * A typedef of a C scalar or pointer, emitted in the header class as a layout field the way jextract
 * does ({@code public static final ValueLayout.OfInt __u32 = C_INT;}).
 *
 * @param name   the typedef name
 * @param scalar the scalar its canonical type is
 * @param header the header that declares it, include-relative
 * @param cDecl  documentation, e.g. {@code typedef unsigned int __u32}
 */
public record Typedef(String name, Scalar scalar, String header, String cDecl) {
}
