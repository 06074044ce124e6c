package dev.panavirt.models.riscv;

import static dev.panavirt.models.riscv.RiscvVectorRegisters.DATAP;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.ISA_MULTI_DIS;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.ISA_MULTI_EN;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.ISA_SINGLE;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.LISTED_CSRS;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.LISTED_VECTOR_REGS;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.SR_VS;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.SUBTYPE_MASK;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.TYPE_ISA_EXT;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.TYPE_MASK;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.TYPE_VECTOR;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.V0;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.V31;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.VCSR;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.VL;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.VLENB;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.VREGS;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.VSTART;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.VTYPE;
import static dev.panavirt.models.riscv.RiscvVectorRegisters.XLEN_BYTES;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * A model of one RISC-V vCPU's vector unit and ISA as KVM presents them ({@code arch/riscv/kvm/vcpu_vector.c},
 * {@code vcpu_onereg.c} and the load/put hooks in {@code vcpu.c}): the {@code KVM_REG_RISCV_VECTOR} ONE_REG
 * registers with every size, number and pointer rule, the whole {@code KVM_REG_RISCV_ISA_EXT} type (a single
 * register per host extension and the multi registers, with the kernel's enable and disable rules: {@link RiscvIsa}),
 * the vector and ISA_EXT parts of {@code KVM_GET_REG_LIST}, and the lazy save/restore state machine on
 * {@code sstatus.VS} across {@link #load}, {@link #put}, {@link #reset} and guest vector execution.
 *
 * <p>Three register sets are kept apart, as in the kernel: the vCPU's saved context ({@code guest_context.vector},
 * what ONE_REG reads and writes), the physical vector register file (what the guest uses while loaded and the
 * host uses otherwise), and the host context saved around a guest's time on the CPU.
 *
 * <p>Errors: ENOENT (V not enabled, datap, number above 37, unknown register type, an extension the host lacks or
 * an id past {@code KVM_RISCV_ISA_EXT_MAX}, an unknown ISA subtype), EINVAL (size mismatch, vlenb value, an ISA
 * value other than 0 and 1, or a change the kernel does not allow), EFAULT (a buffer shorter than the id's size or
 * {@code null}: the model's stand-in for a user pointer that faults; a vector CSR or register set that faults still
 * takes the bytes given and zeroes the rest, as the kernel's copy into the context does), EBUSY (ISA change after the first run),
 * E2BIG (register list). Register types other than VECTOR and ISA_EXT are not modelled and answer ENOENT, as the
 * kernel's dispatcher does for an unknown type. RV64 only. Methods are synchronized, like the kernel's vCPU mutex;
 * the ONE_REG, load, put and guest paths allocate nothing.
 */
public final class RiscvVectorUnit {

    /** A register value as the little-endian bytes ONE_REG carries, read and written in place. */
    private static final VarHandle LE_LONG =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /**
     * What the host offers.
     *
     * @param vlenb           the host's VLEN/8 ({@code riscv_v_vsize / 32}): a power of two, 4..8192
     * @param hostIsa         the host's ISA extensions ({@code riscv_isa}, what {@code __riscv_isa_extension_available(NULL,
     *                        ...)} answers): each has an ISA_EXT register; V among them means the host CPU has V (the
     *                        vector registers exist, host state is saved and restored)
     * @param vmmMayUseVector {@code riscv_v_vstate_ctrl_user_allowed()}: whether V may be enabled for a vCPU
     */
    public record Config(int vlenb, Set<RiscvIsaExt> hostIsa, boolean vmmMayUseVector) {
        /** VLEN 128 on an RV64GC + H + V host ({@link RiscvIsaExt#RV64GCV_HOST}) that lets the VMM use V. */
        public static final Config DEFAULT = new Config(16, true, true);

        /** Checks the vlenb and copies the ISA. */
        public Config {
            if (vlenb < 4 || vlenb > 8192 || Integer.bitCount(vlenb) != 1) {
                throw new IllegalArgumentException("vlenb must be a power of two in 4..8192: " + vlenb);
            }
            EnumSet<RiscvIsaExt> isa = EnumSet.noneOf(RiscvIsaExt.class);
            isa.addAll(hostIsa);
            hostIsa = Collections.unmodifiableSet(isa);
        }

        /**
         * The default host ISA ({@link RiscvIsaExt#RV64GCV_HOST}), with or without V.
         *
         * @param hostHasVector whether the host has V
         */
        public Config(int vlenb, boolean hostHasVector, boolean vmmMayUseVector) {
            this(vlenb, hostHasVector ? RiscvIsaExt.RV64GCV_HOST : withoutV(RiscvIsaExt.RV64GCV_HOST), vmmMayUseVector);
        }

        private static Set<RiscvIsaExt> withoutV(Set<RiscvIsaExt> isa) {
            EnumSet<RiscvIsaExt> s = EnumSet.copyOf(isa);
            s.remove(RiscvIsaExt.V);
            return s;
        }

        /** A default host with V and this vlenb. */
        public static Config vlenb(int vlenb) {
            return new Config(vlenb, true, true);
        }

        /** This host with another ISA (same vlenb and VMM permission). */
        public Config withHostIsa(Set<RiscvIsaExt> isa) {
            return new Config(vlenb, isa, vmmMayUseVector);
        }

        /** Whether the host CPU has V. */
        public boolean hostHasVector() {
            return hostIsa.contains(RiscvIsaExt.V);
        }
    }

    private final Config config;
    private final int vlenb;

    private final RiscvIsa isa;
    private boolean ranOnce;
    private boolean loaded;
    /** {@code guest_context.sstatus}; the model tracks only VS. */
    private long sstatus;

    /** {@code guest_context.vector}: vstart, vl, vtype, vcsr, vlenb, then the data buffer. */
    private final long[] ctxCsrs = new long[LISTED_CSRS];
    private final byte[] ctxRegs;

    /** The physical vector unit. */
    private final long[] hwCsrs = new long[LISTED_CSRS];
    private final byte[] hwRegs;

    /** {@code host_context.vector}. */
    private final long[] hostCsrs = new long[LISTED_CSRS];
    private final byte[] hostRegs;

    private long guestSaves;
    private long guestRestores;

    /** A vCPU as {@code KVM_CREATE_VCPU} leaves it: V enabled if the host allows it, then reset. */
    public RiscvVectorUnit(Config config) {
        this.config = config;
        this.vlenb = config.vlenb();
        this.ctxRegs = new byte[VREGS * vlenb];
        this.hwRegs = new byte[VREGS * vlenb];
        this.hostRegs = new byte[VREGS * vlenb];
        this.isa = new RiscvIsa(config.hostIsa(), config.vmmMayUseVector()); // kvm_riscv_vcpu_setup_isa
        vectorReset();
    }

    /** The host configuration. */
    public Config config() {
        return config;
    }

    // ---- the state machine (kvm_riscv_vcpu_vector_reset, _guest_vector_save/_restore, vcpu load/put) ----

    private void setVs(long vs) {
        sstatus = (sstatus & ~SR_VS) | vs;
    }

    private void vectorReset() {
        sstatus &= ~SR_VS;
        ctxCsrs[VLENB] = vlenb;
        if (isa.has(RiscvIsaExt.V)) {
            setVs(VectorStatus.INITIAL.bits());
            Arrays.fill(ctxRegs, (byte) 0); // vstart, vl, vtype and vcsr are left alone
        } else {
            setVs(VectorStatus.OFF.bits());
        }
    }

    /**
     * vCPU reset ({@code kvm_riscv_reset_vcpu}): a loaded vCPU is put first and loaded again afterwards.
     * VS becomes Initial with the buffer zeroed when V is enabled, Off otherwise; vlenb is re-read from the host.
     */
    public synchronized void reset() {
        boolean wasLoaded = loaded;
        if (wasLoaded) {
            put();
        }
        vectorReset();
        if (wasLoaded) {
            load();
        }
    }

    /**
     * {@code kvm_arch_vcpu_load}, as at KVM_RUN entry (the model counts it as the vCPU having run): host vector
     * state is saved if the host has V; if VS is not Off the guest's buffer is restored (when V is in the vCPU's
     * ISA) and VS becomes Clean. A load of a loaded vCPU does nothing.
     */
    public synchronized void load() {
        if (loaded) {
            return;
        }
        loaded = true;
        ranOnce = true;
        if (config.hostHasVector()) {
            copy(hwCsrs, hwRegs, hostCsrs, hostRegs);
        }
        if (VectorStatus.of(sstatus) != VectorStatus.OFF) {
            if (isa.has(RiscvIsaExt.V)) {
                copy(ctxCsrs, ctxRegs, hwCsrs, hwRegs);
                guestRestores++;
            }
            setVs(VectorStatus.CLEAN.bits());
        }
    }

    /**
     * {@code kvm_arch_vcpu_put}: if VS is Dirty the hardware state is saved into the buffer (when V is in the
     * vCPU's ISA) and VS becomes Clean; then the host state is restored. A put of a vCPU not loaded does nothing.
     */
    public synchronized void put() {
        if (!loaded) {
            return;
        }
        if (VectorStatus.of(sstatus) == VectorStatus.DIRTY) {
            if (isa.has(RiscvIsaExt.V)) {
                copy(hwCsrs, hwRegs, ctxCsrs, ctxRegs);
                guestSaves++;
            }
            setVs(VectorStatus.CLEAN.bits());
        }
        if (config.hostHasVector()) {
            copy(hostCsrs, hostRegs, hwCsrs, hwRegs);
        }
        loaded = false;
    }

    /** Copies vstart, vl, vtype, vcsr (not the read-only vlenb) and the 32 registers. */
    private static void copy(long[] fromCsrs, byte[] fromRegs, long[] toCsrs, byte[] toRegs) {
        System.arraycopy(fromCsrs, VSTART, toCsrs, VSTART, VCSR + 1);
        System.arraycopy(fromRegs, 0, toRegs, 0, fromRegs.length);
    }

    // ---- the guest, while loaded ----

    private void requireLoaded() {
        if (!loaded) {
            throw new IllegalStateException("the guest runs only while the vCPU is loaded");
        }
    }

    /**
     * The guest executes a vector instruction that changes vector state: the hardware sets VS to Dirty. With VS
     * Off the instruction traps instead and nothing changes.
     *
     * @return whether it executed
     * @throws IllegalStateException when the vCPU is not loaded
     */
    public synchronized boolean guestVectorInstruction() {
        requireLoaded();
        if (VectorStatus.of(sstatus) == VectorStatus.OFF) {
            return false;
        }
        setVs(VectorStatus.DIRTY.bits());
        return true;
    }

    /** The guest writes {@code vlenb} bytes into {@code v<n>} (a vector load); Dirty, or a trap when VS is Off. */
    public synchronized boolean guestWriteVreg(int n, byte[] value) {
        if (!guestVectorInstruction()) {
            return false;
        }
        System.arraycopy(value, 0, hwRegs, checkVreg(n) * vlenb, vlenb);
        return true;
    }

    /** The guest sets vstart, vl, vtype and vcsr (vsetvl and CSR writes); Dirty, or a trap when VS is Off. */
    public synchronized boolean guestWriteCsrs(long vstart, long vl, long vtype, long vcsr) {
        if (!guestVectorInstruction()) {
            return false;
        }
        hwCsrs[VSTART] = vstart;
        hwCsrs[VL] = vl;
        hwCsrs[VTYPE] = vtype;
        hwCsrs[VCSR] = vcsr;
        return true;
    }

    /** The guest reads {@code v<n>} (a vector store; VS is unchanged), or traps when VS is Off. */
    public synchronized boolean guestReadVreg(int n, byte[] into) {
        requireLoaded();
        if (VectorStatus.of(sstatus) == VectorStatus.OFF) {
            return false;
        }
        System.arraycopy(hwRegs, checkVreg(n) * vlenb, into, 0, vlenb);
        return true;
    }

    /** The host's own use of the vector unit while the vCPU is not loaded: writes {@code v<n>} in hardware. */
    public synchronized void hostWriteVreg(int n, byte[] value) {
        if (loaded) {
            throw new IllegalStateException("the vector unit belongs to the guest while the vCPU is loaded");
        }
        System.arraycopy(value, 0, hwRegs, checkVreg(n) * vlenb, vlenb);
    }

    /** Copies the physical register {@code v<n>} (whoever owns the unit now) into {@code into}. */
    public synchronized void hardwareVreg(int n, byte[] into) {
        System.arraycopy(hwRegs, checkVreg(n) * vlenb, into, 0, vlenb);
    }

    /** The physical vstart, vl, vtype or vcsr (index {@link RiscvVectorRegisters#VSTART}..VCSR). */
    public synchronized long hardwareCsr(int index) {
        return hwCsrs[index];
    }

    private static int checkVreg(int n) {
        if (n < 0 || n >= VREGS) {
            throw new IllegalArgumentException("vector register must be 0..31: " + n);
        }
        return n;
    }

    // ---- ONE_REG ----

    /**
     * {@code KVM_GET_ONE_REG}: copies the register's {@code KVM_REG_SIZE(id)} bytes, little-endian, into
     * {@code buf}.
     */
    public synchronized void getOneReg(long id, byte[] buf) throws ErrnoException {
        int rc;
        long type = id & TYPE_MASK;
        if (type == TYPE_VECTOR) {
            rc = getVector(id, buf);
        } else if (type == TYPE_ISA_EXT) {
            rc = getIsaExt(id, buf);
        } else {
            rc = Errno.ENOENT;
        }
        if (rc != 0) {
            throw failure("KVM_GET_ONE_REG", rc, id);
        }
    }

    /** {@code KVM_SET_ONE_REG}: takes {@code KVM_REG_SIZE(id)} little-endian bytes from {@code buf}. */
    public synchronized void setOneReg(long id, byte[] buf) throws ErrnoException {
        int rc;
        long type = id & TYPE_MASK;
        if (type == TYPE_VECTOR) {
            rc = setVector(id, buf);
        } else if (type == TYPE_ISA_EXT) {
            rc = setIsaExt(id, buf);
        } else {
            rc = Errno.ENOENT;
        }
        if (rc != 0) {
            throw failure("KVM_SET_ONE_REG", rc, id);
        }
    }

    private static ErrnoException failure(String op, int errno, long id) {
        return new ErrnoException(op, errno, "reg 0x" + Long.toHexString(id) + " " + RiscvVectorRegisters.describe(id));
    }

    private static boolean fits(byte[] buf, int size) {
        return buf != null && buf.length >= size;
    }

    /** Validates a vector register number and size ({@code kvm_riscv_vcpu_vreg_addr}); 0 when it exists. */
    private int vregCheck(long number, int size) {
        if (number < V0) {
            if (size != XLEN_BYTES) {
                return Errno.EINVAL;
            }
            return number == DATAP ? Errno.ENOENT : 0;
        }
        if (number <= V31) {
            return size != vlenb ? Errno.EINVAL : 0;
        }
        return Errno.ENOENT;
    }

    private int getVector(long id, byte[] buf) {
        if (!isa.has(RiscvIsaExt.V)) {
            return Errno.ENOENT;
        }
        long number = RiscvVectorRegisters.vectorNumber(id);
        int size = RiscvVectorRegisters.regSize(id);
        int rc = vregCheck(number, size);
        if (rc != 0) {
            return rc;
        }
        if (!fits(buf, size)) {
            return Errno.EFAULT;
        }
        if (number < V0) {
            LE_LONG.set(buf, 0, ctxCsrs[(int) number]);
        } else {
            System.arraycopy(ctxRegs, (int) (number - V0) * vlenb, buf, 0, vlenb);
        }
        return 0;
    }

    private int setVector(long id, byte[] buf) {
        if (!isa.has(RiscvIsaExt.V)) {
            return Errno.ENOENT;
        }
        long number = RiscvVectorRegisters.vectorNumber(id);
        int size = RiscvVectorRegisters.regSize(id);
        if (number == VLENB) {
            if (size != XLEN_BYTES) {
                return Errno.EINVAL;
            }
            if (!fits(buf, size)) {
                return Errno.EFAULT;
            }
            return (long) LE_LONG.get(buf, 0) != ctxCsrs[VLENB] ? Errno.EINVAL : 0;
        }
        int rc = vregCheck(number, size);
        if (rc != 0) {
            return rc;
        }
        // copy_from_user straight into the context (kvm_riscv_vcpu_set_reg_vector): a short user buffer still
        // lands its bytes, the rest of the register is zeroed, and the call fails with EFAULT
        int given = buf == null ? 0 : Math.min(buf.length, size);
        if (number < V0) {
            long v = 0;   // no validation: restored verbatim on next load
            for (int i = 0; i < given; i++) {
                v |= (buf[i] & 0xffL) << (8 * i);
            }
            ctxCsrs[(int) number] = v;
        } else {
            int at = (int) (number - V0) * vlenb;
            if (given > 0) {
                System.arraycopy(buf, 0, ctxRegs, at, given);
            }
            Arrays.fill(ctxRegs, at + given, at + vlenb, (byte) 0);
        }
        return given < size ? Errno.EFAULT : 0;
    }

    // ---- KVM_REG_RISCV_ISA_EXT (vcpu_onereg.c, kvm_riscv_vcpu_get/set_reg_isa_ext) ----

    /** The register number of an ISA_EXT id: without arch, size and type bits, subtype still in. */
    private static long isaNumber(long id) {
        return id & ~(RiscvVectorRegisters.ARCH_MASK | RiscvVectorRegisters.SIZE_MASK | TYPE_ISA_EXT);
    }

    private int getIsaExt(long id, byte[] buf) {
        if (RiscvVectorRegisters.regSize(id) != XLEN_BYTES) {
            return Errno.EINVAL;
        }
        long number = isaNumber(id);
        long subtype = number & SUBTYPE_MASK;
        number &= ~SUBTYPE_MASK;
        long value;
        if (subtype == ISA_SINGLE) {
            value = isa.getSingle(number);
            if (value < 0) {
                return (int) -value;
            }
        } else if (subtype == ISA_MULTI_EN || subtype == ISA_MULTI_DIS) {
            if (!RiscvIsa.multiExists(number)) {
                return Errno.ENOENT;
            }
            value = isa.getMulti(number);
            if (subtype == ISA_MULTI_DIS) {
                value = ~value;
            }
        } else {
            return Errno.ENOENT;
        }
        if (!fits(buf, XLEN_BYTES)) {
            return Errno.EFAULT;
        }
        LE_LONG.set(buf, 0, value);
        return 0;
    }

    private int setIsaExt(long id, byte[] buf) {
        if (RiscvVectorRegisters.regSize(id) != XLEN_BYTES) {
            return Errno.EINVAL;
        }
        long number = isaNumber(id);
        long subtype = number & SUBTYPE_MASK;
        number &= ~SUBTYPE_MASK;
        if (!fits(buf, XLEN_BYTES)) {
            return Errno.EFAULT; // copied before the subtype is looked at
        }
        long value = (long) LE_LONG.get(buf, 0);
        if (subtype == ISA_SINGLE) {
            return -isa.setSingle(number, value, ranOnce);
        }
        if (subtype == ISA_MULTI_EN || subtype == ISA_MULTI_DIS) {
            if (!RiscvIsa.multiExists(number)) {
                return Errno.ENOENT;
            }
            isa.setMulti(number, value, subtype == ISA_MULTI_EN, ranOnce);
            return 0;
        }
        return Errno.ENOENT;
    }

    /** Whether the vCPU has extension {@code ext} (what its single ISA_EXT register reads as 1). */
    public synchronized boolean hasExtension(RiscvIsaExt ext) {
        return isa.has(ext);
    }

    // ---- KVM_GET_REG_LIST ----

    /**
     * How many registers this model lists: 37 vector ids when V is enabled, plus one ISA_EXT id per host extension.
     */
    public synchronized int regCount() {
        return (isa.has(RiscvIsaExt.V) ? LISTED_VECTOR_REGS : 0) + isa.idCount();
    }

    /**
     * {@code KVM_GET_REG_LIST} with room for {@code n} ids, in the kernel's order ({@code
     * kvm_riscv_vcpu_copy_reg_indices}): vstart, vl, vtype, vcsr, vlenb (U64), v0..v31 (size log2(vlenb)) when V is
     * enabled ({@code copy_vector_reg_indices}; datap is never listed), then the single ISA_EXT register of every
     * extension the host has, by id ({@code copy_isa_ext_reg_indices}).
     *
     * @throws ErrnoException E2BIG when {@code n} is smaller than {@link #regCount()}
     */
    public synchronized long[] regList(int n) throws ErrnoException {
        int count = regCount();
        if (n < count) {
            throw new ErrnoException("KVM_GET_REG_LIST", Errno.E2BIG, "n " + n + " < " + count + " registers");
        }
        long[] ids = new long[count];
        int i = 0;
        if (isa.has(RiscvIsaExt.V)) {
            for (int c = 0; c < LISTED_CSRS; c++) {
                ids[i++] = RiscvVectorRegisters.csrId(c);
            }
            int ctxVlenb = (int) ctxCsrs[VLENB];
            for (int v = 0; v < VREGS; v++) {
                ids[i++] = RiscvVectorRegisters.vregId(v, ctxVlenb);
            }
        }
        isa.copyIds(ids, i);
        return ids;
    }

    // ---- observation ----

    /** The VS state in the saved sstatus. */
    public synchronized VectorStatus vectorStatus() {
        return VectorStatus.of(sstatus);
    }

    /** The saved host-level sstatus ({@code guest_context.sstatus}; only VS is modelled). */
    public synchronized long sstatus() {
        return sstatus;
    }

    /** Whether V is in this vCPU's ISA. */
    public synchronized boolean isaV() {
        return isa.has(RiscvIsaExt.V);
    }

    /** Whether the vCPU has run ({@code ran_atleast_once}). */
    public synchronized boolean hasRun() {
        return ranOnce;
    }

    /** Whether the vCPU is loaded. */
    public synchronized boolean isLoaded() {
        return loaded;
    }

    /** The vector register size in bytes. */
    public int vlenb() {
        return vlenb;
    }

    /** How often the guest's registers were saved to the buffer on put. */
    public synchronized long guestSaves() {
        return guestSaves;
    }

    /** How often the guest's registers were restored from the buffer on load. */
    public synchronized long guestRestores() {
        return guestRestores;
    }

    /** A copy of the whole state. */
    public synchronized RiscvVectorState snapshot() {
        return new RiscvVectorState(isa.has(RiscvIsaExt.V), ranOnce, loaded, VectorStatus.of(sstatus), ctxCsrs[VSTART], ctxCsrs[VL],
                ctxCsrs[VTYPE], ctxCsrs[VCSR], ctxCsrs[VLENB], ctxRegs);
    }

    @Override
    public synchronized String toString() {
        return "V=" + (isa.has(RiscvIsaExt.V) ? "on" : "off") + " VS=" + VectorStatus.of(sstatus).label() + " loaded="
                + (loaded ? "yes" : "no") + " ran=" + (ranOnce ? "yes" : "no") + " vlenb=" + vlenb;
    }
}
