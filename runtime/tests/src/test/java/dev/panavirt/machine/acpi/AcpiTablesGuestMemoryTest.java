package dev.panavirt.machine.acpi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panavirt.kvm.Kvm;
import dev.panavirt.kvm.Vm;
import dev.panavirt.testsupport.KvmTest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link AcpiTables#writeTo} puts exactly the placed bytes into a VM's RAM, and nothing where RAM is missing. */
@KvmTest
class AcpiTablesGuestMemoryTest {
    @Test
    void theTablesLandWhereTheLayoutSays() throws Exception {
        AcpiTables tables = AcpiTables.forMachine(2, List.of(new VirtioMmioSlot(0xd000_0000L, 0x1000, 5)));
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            vm.addMemory(0, 0, 1 << 20, 0);
            AcpiTables.Layout layout = tables.writeTo(vm.memory(), 0xe0000, 0xe0040);
            AcpiTables.Image image = tables.place(0xe0000, 0xe0040);
            assertEquals(image.layout(), layout);
            assertArrayEquals(image.rsdp(), vm.memory().read(0xe0000, AcpiTables.RSDP_LENGTH));
            assertArrayEquals(image.tables(), vm.memory().read(0xe0040, image.tables().length));
            assertEquals("RSD PTR ", new String(vm.memory().read(0xe0000, 8), StandardCharsets.US_ASCII));
            // the legacy scan's rule: the RSDP's first 20 bytes sum to zero at a 16-byte boundary
            int sum = 0;
            for (byte b : vm.memory().read(0xe0000, 20)) {
                sum += b;
            }
            assertEquals(0, sum & 0xff);
            // tables where the VM has no RAM: refused, naming the address, and the RSDP not written either
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                    () -> tables.writeTo(vm.memory(), 0xf0000, 0x20_0000));
            assertEquals(true, e.getMessage().contains("0x200000"), e.getMessage());
            assertArrayEquals(new byte[AcpiTables.RSDP_LENGTH], vm.memory().read(0xf0000, AcpiTables.RSDP_LENGTH));
        }
    }
}
