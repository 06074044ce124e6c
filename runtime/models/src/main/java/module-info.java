/**
 * Software models of kernel devices (GICv3 ITS, LoongArch EIOINTC, RISC-V vector registers, the VFIO type1 IOMMU and QEMU's edu device) and the replay
 * engine that drives them, or a kernel device, from a session script. Models use plain Java types only
 * ({@code dev.panavirt.base}); from the bindings they take the uapi constants, never a layout or a
 * {@code MemorySegment} (a test checks that).
 */
module dev.panavirt.models {
    requires transitive dev.panavirt.base;
    requires dev.panavirt.bindings;

    exports dev.panavirt.models.gicv3;
    exports dev.panavirt.models.loongarch;
    exports dev.panavirt.models.riscv;
    exports dev.panavirt.models.vdpa;
    exports dev.panavirt.models.vfio;
    exports dev.panavirt.replay;
    exports dev.panavirt.replay.remote;
    exports dev.panavirt.replay.targets;
}
