package dev.panavirt.kvm.session;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.kvm.Kvm;
import dev.panavirt.models.riscv.RiscvVectorRegisters;
import dev.panavirt.replay.remote.CallAnswerer;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The Java kernel agent: the protocol of {@code lane/agent/README.md} on standard input and output, each session
 * a fresh {@link OneRegSessionTarget} on {@code /dev/kvm}. It runs inside a nested host (the riscv64 lane with
 * {@code lane/run --arch riscv64 --java}), where its transcript goes to {@code KernelDiff compare} like the C
 * agent's. On riscv64 it first prints the host's facts as the C agent does: {@code host-isa} (the
 * {@code KVM_RISCV_ISA_EXT_*} ids whose single ISA_EXT register a fresh vCPU has) and {@code host-vlenb}.
 *
 * <p>Exit status: 0 done, 2 a protocol error or a failing VM/vCPU creation (message on standard error).
 */
public final class KernelAgent {

    /** The highest ISA_EXT id probed, as the C agent does. */
    static final int ISA_EXT_PROBE = 128;

    private KernelAgent() {
    }

    /** Runs the agent on standard input and output. */
    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        long opened = 0;
        long facts = 0;
        try (Kvm kvm = Kvm.open()) {
            opened = System.nanoTime();
            if (System.getProperty("os.arch").equals("riscv64")) {
                riscvFacts(kvm, out);
            }
            facts = System.nanoTime();
            new CallAnswerer(n -> {
                try {
                    return OneRegSessionTarget.open(kvm, n);
                } catch (ErrnoException e) {
                    throw new UncheckedIOException(e);
                }
            }).run(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), out);
        } catch (ErrnoException | UncheckedIOException | IllegalArgumentException e) {
            out.flush();
            System.err.println("kernel agent: " + e.getMessage());
            System.exit(2);
        }
        out.flush();
        // where the time goes under emulation: the JVM's start, then the calls (standard error, not the transcript)
        long started = ProcessHandle.current().info().startInstant()
                .map(i -> java.time.Duration.between(i, java.time.Instant.now()).toMillis()).orElse(-1L);
        long end = System.nanoTime();
        System.err.printf("kernel agent: %d ms since the process started; in main %d ms: /dev/kvm open %d, host facts %d,"
                + " calls %d%n", started, (end - t0) / 1_000_000, (opened - t0) / 1_000_000, (facts - opened) / 1_000_000,
                (end - facts) / 1_000_000);
    }

    private static void riscvFacts(Kvm kvm, PrintStream out) throws ErrnoException {
        try (OneRegSessionTarget t = OneRegSessionTarget.open(kvm, 1)) {
            StringBuilder isa = new StringBuilder("host-isa");
            for (int i = 0; i < ISA_EXT_PROBE; i++) {
                try {
                    t.vcpu(0).getOneReg(RiscvVectorRegisters.KVM_REG_RISCV | RiscvVectorRegisters.SIZE_U64
                            | RiscvVectorRegisters.TYPE_ISA_EXT | i);
                    isa.append(' ').append(i);
                } catch (ErrnoException e) {
                    // not an extension KVM knows on this host
                }
            }
            out.println(isa);
            try {
                out.println("host-vlenb " + t.vcpu(0).getOneReg(RiscvVectorRegisters.csrId(RiscvVectorRegisters.VLENB)));
            } catch (ErrnoException e) {
                out.println("host-vlenb 0 (no vector registers)");
            }
        }
    }
}
