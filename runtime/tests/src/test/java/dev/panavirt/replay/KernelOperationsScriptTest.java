package dev.panavirt.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.models.riscv.RiscvVectorUnit;
import dev.panavirt.models.riscv.VectorStatus;
import dev.panavirt.replay.targets.ItsSessionTarget;
import dev.panavirt.replay.targets.RiscvVectorSessionTarget;
import dev.panavirt.replay.targets.SessionTargets;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/**
 * The session operations for what KVM does that scripts could not say before: {@code reg-list}
 * ({@code KVM_GET_REG_LIST}), {@code vcpu-reset}, {@code vector-exec} (the guest executes a vector instruction),
 * {@code msi} without a device id, {@code create-device} (a second {@code KVM_CREATE_DEVICE}) and {@code read-gpr}
 * (a read as the guest's register holds it), each against the model whose kernel rule it reaches; and a RISC-V
 * host ISA chosen for the session.
 */
class KernelOperationsScriptTest {

    private static List<String> run(SessionTarget target, String script) throws Script.ScriptException {
        SessionRunner.Outcome o = new SessionRunner(target).run(Script.parse(script));
        assertTrue(o.passed(), String.join("\n", o.lines()));
        return o.lines();
    }

    private static List<String> runEiointc(String script) throws Exception {
        SessionRunner.Outcome o = SessionTargets.runner("eiointc",
                new SessionTargets.Options(OptionalInt.of(4), SessionTargets.DEFAULT_VLENB)).run(Script.parse(script));
        assertTrue(o.passed(), String.join("\n", o.lines()));
        return o.lines();
    }

    private static String result(String line) {
        return line.substring(line.indexOf(" -> ") + 4);
    }

    @Test
    void regListGivesTheCountAndIdsOrE2big() throws Exception {
        List<String> out = run(new RiscvVectorSessionTarget(), """
                reg-list 0 0 expect E2BIG
                reg-set 0 0x800000000700000f 0 expect EINVAL
                reg-set 0 0x803000000700000f 0
                reg-list 0 10
                reg-list 1 10 expect EINVAL
                """);
        assertEquals("\"10: 0x8030000007000000 0x8030000007000001 0x8030000007000002 0x8030000007000003 "
                + "0x8030000007000004 0x8030000007000005 0x8030000007000006 0x803000000700000f 0x8030000007000014 "
                + "0x8030000007000015\"", result(out.get(3)), "V off: only the host's ISA_EXT ids");
    }

    @Test
    void vectorExecDirtiesTheUnitAndResetMakesItInitialAgain() throws Exception {
        RiscvVectorSessionTarget t = new RiscvVectorSessionTarget();
        run(t, """
                vector-exec 0 expect EINVAL
                reg-set 0 0x8040000009000007 bytes:0102030405060708090a0b0c0d0e0f10
                vcpu-load 0
                vector-exec 0 expect ran
                vcpu-put 0
                vcpu-reset 0
                reg-get 0 0x8040000009000007 expect bytes:00000000000000000000000000000000
                """);
        assertEquals(VectorStatus.INITIAL, t.vcpu(0).vectorStatus());
        assertEquals(1, t.vcpu(0).guestSaves(), "the Dirty unit was saved on put");
    }

    @Test
    void vectorExecTrapsWithTheUnitOff() throws Exception {
        run(new RiscvVectorSessionTarget(1, new RiscvVectorUnit.Config(16, true, false)), """
                vcpu-load 0
                vector-exec 0 expect trapped
                state expect "vcpu0 V=off VS=Off loaded=yes ran=yes vlenb=16"
                """);
    }

    @Test
    void itsRefusesAnMsiWithoutDeviceIdAndTakesASecondIts() throws Exception {
        ItsSessionTarget t = ItsSessionTarget.create();
        run(t, """
                msi 0x8090040 0 expect EINVAL
                create-device expect ok
                """);
        assertEquals(2, t.device().vgic().devices().size());
    }

    @Test
    void eiointcReadsSignExtendIntoTheGprAndASecondDeviceIsEinval() throws Exception {
        runEiointc("""
                attr-set KVM_DEV_LOONGARCH_EXTIOI_GRP_CTRL KVM_DEV_LOONGARCH_EXTIOI_CTRL_INIT_NUM_CPU 4 4
                write ENABLE 8 0x80000000000080ff
                read ENABLE 2 expect 0x80ff
                read-gpr ENABLE 2 expect 0xffffffffffff80ff
                read-gpr ENABLE 1 expect 0xffffffffffffffff
                read-gpr ENABLE 8 expect 0x80000000000080ff
                read-gpr ENABLE+4 4 expect 0xffffffff80000000
                create-device expect EINVAL
                """);
    }

    @Test
    void targetsWithoutTheOperationSayUnsupported() throws Exception {
        List<String> out = runEiointc("""
                vcpu-reset 0
                vector-exec 0
                reg-list 0 4
                """);
        for (String line : out) {
            assertEquals("unsupported", result(line), line);
        }
    }

    @Test
    void aConfiguredHostIsaDecidesWhichIsaExtIdsExist() throws Exception {
        SessionRunner runner = SessionTargets.runner("riscv-vector",
                SessionTargets.Options.defaults().withHostIsa("I, m,A,ssaia,SSCOFPMF"));
        SessionRunner.Outcome o = runner.run(Script.parse("""
                reg-get 0 0x8030000007000000 expect 1
                reg-get 0 0x803000000700000f expect ENOENT
                reg-get 0 0x8030000007000036 expect 1
                reg-set 0 0x803000000700000e 0 expect EINVAL
                reg-list 0 5 expect "5: 0x8030000007000000 0x8030000007000005 0x8030000007000006 0x803000000700000e 0x8030000007000036"
                """));
        assertTrue(o.passed(), String.join("\n", o.lines()));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SessionTargets.Options.defaults().withHostIsa("i,zzz"));
        assertEquals("host-isa: no RISC-V ISA extension named zzz", e.getMessage());
    }
}
