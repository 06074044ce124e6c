/**
 * The header-to-FFM generator: drives libclang through FFM and writes panavirt's bindings in
 * jextract's shape. Run it through {@code native-headers/regen.sh}.
 */
module dev.panavirt.headers {
    exports dev.panavirt.headers.model;
    exports dev.panavirt.headers.emit;
    exports dev.panavirt.headers.clang;
}
