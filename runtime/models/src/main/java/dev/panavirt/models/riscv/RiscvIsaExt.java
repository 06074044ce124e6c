package dev.panavirt.models.riscv;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * The ISA extensions KVM names in {@code KVM_REG_RISCV_ISA_EXT} registers ({@code enum KVM_RISCV_ISA_EXT_ID} in
 * arch/riscv/include/uapi/asm/kvm.h, Linux 6.12): the ordinal is the extension's id, so the declaration order is the
 * uapi order and must only ever grow at the end. Each constant also carries the kernel's rule for turning it off in
 * a vCPU ({@code kvm_riscv_vcpu_isa_disable_allowed} in arch/riscv/kvm/vcpu_onereg.c); the rules for turning one on
 * depend on the host and live in {@link RiscvIsa}.
 */
public enum RiscvIsaExt {
    A(false), C(false), D(true), F(true), H(true), I(false), M(false), SVPBMT(true), SSTC(false), SVINVAL(false),
    ZIHINTPAUSE(false), ZICBOM(true), ZICBOZ(true), ZBB(false), SSAIA(true), V(true), SVNAPOT(false), ZBA(false),
    ZBS(false), ZICNTR(false), ZICSR(false), ZIFENCEI(false), ZIHPM(false), SMSTATEEN(true), ZICOND(false),
    ZBC(false), ZBKB(false), ZBKC(false), ZBKX(false), ZKND(false), ZKNE(false), ZKNH(false), ZKR(false),
    ZKSED(false), ZKSH(false), ZKT(false), ZVBB(false), ZVBC(false), ZVKB(false), ZVKG(false), ZVKNED(false),
    ZVKNHA(false), ZVKNHB(false), ZVKSED(false), ZVKSH(false), ZVKT(false), ZFH(false), ZFHMIN(false),
    ZIHINTNTL(false), ZVFH(false), ZVFHMIN(false), ZFA(false), ZTSO(false), ZACAS(false), SSCOFPMF(false),
    ZIMOP(false), ZCA(false), ZCB(false), ZCD(false), ZCF(false), ZCMOP(false), ZAWRS(false);

    /** {@code KVM_RISCV_ISA_EXT_MAX}: one past the highest id (62 in 6.12). */
    public static final int MAX = values().length;

    /**
     * The host ISA the model assumes unless told otherwise: RV64GC (I, M, A, F, D, C, Zicsr, Zifencei), H (a KVM
     * host runs in HS mode, so it has the hypervisor extension) and V. That is ids 0 A, 1 C, 2 D, 3 F, 4 H, 5 I,
     * 6 M, 15 V, 20 ZICSR and 21 ZIFENCEI.
     */
    public static final Set<RiscvIsaExt> RV64GCV_HOST =
            Collections.unmodifiableSet(EnumSet.of(A, C, D, F, H, I, M, V, ZICSR, ZIFENCEI));

    private static final RiscvIsaExt[] BY_ID = values();

    /**
     * Whether a vCPU may drop this extension before it first runs, on any host. False for the extensions with no
     * architectural way to hide them from a guest (the kernel's list of "Extensions which don't have any
     * mechanism to disable", plus Sscofpmf); SSAIA is true here but needs Smstateen on the host.
     */
    private final boolean mayDisable;

    RiscvIsaExt(boolean mayDisable) {
        this.mayDisable = mayDisable;
    }

    /** The {@code KVM_RISCV_ISA_EXT_*} id. */
    public int id() {
        return ordinal();
    }

    /** The extension with this id, or null when {@code id} is not below {@link #MAX}. */
    public static RiscvIsaExt ofId(long id) {
        return id >= 0 && id < MAX ? BY_ID[(int) id] : null;
    }

    /** The extension named {@code name} in any case ({@code "zicbom"}, {@code "V"}). */
    public static RiscvIsaExt ofName(String name) {
        return valueOf(name.toUpperCase(java.util.Locale.ROOT));
    }

    /** Whether the extension is one the kernel lets a VMM disable at all (before any host condition). */
    boolean mayDisable() {
        return mayDisable;
    }
}
