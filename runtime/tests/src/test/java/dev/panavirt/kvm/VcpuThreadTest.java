package dev.panavirt.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.testkit.TestGuest.Options;
import dev.panavirt.testkit.TestGuest.StopKind;
import dev.panavirt.testkit.TestGuest;
import dev.panavirt.testsupport.FlavourRules;
import dev.panavirt.testsupport.Guests;
import dev.panavirt.testsupport.KvmTest;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** vCPUs on their own threads: kicking a spinning guest, two vCPUs at once, guest-visible CPUID/MSRs. */
@KvmTest
class VcpuThreadTest {
    static final Duration T = Duration.ofSeconds(30);

    @Test
    void kickFromAnotherThreadInterruptsASpinningGuest() throws Exception {
        String spin = """
                volatile u64 spins;
                int main(void) { for (;;) { spins++; cpu_relax(); } }
                """;
        try (TestGuest g = TestGuest.longMode(Guests.c(spin))) {
            for (int round = 0; round < 3; round++) {
                Thread kicker = Thread.ofPlatform().start(() -> {
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    }
                    g.vcpu(0).kick();
                });
                long t0 = System.nanoTime();
                TestGuest.Stop stop = g.next(0, Duration.ofSeconds(60));
                long ms = (System.nanoTime() - t0) / 1_000_000;
                kicker.join();
                assertEquals(StopKind.INTERRUPTED, stop.kind());
                assertTrue(ms < 30_000, "kick took " + ms + " ms");
            }
        }
    }

    @Test
    void kickBeforeRunMakesTheNextRunReturnAtOnce() throws Exception {
        try (TestGuest g = TestGuest.longMode(Guests.c("int main(void) { for (;;) cpu_relax(); }"))) {
            g.vcpu(0).kick();
            assertEquals(VcpuExit.Interrupted.class, g.vcpu(0).run().getClass());
        }
    }

    @Test
    void twoVcpusRunInTwoThreads() throws Exception {
        String body = """
                volatile u64 results[2];
                int guest_main(u64 cpu) {
                    u64 sum = 0;
                    for (u64 i = 1; i <= 1000 * (cpu + 1); i++) sum += i;
                    results[cpu] = sum;
                    return (int)sum;
                }
                """;
        Options o = Options.defaults().withVcpus(2);
        try (TestGuest g = TestGuest.create(Guests.c(body), true, o)) {
            CompletableFuture<Long> cpu0 = new CompletableFuture<>();
            CompletableFuture<Long> cpu1 = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> complete(cpu0, g, 0));
            Thread.ofPlatform().start(() -> complete(cpu1, g, 1));
            assertEquals(500500L, cpu0.get(60, TimeUnit.SECONDS));
            assertEquals(2001000L, cpu1.get(60, TimeUnit.SECONDS));
        }
    }

    private static void complete(CompletableFuture<Long> f, TestGuest g, int cpu) {
        try {
            f.complete(g.runToDone(cpu, T));
        } catch (Throwable t) {
            f.completeExceptionally(t);
        }
    }

    @Test
    void guestSeesTheCpuidAndMsrsTheHostSet() throws Exception {
        String body = """
                int main(void) {
                    u32 a, b, c, d;
                    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
                    GUEST_SYNC(b);
                    u32 lo, hi;
                    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x175));
                    GUEST_SYNC(((u64)hi << 32) | lo);
                    __asm__ volatile("wrmsr" : : "c"(0x175), "a"(0x1000), "d"(0));
                    return 0;
                }
                """;
        try (TestGuest g = TestGuest.longMode(Guests.c(body))) {
            int vendorEbx = X86Kvm.of(g.kvm()).supportedCpuid().find(0, 0).orElseThrow().ebx();
            assertEquals(Integer.toUnsignedLong(vendorEbx), g.next(0, T).value());
            long esp = 0xffff_8000_0000_4000L;
            X86Vcpu.of(g.vcpu(0)).setMsr(0x175, esp);
            assertEquals(FlavourRules.sysenterEspReadBack(X86Kvm.of(g.kvm()).supportedCpuid(), esp), g.next(0, T).value(),
                    "SYSENTER_ESP as the guest reads it on " + KvmFlavour.detect());
            assertEquals(0, g.runToDone(0, T));
            assertEquals(0x1000, X86Vcpu.of(g.vcpu(0)).getMsr(0x175), "the guest's wrmsr is visible through KVM_GET_MSRS");
        }
    }

}
