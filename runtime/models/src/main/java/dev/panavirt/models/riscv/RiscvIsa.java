package dev.panavirt.models.riscv;

import static dev.panavirt.models.riscv.RiscvVectorRegisters.KVM_REG_RISCV;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.SIZE_U64;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.TYPE_ISA_EXT;

import dev.panavirt.base.Errno;
import java.util.EnumSet;
import java.util.Set;

/**
 * One vCPU's ISA as KVM keeps it ({@code vcpu->arch.isa}) and the {@code KVM_REG_RISCV_ISA_EXT} registers over it,
 * after arch/riscv/kvm/vcpu_onereg.c (6.12): {@code kvm_riscv_vcpu_setup_isa}, {@code riscv_vcpu_get_isa_ext_single},
 * {@code riscv_vcpu_set_isa_ext_single}, {@code riscv_vcpu_get_isa_ext_multi}, {@code riscv_vcpu_set_isa_ext_multi},
 * {@code kvm_riscv_vcpu_isa_enable_allowed}, {@code kvm_riscv_vcpu_isa_disable_allowed} and
 * {@code copy_isa_ext_reg_indices}.
 *
 * <p>An extension the host lacks has no register at all (ENOENT), whether or not the uapi names it. Of the
 * host's extensions a vCPU starts with every one it may enable: all but H (never offered to a guest), Sscofpmf
 * without Ssaia on the host, and V when the VMM itself may not use V. A single register reads 0 or 1; writing the
 * current value always succeeds, any other value EBUSY once the vCPU has run, and before that 1 enables and 0
 * disables where the kernel allows it, anything else EINVAL. Multi registers hold 64 extensions each
 * (bit {@code id % 64} of register {@code id / 64}); {@code MULTI_DIS} reads the complement of {@code MULTI_EN},
 * and a write of either applies the single write to each set bit, ignoring its errors. Methods return a result
 * or {@code -errno} and allocate nothing; the caller ({@link RiscvVectorUnit}) synchronizes.
 */
final class RiscvIsa {
    private static final RiscvIsaExt[] ALL = RiscvIsaExt.values();

    private final Set<RiscvIsaExt> host;
    private final boolean vmmMayUseVector;
    private final EnumSet<RiscvIsaExt> vcpu = EnumSet.noneOf(RiscvIsaExt.class);

    /** {@code kvm_riscv_vcpu_setup_isa}: the host's extensions that a vCPU may have. */
    RiscvIsa(Set<RiscvIsaExt> host, boolean vmmMayUseVector) {
        this.host = host;
        this.vmmMayUseVector = vmmMayUseVector;
        for (RiscvIsaExt e : ALL) {
            if (host.contains(e) && enableAllowed(e)) {
                vcpu.add(e);
            }
        }
    }

    /** {@code kvm_riscv_vcpu_isa_enable_allowed}. */
    private boolean enableAllowed(RiscvIsaExt e) {
        return switch (e) {
            case H -> false;
            case SSCOFPMF -> host.contains(RiscvIsaExt.SSAIA); // needs Ssaia's interrupt filtering
            case V -> vmmMayUseVector; // riscv_v_vstate_ctrl_user_allowed()
            default -> true;
        };
    }

    /** {@code kvm_riscv_vcpu_isa_disable_allowed}. */
    private boolean disableAllowed(RiscvIsaExt e) {
        if (e == RiscvIsaExt.SSAIA) {
            return host.contains(RiscvIsaExt.SMSTATEEN); // hidden from the guest through Smstateen
        }
        return e.mayDisable();
    }

    /** Whether the vCPU has {@code e}. */
    boolean has(RiscvIsaExt e) {
        return vcpu.contains(e);
    }

    /** Whether the host has {@code e}. */
    boolean hostHas(RiscvIsaExt e) {
        return host.contains(e);
    }

    /** {@code riscv_vcpu_get_isa_ext_single}: 1 or 0, or {@code -ENOENT} for an id the host has no extension for. */
    long getSingle(long id) {
        RiscvIsaExt e = RiscvIsaExt.ofId(id);
        if (e == null || !host.contains(e)) {
            return -Errno.ENOENT;
        }
        return vcpu.contains(e) ? 1 : 0;
    }

    /** {@code riscv_vcpu_set_isa_ext_single}: 0 or {@code -errno}. */
    int setSingle(long id, long value, boolean ranOnce) {
        RiscvIsaExt e = RiscvIsaExt.ofId(id);
        if (e == null || !host.contains(e)) {
            return -Errno.ENOENT;
        }
        if (value == (vcpu.contains(e) ? 1 : 0)) {
            return 0;
        }
        if (ranOnce) {
            return -Errno.EBUSY;
        }
        if (value == 1 && enableAllowed(e)) {
            vcpu.add(e);
        } else if (value == 0 && disableAllowed(e)) {
            vcpu.remove(e);
        } else {
            return -Errno.EINVAL;
        }
        return 0; // the kernel also resets the vCPU's FP state here, which the model does not keep
    }

    /** Whether {@code index} names a multi register ({@code <= KVM_REG_RISCV_ISA_MULTI_REG_LAST}). */
    static boolean multiExists(long index) {
        return index >= 0 && index <= (RiscvIsaExt.MAX - 1) / 64;
    }

    /** {@code riscv_vcpu_get_isa_ext_multi}: the enabled bits of multi register {@code index} (which must exist). */
    long getMulti(long index) {
        long bits = 0;
        for (int i = 0; i < 64; i++) {
            long id = i + index * 64;
            if (id >= RiscvIsaExt.MAX) {
                break;
            }
            if (getSingle(id) == 1) {
                bits |= 1L << i;
            }
        }
        return bits;
    }

    /** {@code riscv_vcpu_set_isa_ext_multi}: a single write of {@code enable} per set bit, errors ignored. */
    void setMulti(long index, long bits, boolean enable, boolean ranOnce) {
        for (int i = 0; i < 64; i++) {
            long id = i + index * 64;
            if (id >= RiscvIsaExt.MAX) {
                break;
            }
            if ((bits & 1L << i) != 0) {
                setSingle(id, enable ? 1 : 0, ranOnce);
            }
        }
    }

    /** How many ids {@link #copyIds} lists: one per host extension. */
    int idCount() {
        return host.size();
    }

    /**
     * {@code copy_isa_ext_reg_indices}: the single register of every extension the host has, by id, whether or not
     * the vCPU has it (multi registers are never listed). Returns the next free index of {@code ids}.
     */
    int copyIds(long[] ids, int at) {
        for (RiscvIsaExt e : ALL) {
            if (host.contains(e)) {
                ids[at++] = KVM_REG_RISCV | SIZE_U64 | TYPE_ISA_EXT | e.id();
            }
        }
        return at;
    }
}
