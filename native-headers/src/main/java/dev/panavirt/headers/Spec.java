package dev.panavirt.headers;

import java.util.List;

/**
 * One generated package: which headers of which header tree, parsed for which clang target.
 *
 * @param packageName Java package
 * @param headerClass name of the class holding constants and C layouts
 * @param arch        {@code make headers_install ARCH=} value, also the tree's directory name
 * @param target      clang target triple
 * @param headers     bound headers, include-relative; their macros, enums and records are generated
 * @param archNeutral the package serves every arch though parsed with one tree (kvm, vfio, vhost,
 *                    virtio): the headers are parsed on every tree as well, and its records, constants,
 *                    string macros and typedef layouts are kept only where every tree agrees
 */
record Spec(String packageName, String headerClass, String arch, String target, List<String> headers,
            boolean archNeutral) {

    static final String EXT_HEADER = "panavirt/kvm_ext.h";

    /** Arch tree name -> (Java package suffix, clang triple). */
    static final List<String[]> ARCHES = List.of(
            new String[] {"x86", "x86_64", "x86_64-linux-gnu"},
            new String[] {"arm64", "arm64", "aarch64-linux-gnu"},
            new String[] {"riscv", "riscv64", "riscv64-linux-gnu"},
            new String[] {"loongarch", "loongarch64", "loongarch64-linux-gnu"});

    /** Every package the bindings module holds, in generation order. */
    static List<Spec> all() {
        List<Spec> out = new java.util.ArrayList<>();
        for (String[] a : ARCHES) {
            out.add(new Spec("dev.panavirt.bindings.kvm." + a[1], "kvm_h", a[0], a[2],
                    List.of("linux/kvm.h", "asm/kvm.h", EXT_HEADER), false));
        }
        // What linux/kvm.h defines identically on every arch (kvm_irqfd, KVM_RUN, KVM_CAP_*, ...),
        // for the arch-neutral runtime code.
        out.add(new Spec("dev.panavirt.bindings.kvm", "kvm_h", "x86", "x86_64-linux-gnu", List.of("linux/kvm.h"),
                true));
        out.add(new Spec("dev.panavirt.bindings.vfio", "vfio_h", "x86", "x86_64-linux-gnu",
                List.of("linux/vfio.h"), true));
        out.add(new Spec("dev.panavirt.bindings.vhost", "vhost_h", "x86", "x86_64-linux-gnu",
                List.of("linux/vhost.h", "linux/vhost_types.h"), true));
        out.add(new Spec("dev.panavirt.bindings.virtio", "virtio_h", "x86", "x86_64-linux-gnu",
                List.of("linux/virtio_config.h", "linux/virtio_ring.h", "linux/virtio_net.h", "linux/virtio_blk.h"),
                true));
        return out;
    }
}
