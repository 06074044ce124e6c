package dev.panavirt.models.gicv3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Command encoding: opcodes, E_ITS_* numbers and field positions, checked against literal values
 * (include/linux/irqchip/arm-gic-v3.h; arch/arm64/kvm/vgic/vgic-its.c {@code its_cmd_get_*()}).
 */
class ItsCommandTest {

    @Test
    void opcodesHaveTheirArchitecturalValues() {
        int[] values = {ItsCommand.MOVI, ItsCommand.INT, ItsCommand.CLEAR, ItsCommand.SYNC, ItsCommand.MAPD,
                ItsCommand.MAPC, ItsCommand.MAPTI, ItsCommand.MAPI, ItsCommand.INV, ItsCommand.INVALL,
                ItsCommand.MOVALL, ItsCommand.DISCARD};
        assertArrayEquals(new int[] {0x01, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F}, values);
        assertEquals("MAPTI", ItsCommand.opcodeName(0x0A));
        assertEquals("0x22", ItsCommand.opcodeName(0x22));
    }

    @Test
    void errorNumbersHaveTheirArchitecturalValues() {
        assertEquals(0x010107, ItsCommand.E_ITS_MOVI_UNMAPPED_INTERRUPT);
        assertEquals(0x010109, ItsCommand.E_ITS_MOVI_UNMAPPED_COLLECTION);
        assertEquals(0x010307, ItsCommand.E_ITS_INT_UNMAPPED_INTERRUPT);
        assertEquals(0x010507, ItsCommand.E_ITS_CLEAR_UNMAPPED_INTERRUPT);
        assertEquals(0x010801, ItsCommand.E_ITS_MAPD_DEVICE_OOR);
        assertEquals(0x010802, ItsCommand.E_ITS_MAPD_ITTSIZE_OOR);
        assertEquals(0x010902, ItsCommand.E_ITS_MAPC_PROCNUM_OOR);
        assertEquals(0x010903, ItsCommand.E_ITS_MAPC_COLLECTION_OOR);
        assertEquals(0x010A04, ItsCommand.E_ITS_MAPTI_UNMAPPED_DEVICE);
        assertEquals(0x010A05, ItsCommand.E_ITS_MAPTI_ID_OOR);
        assertEquals(0x010A06, ItsCommand.E_ITS_MAPTI_PHYSICALID_OOR);
        assertEquals(0x010C07, ItsCommand.E_ITS_INV_UNMAPPED_INTERRUPT);
        assertEquals(0x010D09, ItsCommand.E_ITS_INVALL_UNMAPPED_COLLECTION);
        assertEquals(0x010E01, ItsCommand.E_ITS_MOVALL_PROCNUM_OOR);
        assertEquals(0x010F07, ItsCommand.E_ITS_DISCARD_UNMAPPED_INTERRUPT);
    }

    @Test
    void fieldsAreDecodedFromTheirWords() {
        long w0 = 0xDEAD_BEEF_0000_120AL;
        long w1 = 0x0000_2345_8000_0013L;
        long w2 = 0x8ABC_DEF0_1234_5678L;
        long w3 = 0x0000_7654_3210_0000L;
        assertEquals(0x0A, ItsCommand.opcode(w0));
        assertEquals(0xDEAD_BEEFL, ItsCommand.deviceId(w0));
        assertEquals(0x14, ItsCommand.eventIdBits(w1), "bits 4:0 plus one");
        assertEquals(0x8000_0013L, ItsCommand.eventId(w1));
        assertEquals(0x2345L, ItsCommand.physicalId(w1));
        assertEquals(0x5678, ItsCommand.collectionId(w2));
        assertEquals(0x000C_DEF0_1234_5600L, ItsCommand.ittAddress(w2), "bits 51:8 in place");
        assertEquals(0xDEF0_1234L, ItsCommand.targetAddress(w2), "bits 47:16");
        assertEquals(0x7654_3210L, ItsCommand.target2Address(w3));
        assertTrue(ItsCommand.valid(w2));
        assertFalse(ItsCommand.valid(0x7FFF_FFFF_FFFF_FFFFL));
    }

    @Test
    void encodersPutFieldsWhereTheDecodersFindThem() {
        long[] mapd = ItsCommand.mapd(0x1234, 5, 0x4010_0000L, true);
        assertEquals(ItsCommand.MAPD, ItsCommand.opcode(mapd[0]));
        assertEquals(0x1234, ItsCommand.deviceId(mapd[0]));
        assertEquals(5, ItsCommand.eventIdBits(mapd[1]));
        assertEquals(0x4010_0000L, ItsCommand.ittAddress(mapd[2]));
        assertTrue(ItsCommand.valid(mapd[2]));
        long[] mapti = ItsCommand.mapti(7, 9, 8200, 3);
        assertEquals(9, ItsCommand.eventId(mapti[1]));
        assertEquals(8200, ItsCommand.physicalId(mapti[1]));
        assertEquals(3, ItsCommand.collectionId(mapti[2]));
        long[] movall = ItsCommand.movall(2, 5);
        assertEquals(2, ItsCommand.targetAddress(movall[2]));
        assertEquals(5, ItsCommand.target2Address(movall[3]));
        long[] mapc = ItsCommand.mapc(11, 1, false);
        assertFalse(ItsCommand.valid(mapc[2]));
        assertEquals(1, ItsCommand.targetAddress(mapc[2]));
        assertEquals(11, ItsCommand.collectionId(mapc[2]));
    }

    @Test
    void saveSortsDevicesAndEventsWhateverTheMappingOrder() throws Exception {
        ItsRig rig = ItsRig.ready();
        rig.mapDevice(10, 2);
        rig.mapDevice(3, 2);
        rig.map(10, 3, 8200, 0);
        rig.map(10, 0, 8201, 0);
        rig.save();
        long v = 1L << 63;
        assertEquals(v | 7L << 49 | (ItsRig.itt(3) >>> 8) << 5 | 1, rig.mem(ItsRig.DEVICE_TABLE + 3 * 8));
        assertEquals(v | (ItsRig.itt(10) >>> 8) << 5 | 1, rig.mem(ItsRig.DEVICE_TABLE + 10 * 8));
        assertEquals(3L << 48 | 8201L << 16, rig.mem(ItsRig.itt(10)));
        assertEquals(8200L << 16, rig.mem(ItsRig.itt(10) + 3 * 8));
    }

    @Test
    void theLargestEventIdDeltaFitsTheIteNextField() throws Exception {
        ItsRig rig = ItsRig.ready();
        rig.mapDevice(1, 16);
        rig.map(1, 0, 8200, 0);
        rig.map(1, 0xFFFF, 8201, 0);
        rig.save();
        assertEquals(0xFFFFL << 48 | 8200L << 16, rig.mem(ItsRig.itt(1)));
        rig.reset();
        rig.regSet(ItsRegisters.GITS_CBASER, ItsRig.CBASER);
        rig.regSet(ItsRegisters.baser(0), ItsRig.BASER0);
        rig.regSet(ItsRegisters.baser(1), ItsRig.BASER1);
        rig.restore();
        assertEquals(2, rig.its.translations().size());
        assertEquals(8201, rig.its.translation(1, 0xFFFF).orElseThrow().intid());
    }
}
