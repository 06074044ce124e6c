/**
 * The plain-Java vocabulary shared by the kernel-object layer and the software models: errno, device
 * attributes, guest RAM, register windows. Depends on nothing but {@code java.base}.
 */
module dev.panavirt.base {
    exports dev.panavirt.base;
}
