package dev.panavirt.models.loongarch;

import static dev.panavirt.models.loongarch.EiointcRegisters.BITMAP_TARGETS;
import static dev.panavirt.models.loongarch.EiointcRegisters.COREMAP_WORDS;
import static dev.panavirt.models.loongarch.EiointcRegisters.EIOINTC_BASE;
import static dev.panavirt.models.loongarch.EiointcRegisters.ENABLE;
import static dev.panavirt.models.loongarch.EiointcRegisters.ENABLE_CPU_ENCODE;
import static dev.panavirt.models.loongarch.EiointcRegisters.ENABLE_INT_ENCODE;
import static dev.panavirt.models.loongarch.EiointcRegisters.IRQS;
import static dev.panavirt.models.loongarch.EiointcRegisters.IRQ_WORDS;
import static dev.panavirt.models.loongarch.EiointcRegisters.NODETYPE_WORDS;
import static dev.panavirt.models.loongarch.EiointcRegisters.PINS;
import static dev.panavirt.models.loongarch.EiointcRegisters.ROUTE_MAX_VCPUS;
import static dev.panavirt.models.loongarch.EiointcRegisters.VIRT_BASE;
import static dev.panavirt.models.loongarch.EiointcRegisters.VIRT_CONFIG;
import static dev.panavirt.models.loongarch.EiointcRegisters.VIRT_FEATURES;

import dev.panavirt.base.Errno;
import dev.panavirt.models.loongarch.EiointcRegisters.Register;

/**
 * The EIOINTC register state ({@code struct loongarch_eiointc}, {@code arch/loongarch/include/asm/kvm_eiointc.h})
 * and its routing logic ({@code arch/loongarch/kvm/intc/eiointc.c}), without locking or error reporting:
 * guest accessors return 0 or a positive errno and leave a read's result in {@link #readValue}. The owning
 * {@link EiointcDevice} serialises every call on its lock, as the kernel does with {@code eiointc->lock}.
 *
 * <p>Layout: every register is a little-endian image in {@code long} words, like the kernel's u64 arrays.
 * Per-vCPU rows are flattened: {@code coreisr[vcpu * IRQ_WORDS + w]},
 * {@code swCoreisr[(vcpu * PINS + pin) * IRQ_WORDS + w]}. Nothing here allocates.
 */
final class EiointcCore {

    final LoongArchVm vm;

    final long[] nodetype = new long[NODETYPE_WORDS];
    long ipmap;
    final long[] enable = new long[IRQ_WORDS];
    final long[] bounce = new long[IRQ_WORDS];
    final long[] isr = new long[IRQ_WORDS];
    final long[] coreisr = new long[ROUTE_MAX_VCPUS * IRQ_WORDS];
    final long[] coremap = new long[COREMAP_WORDS];
    int numCpu;
    int features;
    int status;

    /** Shadow: target vcpu id per vector (initially all vCPU 0). */
    final int[] swCoremap = new int[IRQS];
    /** Shadow: vectors currently asserted per (vCPU, pin). */
    final long[] swCoreisr = new long[ROUTE_MAX_VCPUS * PINS * IRQ_WORDS];
    /** Observable: asserted pins per vCPU, one bit per pin, changed only by line raise/lower calls. */
    final int[] pinLevel = new int[ROUTE_MAX_VCPUS];

    long readExits;
    long writeExits;
    EiointcLineListener listener = EiointcLineListener.NONE;

    /** The result of the last successful guest read: the destination GPR value (sign-extended). */
    long readValue;

    EiointcCore(LoongArchVm vm) {
        this.vm = vm;
    }

    // ---- routing (eiointc_update_irq, eiointc_update_sw_coremap, eiointc_set_sw_coreisr) ----

    /**
     * The pin vector {@code irq} is routed to, from its IPMAP byte and the INT_ENCODE status bit
     * ({@code eiointc_update_irq()}).
     */
    int pinOf(int irq) {
        int b = (int) (ipmap >>> ((irq >>> 5) * 8)) & 0xFF;
        if ((status & ENABLE_INT_ENCODE) == 0) {
            int lowest = Integer.numberOfTrailingZeros(b); // 32 when b == 0
            return lowest < BITMAP_TARGETS ? lowest : 0;
        }
        // Encoded: the byte is the pin. The kernel leaves values past its shadow array undefined; the model
        // keeps IP0..IP15 and sends anything larger to IP0.
        return b < PINS ? b : 0;
    }

    /** The physical CPU id a COREMAP byte selects under the current CPU_ENCODE status bit, or -1 for none. */
    int cpuidOf(int routeByte) {
        if ((status & ENABLE_CPU_ENCODE) != 0) {
            return routeByte;
        }
        if (routeByte == 0) {
            return -1;
        }
        int lowest = Integer.numberOfTrailingZeros(routeByte);
        return lowest < BITMAP_TARGETS ? lowest : 0;
    }

    private boolean shadowBusy(int base) {
        return (swCoreisr[base] | swCoreisr[base + 1] | swCoreisr[base + 2] | swCoreisr[base + 3]) != 0;
    }

    /** {@code eiointc_update_irq}: asserts or de-asserts vector {@code irq} at its current target. */
    void updateIrq(int irq, boolean level) {
        int pin = pinOf(irq);
        int cpu = swCoremap[irq];
        if (!vm.hasVcpu(cpu)) {
            return; // the kernel logs "invalid target cpu" and does nothing
        }
        int word = irq >>> 6;
        long bit = 1L << irq;
        int shadow = (cpu * PINS + pin) * IRQ_WORDS;
        boolean othersAsserted;
        if (level) {
            if ((enable[word] & bit) == 0) {
                return;
            }
            coreisr[cpu * IRQ_WORDS + word] |= bit;
            othersAsserted = shadowBusy(shadow);
            swCoreisr[shadow + word] |= bit;
        } else {
            coreisr[cpu * IRQ_WORDS + word] &= ~bit;
            swCoreisr[shadow + word] &= ~bit;
            othersAsserted = shadowBusy(shadow);
        }
        if (othersAsserted) {
            return;
        }
        if (level) {
            pinLevel[cpu] |= 1 << pin;
        } else {
            pinLevel[cpu] &= ~(1 << pin);
        }
        listener.lineChanged(cpu, pin, level);
    }

    /** {@code eiointc_set_irq}: a device line changed. */
    void setIrq(int irq, boolean level) {
        long bit = 1L << irq;
        if (level) {
            isr[irq >>> 6] |= bit;
        } else {
            isr[irq >>> 6] &= ~bit;
        }
        updateIrq(irq, level);
    }

    /**
     * {@code eiointc_update_sw_coremap}: re-resolves the targets of the {@code len} vectors from {@code first}
     * whose route bytes are in {@code routes}; with {@code notify}, an asserted vector moves its line.
     */
    void updateRoutes(int first, long routes, int len, boolean notify) {
        for (int i = 0; i < len; i++) {
            int cpuid = cpuidOf((int) (routes >>> (8 * i)) & 0xFF);
            int vcpu = vm.vcpuByCpuid(cpuid);
            if (vcpu < 0) {
                continue; // no such CPU: the write is kept, the route is not changed
            }
            int irq = first + i;
            if (swCoremap[irq] == vcpu) {
                continue;
            }
            if (notify && (isr[irq >>> 6] & (1L << irq)) != 0) {
                updateIrq(irq, false);
                swCoremap[irq] = vcpu;
                updateIrq(irq, true);
            } else {
                swCoremap[irq] = vcpu;
            }
        }
    }

    /**
     * {@code KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED}: rebuilds the shadow state from the raw registers
     * without touching any vCPU line. Like the kernel, the per-pin shadow looks the COREMAP byte up as a raw
     * physical CPU id (no bitmap decoding), while the route shadow is rebuilt with the mode's decoding.
     */
    void loadFinished() {
        for (int irq = 0; irq < IRQS; irq++) {
            int pin = pinOf(irq);
            int cpuid = (int) (coremap[irq >>> 3] >>> ((irq & 7) * 8)) & 0xFF;
            int vcpu = vm.vcpuByCpuid(cpuid);
            if (vcpu < 0) {
                continue;
            }
            long bit = 1L << irq;
            int word = irq >>> 6;
            int at = (vcpu * PINS + pin) * IRQ_WORDS + word;
            if ((coreisr[vcpu * IRQ_WORDS + word] & bit) != 0) {
                swCoreisr[at] |= bit;
            } else {
                swCoreisr[at] &= ~bit;
            }
        }
        for (int w = 0; w < COREMAP_WORDS; w++) {
            updateRoutes(w * 8, coremap[w], 8, false);
        }
    }

    // ---- guest IOCSR accesses: the main block (kvm_eiointc_read / kvm_eiointc_write) ----

    static boolean isIocsrWidth(int width) {
        return width == 1 || width == 2 || width == 4 || width == 8;
    }

    static long signExtend(long data, int width) {
        return switch (width) {
            case 1 -> (byte) data;
            case 2 -> (short) data;
            case 4 -> (int) data;
            default -> data;
        };
    }

    /** Reads the main block as vCPU {@code vcpu}; on success {@link #readValue} holds the GPR value. */
    int readMain(int vcpu, long address, int width) {
        if (!isIocsrWidth(width) || (address & (width - 1)) != 0) {
            return Errno.EINVAL;
        }
        readExits++;
        int shift = (int) (address & 7) * 8;
        long offset = (address & ~7L) - EIOINTC_BASE;
        Register reg = Register.at(offset);
        if (reg == null) {
            return Errno.EINVAL;
        }
        int index = (int) (offset - reg.start()) >>> 3;
        long data;
        switch (reg) {
            case NODETYPE -> data = nodetype[index];
            case IPMAP -> data = ipmap;
            case ENABLE -> data = enable[index];
            case BOUNCE -> data = bounce[index];
            case COREISR -> data = coreisr[vcpu * IRQ_WORDS + index];
            case COREMAP -> data = coremap[index];
            default -> {
                return Errno.EINVAL; // ISR is not decoded for guests
            }
        }
        readValue = signExtend(data >>> shift, width);
        return 0;
    }

    /** Writes the low {@code width} bytes of {@code value} to the main block as vCPU {@code vcpu}. */
    int writeMain(int vcpu, long address, int width, long value) {
        if (!isIocsrWidth(width) || (address & (width - 1)) != 0) {
            return Errno.EINVAL;
        }
        writeExits++;
        int shift = (int) (address & 7) * 8;
        long fieldMask = width == 8 ? -1L : (1L << (8 * width)) - 1;
        long mask = fieldMask << shift;
        long data = (value & fieldMask) << shift;
        long offset = (address & ~7L) - EIOINTC_BASE;
        Register reg = Register.at(offset);
        if (reg == null) {
            return Errno.EINVAL;
        }
        int index = (int) (offset - reg.start()) >>> 3;
        switch (reg) {
            case NODETYPE -> nodetype[index] = (nodetype[index] & ~mask) | data;
            case IPMAP -> ipmap = (ipmap & ~mask) | data; // no re-evaluation of asserted lines
            case ENABLE -> writeEnable(index, mask, data);
            case BOUNCE -> bounce[index] = (bounce[index] & ~mask) | data; // bounce routing not emulated
            case COREISR -> clearCoreisr(vcpu, index, data);
            case COREMAP -> {
                coremap[index] = (coremap[index] & ~mask) | data;
                updateRoutes(index * 8, coremap[index], 8, true);
            }
            default -> {
                return Errno.EINVAL;
            }
        }
        return 0;
    }

    private void writeEnable(int index, long mask, long data) {
        long old = enable[index];
        enable[index] = (old & ~mask) | data;
        long rising = enable[index] & ~old & isr[index];
        while (rising != 0) {
            int bit = Long.numberOfTrailingZeros(rising);
            updateIrq(index * 64 + bit, true);
            rising &= rising - 1;
        }
        long falling = ~enable[index] & old & isr[index];
        while (falling != 0) {
            int bit = Long.numberOfTrailingZeros(falling);
            updateIrq(index * 64 + bit, false);
            falling &= falling - 1;
        }
    }

    private void clearCoreisr(int vcpu, int index, long data) {
        int at = vcpu * IRQ_WORDS + index;
        long old = coreisr[at];
        coreisr[at] = old & ~data;
        long cleared = data & old;
        while (cleared != 0) {
            int bit = Long.numberOfTrailingZeros(cleared);
            updateIrq(index * 64 + bit, false); // acts on the vector's current target, which may differ
            cleared &= cleared - 1;
        }
    }

    // ---- guest IOCSR accesses: the V-EIOINTC page (kvm_eiointc_virt_read / kvm_eiointc_virt_write) ----

    /** Reads the virt page; the handler stores a u32 whatever the width (unknown offsets store nothing: 0). */
    int readVirt(long address, int width) {
        long offset = address - VIRT_BASE;
        long data = 0;
        if (offset == VIRT_FEATURES) {
            data = Integer.toUnsignedLong(features);
        } else if (offset == VIRT_CONFIG) {
            data = Integer.toUnsignedLong(status);
        }
        readValue = signExtend(data, width);
        return 0;
    }

    /** Writes the virt page; the handler takes the low 32 bits of the source register whatever the width. */
    int writeVirt(long address, int value) {
        long offset = address - VIRT_BASE;
        if (offset == VIRT_FEATURES) {
            return Errno.EPERM; // read-only
        }
        if (offset == VIRT_CONFIG) {
            if ((status & ENABLE) != 0 && value != 0) {
                return Errno.EPERM; // once enabled only 0 is accepted
            }
            status = value & features;
        }
        return 0;
    }
}
