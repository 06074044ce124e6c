package dev.panavirt.bindings.verify;

import dev.panavirt.bindings.kvm.x86_64.kvm_h;
import dev.panavirt.bindings.kvm.x86_64.kvm_ioapic_state;
import dev.panavirt.bindings.kvm.x86_64.kvm_msr_entry;
import dev.panavirt.bindings.kvm.x86_64.kvm_msrs;
import dev.panavirt.bindings.kvm.x86_64.kvm_regs;
import dev.panavirt.bindings.kvm.x86_64.kvm_run;
import dev.panavirt.bindings.kvm.x86_64.kvm_sregs;
import dev.panavirt.bindings.vfio.vfio_h;
import dev.panavirt.bindings.vhost.vhost_h;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.UnionLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Literal values known from the kernel ABI (rust-vmm's and the kernel docs' numbers), and accessor
 * round trips: written through the generated accessors, read back at raw offsets.
 */
class GoldenValuesTest {

    @Test
    void ioctlNumbers() {
        // _IOR(KVMIO, 0x81, struct kvm_regs): the C type is unsigned long, hence a Java long.
        assertEquals(0x8090ae81L, kvm_h.KVM_GET_REGS());
        assertEquals(0x4090ae82L, kvm_h.KVM_SET_REGS());
        assertEquals(0xae80, kvm_h.KVM_RUN());
        assertEquals(0xae01, kvm_h.KVM_CREATE_VM());
        assertEquals(0xae00, kvm_h.KVM_GET_API_VERSION());
        assertEquals(12, kvm_h.KVM_API_VERSION());
        assertEquals(0x3b64, vfio_h.VFIO_GET_API_VERSION());
        assertEquals(0x8004af70L, vhost_h.VHOST_VDPA_GET_DEVICE_ID());
    }

    @Test
    void extensionConstants() {
        assertEquals(12, kvm_h.KVM_DEV_TYPE_LOONGARCH_IPI());
        assertEquals(13, kvm_h.KVM_DEV_TYPE_LOONGARCH_EIOINTC());
        assertEquals(14, kvm_h.KVM_DEV_TYPE_LOONGARCH_PCHPIC());
        assertEquals(0x40000004, dev.panavirt.bindings.kvm.loongarch64.kvm_h.KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL());
        assertEquals(3, dev.panavirt.bindings.kvm.loongarch64.kvm_h.KVM_DEV_LOONGARCH_EXTIOI_CTRL_LOAD_FINISHED());
        assertEquals(0x20000, dev.panavirt.bindings.kvm.arm64.kvm_h.KVM_VGIC_V3_ITS_SIZE());
        assertEquals(0x09000000, dev.panavirt.bindings.kvm.riscv64.kvm_h.KVM_REG_RISCV_VECTOR());
    }

    @Test
    void x86Layouts() {
        assertEquals(2352, kvm_run.sizeof());
        assertEquals(144, kvm_regs.sizeof());
        assertEquals(8, kvm_regs.rbx$offset());
        assertEquals(32, kvm_run.io$offset());
        assertEquals(8, kvm_msrs.entries$offset());
        assertEquals(16, kvm_msrs.entries$elementLayout().byteSize());
        // The exit union of kvm_run is an anonymous member: an unnamed group in the layout, its
        // members reached directly on kvm_run.
        boolean unnamedUnion = false;
        for (MemoryLayout m : kvm_run.layout().memberLayouts()) {
            if (m instanceof UnionLayout && m.name().isEmpty()) unnamedUnion = true;
        }
        assertTrue(unnamedUnion, "kvm_run's exit union should be an unnamed member: " + kvm_run.layout());
    }

    @Test
    void scalarRoundTrip() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment regs = kvm_regs.allocate(arena);
            kvm_regs.rbx(regs, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, regs.get(JAVA_LONG_UNALIGNED, 8));
            regs.set(JAVA_LONG_UNALIGNED, 128, 0xfff0L);
            assertEquals(0xfff0L, kvm_regs.rip(regs));
        }
    }

    @Test
    void nestedNamedRecordRoundTrip() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment run = kvm_run.allocate(arena);
            kvm_run.exit_reason(run, kvm_h.KVM_EXIT_IO());
            MemorySegment io = kvm_run.io(run);
            assertEquals(kvm_run.io.sizeof(), io.byteSize());
            kvm_run.io.direction(io, (byte) kvm_h.KVM_EXIT_IO_OUT());
            kvm_run.io.port(io, (short) 0x3f8);
            kvm_run.io.count(io, 1);
            kvm_run.io.data_offset(io, 0x1000L);
            assertEquals(kvm_h.KVM_EXIT_IO(), run.get(JAVA_INT_UNALIGNED, 8));
            assertEquals(1, run.get(JAVA_BYTE, 32));
            assertEquals((short) 0x3f8, run.get(JAVA_SHORT_UNALIGNED, 34));
            assertEquals(1, run.get(JAVA_INT_UNALIGNED, 36));
            assertEquals(0x1000L, run.get(JAVA_LONG_UNALIGNED, 40));
            assertEquals(GroupLayout.class.isInstance(kvm_run.io$layout()), true);
        }
    }

    @Test
    void arrayRoundTrip() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sregs = kvm_sregs.allocate(arena);
            assertArrayEquals(new long[] {4}, kvm_sregs.interrupt_bitmap$dimensions());
            kvm_sregs.interrupt_bitmap(sregs, 2, 0xdeadbeefL);
            long base = kvm_sregs.interrupt_bitmap$offset();
            assertEquals(0xdeadbeefL, sregs.get(JAVA_LONG_UNALIGNED, base + 16));
            assertEquals(0xdeadbeefL, kvm_sregs.interrupt_bitmap(sregs).get(JAVA_LONG_UNALIGNED, 16));
            assertThrows(IndexOutOfBoundsException.class, () -> kvm_sregs.interrupt_bitmap(sregs, 4));
        }
    }

    @Test
    void flexibleArrayRoundTrip() {
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(8 + 3 * 16, kvm_msrs.sizeof(3));
            MemorySegment msrs = kvm_msrs.allocate(3, arena);
            assertEquals(56, msrs.byteSize());
            kvm_msrs.nmsrs(msrs, 3);
            MemorySegment e2 = kvm_msrs.entries(msrs, 2);
            kvm_msr_entry.index(e2, 0xc0000080);
            kvm_msr_entry.data(e2, 0x500L);
            assertEquals(3, msrs.get(JAVA_INT_UNALIGNED, 0));
            assertEquals(0xc0000080, msrs.get(JAVA_INT_UNALIGNED, 8 + 2 * 16));
            assertEquals(0x500L, msrs.get(JAVA_LONG_UNALIGNED, 8 + 2 * 16 + 8));
            assertEquals(48, kvm_msrs.entries(msrs).byteSize());
        }
    }

    @Test
    void bitfieldUnitRoundTrip() {
        // union kvm_ioapic_state::redirtbl { __u64 bits; struct { __u8 vector; __u8 delivery_mode:3,
        // dest_mode:1, delivery_status:1, polarity:1, remote_irr:1, trig_mode:1; __u8 mask:1; __u8 reserve:7;
        // __u8 reserved[4]; __u8 dest_id; } fields; }: the eight bitfields form one 2-byte unit at byte 1.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = kvm_ioapic_state.allocate(arena);
            MemorySegment entry = kvm_ioapic_state.redirtbl(state, 3);
            MemorySegment fields = kvm_ioapic_state.redirtbl.fields(entry);
            assertEquals(1, kvm_ioapic_state.redirtbl.fields.bitfield0$offset());
            assertEquals(2, kvm_ioapic_state.redirtbl.fields.bitfield0$layout().byteSize());
            // delivery_mode = 5 (bits 0-2), trig_mode = 1 (bit 7), mask = 1 (bit 8)
            kvm_ioapic_state.redirtbl.fields.bitfield0(fields, (short) (5 | 1 << 7 | 1 << 8));
            kvm_ioapic_state.redirtbl.fields.dest_id(fields, (byte) 0x0f);
            long raw = kvm_ioapic_state.redirtbl.bits(entry);
            assertEquals(0x85L << 8 | 1L << 16 | 0x0fL << 56, raw);
        }
    }
}
