package dev.panavirt.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panavirt.kvm.Cpuid;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The per-vCPU CPUID the machine sets: KVM's supported leaves with each vCPU's APIC ID filled in. */
class MachineCpuidTest {
    @Test
    void eachVcpuSeesItsOwnApicIdInCpuid() {
        Cpuid host = new Cpuid(List.of(new Cpuid.Entry(0, 0, 0, 0xd, 1, 2, 3),
                new Cpuid.Entry(1, 0, 0, 0x806f8, 0x0d10_0800, 0x7ffa_fbbf, 0xbfeb_fbff),
                new Cpuid.Entry(0xb, 0, 1, 1, 1, 0x100, 13), new Cpuid.Entry(0xb, 1, 1, 4, 2, 0x201, 13)));
        Cpuid c = Machine.withApicId(host, 5);
        assertEquals(0x0510_0800, c.find(1, 0).orElseThrow().ebx());
        assertEquals(host.find(1, 0).orElseThrow().ecx(), c.find(1, 0).orElseThrow().ecx());
        assertEquals(5, c.find(0xb, 0).orElseThrow().edx());
        assertEquals(5, c.find(0xb, 1).orElseThrow().edx());
        assertEquals(host.find(0, 0), c.find(0, 0));
    }
}
