package dev.panavirt.headers;

import dev.panavirt.headers.model.BindingPackage;
import dev.panavirt.headers.model.CType;
import dev.panavirt.headers.model.Constant;
import dev.panavirt.headers.model.Member;
import dev.panavirt.headers.model.Record;
import dev.panavirt.headers.model.Scalar;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The arch-neutral reduction with hand-built models: only what every tree agrees on is kept. */
class AgreementTest {

    /** {@code struct regs { T r; }} of the given scalar, and {@code struct run { __u32 reason; struct regs regs; }}. */
    private static BindingPackage tree(String arch, Scalar regScalar, long ioctl) {
        Record regs = new Record("regs", "struct regs", "asm/kvm.h", false, regScalar.size, regScalar.size);
        regs.members().add(new Member.Field("r", "r", 0, new CType.ScalarType(regScalar), "T r"));
        long runSize = 8 + regScalar.size;
        Record run = new Record("run", "struct run", "linux/kvm.h", false, runSize, 8);
        run.members().add(new Member.Field("reason", "reason", 0, new CType.ScalarType(Scalar.INT), "__u32 reason"));
        run.members().add(new Member.Field("regs", "regs", 8, new CType.RecordType(regs), "struct regs regs"));
        Record irqfd = new Record("irqfd", "struct irqfd", "linux/kvm.h", false, 8, 4);
        irqfd.members().add(new Member.Field("fd", "fd", 0, new CType.ScalarType(Scalar.INT), "__u32 fd"));
        irqfd.members().add(new Member.Field("gsi", "gsi", 4, new CType.ScalarType(Scalar.INT), "__u32 gsi"));
        return new BindingPackage("p", "kvm_h", List.of("linux/kvm.h"), arch, List.of(irqfd, regs, run),
                List.of(new Constant("RUN", 4, 0xae80, "linux/kvm.h", "_IO(KVMIO, 0x80)"),
                        new Constant("GET_REGS", 8, ioctl, "linux/kvm.h", "_IOR(KVMIO, 0x81, struct regs)")),
                List.of(), List.of(), BindingPackage.newSkipped());
    }

    @Test
    void keepsOnlyWhatEveryTreeAgreesOn() {
        BindingPackage x86 = tree("x86", Scalar.LONG_LONG, 0x8008ae81L);
        BindingPackage same = tree("riscv", Scalar.LONG_LONG, 0x8008ae81L);
        BindingPackage other = tree("arm64", Scalar.INT, 0x8004ae81L);
        BindingPackage kept = Agreement.keepAgreed(x86, Map.of("riscv", same));
        assertEquals(3, kept.records().size());
        assertEquals(2, kept.constants().size());

        kept = Agreement.keepAgreed(tree("x86", Scalar.LONG_LONG, 0x8008ae81L), Map.of("arm64", other));
        assertEquals(List.of("struct irqfd"), kept.records().stream().map(Record::cName).toList());
        assertEquals(List.of("RUN"), kept.constants().stream().map(Constant::name).toList());
        List<String> records = kept.skipped().get(Agreement.RECORDS);
        assertEquals(2, records.size());
        assertTrue(records.get(1).startsWith("struct run (linux/kvm.h: x86 struct run struct @0 size 16 align 8,"
                + " arm64 struct run struct @0 size 12 align 8)"), records.get(1));
        assertEquals(List.of("GET_REGS (linux/kvm.h: x86 long 0x8008ae81, arm64 long 0x8004ae81)"),
                kept.skipped().get(Agreement.CONSTANTS));
    }

    @Test
    void factsNameEveryMemberPath() {
        BindingPackage x86 = tree("x86", Scalar.LONG_LONG, 0);
        Record run = x86.records().get(2);
        assertEquals(List.of("struct run struct @0 size 16 align 8", "struct run.reason INT @0 size 4",
                "struct run.regs (struct regs) struct @8 size 8 align 8", "struct run.regs (struct regs).r LONG_LONG @8 size 8"),
                Agreement.facts(run));
    }
}
