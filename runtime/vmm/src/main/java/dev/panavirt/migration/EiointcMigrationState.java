package dev.panavirt.migration;

import dev.panavirt.base.DeviceAttributes;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.loongarch64.kvm_h;
import dev.panavirt.models.loongarch.EiointcRegisters;
import dev.panavirt.models.loongarch.EiointcRegisters.Register;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;

/**
 * A LoongArch EIOINTC's state as a STATE section, read and written only through the device attributes of
 * {@code KVM_DEV_TYPE_LOONGARCH_EIOINTC} ({@code arch/loongarch/kvm/intc/eiointc.c}), so the same code serves the
 * in-kernel device and the model: {@code KVM_DEV_LOONGARCH_EXTIOI_GRP_SW_STATUS} for num_cpu, features and the
 * status word, {@code KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS} for every register as 4-byte granules
 * ({@code kvm_eiointc_regs_access}: NODETYPE, IPMAP, ENABLE, BOUNCE, ISR, COREMAP, and COREISR once per vCPU row
 * below num_cpu, selected by the attribute's bits 16 and up).
 *
 * <p>{@link #restore} follows the kernel's constraints: num_cpu and features first, through
 * {@code KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL} ({@code kvm_eiointc_ctrl_access}; the SW_STATUS writes of both are ignored
 * by {@code kvm_eiointc_sw_status_access}), since a COREISR row at or beyond num_cpu is refused; then the registers
 * (raw stores, no routing), then the status word through SW_STATUS (after INIT_FEATURE, which sets ENABLE when the
 * virt extension is absent), and {@code KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED} last, which rebuilds the routing
 * shadows ({@code sw_coremap}, {@code sw_coreisr}) from what was loaded. QEMU restores in the same order
 * ({@code hw/intc/loongarch_extioi_kvm.c}, {@code kvm_extioi_put}); it sets num_cpu and features once when it creates
 * the device, from the machine's configuration ({@code kvm_extioi_realize}), where this section carries them and
 * sets them again, so a destination created with other values still ends up as the source was.
 *
 * <p>Not carried: the level of each vCPU's interrupt pins. LOAD_FINISHED rebuilds the shadows without raising any
 * vCPU line; with the kernel those levels are vCPU state (ESTAT), moved with the vCPU registers, not the device's.
 */
public final class EiointcMigrationState {
    /** The first word of the encoding: "EIO" version 1. */
    public static final int MAGIC = 0x45494F01;
    /** Most COREISR rows: one per routable vCPU ({@code EIOINTC_ROUTE_MAX_VCPUS}). */
    public static final int MAX_CPUS = EiointcRegisters.ROUTE_MAX_VCPUS;

    /** The VM-wide registers carried, in section order. */
    private static final Register[] SHARED = {Register.NODETYPE, Register.IPMAP, Register.ENABLE, Register.BOUNCE,
            Register.ISR, Register.COREMAP};
    /** Number of 4-byte granules of {@link #SHARED}. */
    private static final int SHARED_WORDS = Arrays.stream(SHARED).mapToInt(EiointcMigrationState::words).sum();
    /** Granules of one COREISR row. */
    private static final int ROW_WORDS = words(Register.COREISR);

    private final int numCpu;
    private final int features;
    private final int status;
    private final int[] shared;
    private final int[] coreisr;

    private EiointcMigrationState(int numCpu, int features, int status, int[] shared, int[] coreisr) {
        this.numCpu = numCpu;
        this.features = features;
        this.status = status;
        this.shared = shared;
        this.coreisr = coreisr;
    }

    private static int words(Register r) {
        return (r.end() - r.start() + 1) / 4;
    }

    /** {@return num_cpu, as {@code KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_NUM_CPU} reads it} */
    public int numCpu() {
        return numCpu;
    }

    /** {@return the feature word} */
    public int features() {
        return features;
    }

    /** {@return the status word} */
    public int status() {
        return status;
    }

    /**
     * Reads every register of a stopped VM's EIOINTC.
     *
     * @throws ErrnoException as {@code KVM_GET_DEVICE_ATTR} reports it
     * @throws IllegalStateException when the device reports a num_cpu above {@value #MAX_CPUS}
     */
    public static EiointcMigrationState capture(DeviceAttributes eiointc) throws ErrnoException {
        int sw = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_SW_STATUS();
        int numCpu = (int) eiointc.getAttr(sw, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_NUM_CPU(), 4);
        if (Integer.compareUnsigned(numCpu, MAX_CPUS) > 0) {
            throw new IllegalStateException("EIOINTC reports num_cpu " + Integer.toUnsignedString(numCpu));
        }
        int features = (int) eiointc.getAttr(sw, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_FEATURE(), 4);
        int status = (int) eiointc.getAttr(sw, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_STATE(), 4);
        int regs = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS();
        int[] shared = new int[SHARED_WORDS];
        int k = 0;
        for (Register r : SHARED) {
            for (int i = 0; i < words(r); i++) {
                shared[k++] = (int) eiointc.getAttr(regs, r.start() + 4L * i, 4);
            }
        }
        int[] coreisr = new int[numCpu * ROW_WORDS];
        for (int cpu = 0; cpu < numCpu; cpu++) {
            for (int i = 0; i < ROW_WORDS; i++) {
                coreisr[cpu * ROW_WORDS + i] = (int) eiointc.getAttr(regs, coreisrAttr(cpu, i), 4);
            }
        }
        return new EiointcMigrationState(numCpu, features, status, shared, coreisr);
    }

    private static long coreisrAttr(int cpu, int granule) {
        return (long) cpu << 16 | (Register.COREISR.start() + 4L * granule);
    }

    /**
     * Loads this state into the destination's EIOINTC, in the order of the class comment.
     *
     * @throws ErrnoException the first refused attribute, e.g. {@code EINVAL} for a num_cpu the device refuses
     */
    public void restore(DeviceAttributes eiointc) throws ErrnoException {
        int ctrl = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL();
        eiointc.setAttr(ctrl, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU(), Integer.toUnsignedLong(numCpu), 4);
        eiointc.setAttr(ctrl, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_FEATURE(), Integer.toUnsignedLong(features), 4);
        int regs = kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_REGS();
        int k = 0;
        for (Register r : SHARED) {
            for (int i = 0; i < words(r); i++) {
                eiointc.setAttr(regs, r.start() + 4L * i, Integer.toUnsignedLong(shared[k++]), 4);
            }
        }
        for (int cpu = 0; cpu < numCpu; cpu++) {
            for (int i = 0; i < ROW_WORDS; i++) {
                eiointc.setAttr(regs, coreisrAttr(cpu, i), Integer.toUnsignedLong(coreisr[cpu * ROW_WORDS + i]), 4);
            }
        }
        eiointc.setAttr(kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_SW_STATUS(), kvm_h.KVM_DEV_LOONGARCH_EXTIOI_SW_STATUS_STATE(),
                Integer.toUnsignedLong(status), 4);
        eiointc.setAttr(ctrl, kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED());
    }

    /** {@return the big-endian encoding {@link #decode} reads} */
    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(numCpu);
            out.writeInt(features);
            out.writeInt(status);
            for (int w : shared) {
                out.writeInt(w);
            }
            for (int w : coreisr) {
                out.writeInt(w);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * Reads what {@link #encode} wrote.
     *
     * @throws IOException on a wrong magic or version, a num_cpu above {@value #MAX_CPUS}, a short record, or bytes
     *                     after the record
     */
    public static EiointcMigrationState decode(byte[] bytes) throws IOException {
        ByteArrayInputStream raw = new ByteArrayInputStream(bytes);
        DataInputStream in = new DataInputStream(raw);
        try {
            int magic = in.readInt();
            if (magic != MAGIC) {
                throw new IOException(String.format("EIOINTC state: magic/version 0x%08x, expected 0x%08x", magic, MAGIC));
            }
            int numCpu = in.readInt();
            if (Integer.compareUnsigned(numCpu, MAX_CPUS) > 0) {
                throw new IOException("EIOINTC state: num_cpu " + Integer.toUnsignedString(numCpu) + ", at most "
                        + MAX_CPUS);
            }
            int features = in.readInt();
            int status = in.readInt();
            int[] shared = new int[SHARED_WORDS];
            for (int i = 0; i < shared.length; i++) {
                shared[i] = in.readInt();
            }
            int[] coreisr = new int[numCpu * ROW_WORDS];
            for (int i = 0; i < coreisr.length; i++) {
                coreisr[i] = in.readInt();
            }
            if (raw.available() != 0) {
                throw new IOException("EIOINTC state: " + raw.available() + " bytes after the record");
            }
            return new EiointcMigrationState(numCpu, features, status, shared, coreisr);
        } catch (EOFException e) {
            throw new IOException("EIOINTC state: the record ends early (" + bytes.length + " bytes)", e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EiointcMigrationState s && numCpu == s.numCpu && features == s.features
                && status == s.status && Arrays.equals(shared, s.shared) && Arrays.equals(coreisr, s.coreisr);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(shared) + Arrays.hashCode(coreisr)) + numCpu;
    }

    @Override
    public String toString() {
        return "EiointcMigrationState[numCpu=" + numCpu + ", features=0x" + Integer.toHexString(features) + ", status=0x"
                + Integer.toHexString(status) + ", shared=" + Arrays.toString(shared) + ", coreisr="
                + Arrays.toString(coreisr) + "]";
    }
}
