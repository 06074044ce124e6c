package dev.panavirt.kvm.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.replay.remote.CallAnswerer;
import dev.panavirt.testsupport.KvmTest;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The kernel session target on this host's {@code /dev/kvm} (x86): the rules it adds to the ioctls (a vCPU the
 * session lacks, room in the register list, short buffers) and the kernel's errors passed through by name. Its
 * answers on riscv64 are the lane's ({@code lane/run --arch riscv64 --java}, {@code CallAnswererTest}).
 */
@KvmTest
class OneRegSessionTargetTest {
    private static final long RISCV_VLENB = 0x8030_0000_0900_0004L;

    @Test
    void rulesOfItsOwnAndTheKernelsErrors() throws Exception {
        try (Kvm kvm = Kvm.open(); OneRegSessionTarget t = OneRegSessionTarget.open(kvm, 2)) {
            ErrnoException none = assertThrows(ErrnoException.class, () -> t.getOneReg(2, RISCV_VLENB));
            assertEquals(Errno.EINVAL, none.errno());
            // an x86 vCPU has no RISC-V registers: the kernel's refusal, named after the ioctl
            ErrnoException k = assertThrows(ErrnoException.class, () -> t.getOneReg(1, RISCV_VLENB));
            assertEquals("KVM_GET_ONE_REG", k.operation());
            assertThrows(UnsupportedOperationException.class, () -> t.setOneReg(0, RISCV_VLENB, new byte[4]));
            assertThrows(UnsupportedOperationException.class, () -> t.state());
            long[] ids;
            try {
                ids = t.vcpu(0).regList();
            } catch (ErrnoException e) {
                // kernels whose x86 KVM has no KVM_GET_REG_LIST: the same error through the session target
                assertEquals(e.errno(), assertThrows(ErrnoException.class, () -> t.regList(0, 1000)).errno());
                return;
            }
            assertArrayEquals(ids, t.regList(0, ids.length));
            if (ids.length > 0) {
                assertEquals(Errno.E2BIG, assertThrows(ErrnoException.class,
                        () -> t.regList(0, ids.length - 1)).errno());
            }
        }
    }

    @Test
    void closingTheSessionClosesItsVcpus() throws Exception {
        try (Kvm kvm = Kvm.open()) {
            OneRegSessionTarget t = OneRegSessionTarget.open(kvm, 1);
            t.close();
            assertThrows(IllegalStateException.class, () -> t.vcpu(0).getOneReg(RISCV_VLENB));
            assertThrows(IllegalArgumentException.class, () -> OneRegSessionTarget.open(kvm, 0));
        }
    }

    @Test
    void theAgentProtocolOverTheKernel() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            new CallAnswerer(n -> {
                try {
                    return OneRegSessionTarget.open(kvm, n);
                } catch (ErrnoException e) {
                    throw new IllegalStateException(e);
                }
            }).run(new BufferedReader(new StringReader(
                    "session a 1\nreg-get 0 0x8030000009000004\nstate\nvcpu-load 0\nreg-get 1 0x8030000009000004\n"
                    + "session b 2\nreg-get 1 0x8030000009000004\n")), out);
        }
        List<String> t = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(7, t.size(), String.join("\n", t));
        assertTrue(t.get(1).matches("reg-get 0 0x8030000009000004 => E[A-Z0-9]+"), t.get(1));
        assertEquals(List.of("state => unsupported", "vcpu-load 0 => unsupported",
                "reg-get 1 0x8030000009000004 => EINVAL", "session b 2"), t.subList(2, 6));
        assertEquals(t.get(1).replace("reg-get 0", "reg-get 1"), t.get(6), "vCPU 1 exists in the second session");
    }
}
