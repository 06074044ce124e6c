package dev.panavirt.models.gicv3;

import static dev.panavirt.models.gicv3.ItsRig.LPI;
import static dev.panavirt.models.gicv3.ItsRig.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.arm64.kvm_h;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Migrating an ITS with {@link ItsRegisterState}: tables through guest memory, registers through ITS_REGS. */
class ItsRegisterStateTest {

    private static List<ItsDevice.Translation> uncached(ItsDevice its) {
        List<ItsDevice.Translation> out = new ArrayList<>();
        for (ItsDevice.Translation t : its.translations()) {
            out.add(new ItsDevice.Translation(t.deviceId(), t.eventId(), t.intid(), t.icid(), t.targetVcpu(), false));
        }
        return out;
    }

    @Test
    void migrationToAFreshVmKeepsTranslationsAndRegisters() throws ErrnoException {
        ItsRig source = ItsRig.ready();
        source.mapDevice(1, 4);
        source.mapDevice(6, 3);
        source.map(1, 2, LPI, 0);
        source.map(6, 7, LPI + 4, 1);
        source.map(6, 0, LPI + 5, 9); // unmapped collection 9
        ItsRegisterState state = ItsRegisterState.save(source.its);
        assertEquals(ItsRig.CBASER, state.cbaser());
        assertEquals(0x8000_0001L, state.ctlr());
        assertEquals(0x4B00_043BL, state.iidr());
        assertEquals(List.of(0L, 0L, 0L, 0L, 0L, 0L), state.basers().subList(2, 8));

        ItsRig target = new ItsRig(new Vgic(source.ram, 2)); // same guest memory, new VM
        target.redistributors();
        state.restore(target.its);
        assertEquals(uncached(source.its), uncached(target.its));
        assertEquals(source.its.collections(), target.its.collections());
        assertEquals(state, ItsRegisterState.save(target.its));
        assertEquals(1, target.vgic.signalMsi(ItsRig.ITS_BASE, 7, kvm_h.KVM_MSI_VALID_DEVID(), 6));
        assertEquals(0, target.vgic.signalMsi(ItsRig.ITS_BASE, 0, kvm_h.KVM_MSI_VALID_DEVID(), 6));
    }

    @Test
    void queuedCommandsRunWhenCtlrIsRestored() throws ErrnoException {
        ItsRig source = ItsRig.ready();
        source.write32(ItsRegisters.GITS_CTLR, 0);
        source.command(ItsCommand.mapc(3, 1, true)); // queued while disabled
        ItsRegisterState state = ItsRegisterState.save(source.its);
        source.write32(ItsRegisters.GITS_CTLR, 1);
        state = new ItsRegisterState(state.iidr(), state.cbaser(), state.creadr(), state.cwriter(), state.basers(), 1);

        ItsRig target = new ItsRig(new Vgic(source.ram, 2));
        target.redistributors();
        state.restore(target.its);
        assertEquals(state.cwriter(), target.read64(ItsRegisters.GITS_CREADR));
        assertTrue(target.its.collections().contains(new ItsDevice.CollectionMapping(3, 1)));
    }

    @Test
    void bothDirectionsRefuseWhileAVcpuRuns() throws ErrnoException {
        ItsRig rig = ItsRig.ready();
        ItsRegisterState state = ItsRegisterState.save(rig.its);
        rig.vgic.redistributors().load(0);
        assertErrno(Errno.EBUSY, () -> ItsRegisterState.save(rig.its));
        assertErrno(Errno.EBUSY, () -> state.restore(rig.its));
    }

    @Test
    void exactlyEightBasers() {
        assertThrows(IllegalArgumentException.class, () -> new ItsRegisterState(0, 0, 0, 0, List.of(0L), 0));
    }
}
