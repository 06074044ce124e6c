package dev.panavirt.models.gicv3;

/**
 * ITS command encoding: opcodes, the field layout of a 32-byte command (four little-endian 64-bit words
 * {@code w0..w3}), the {@code E_ITS_*} error numbers KVM computes, and encoders that build commands the way a
 * guest driver does ({@code include/linux/irqchip/arm-gic-v3.h} {@code GITS_CMD_*} and {@code E_ITS_*};
 * {@code arch/arm64/kvm/vgic/vgic-its.c} {@code its_cmd_get_*()}).
 *
 * <p>Decoders take the word that holds the field and return it zero-extended.
 */
public final class ItsCommand {

    private ItsCommand() {
    }

    // ---- Opcodes (w0 bits 7:0) ---------------------------------------------------------------------

    public static final int MOVI = 0x01;
    public static final int INT = 0x03;
    public static final int CLEAR = 0x04;
    public static final int SYNC = 0x05;
    public static final int MAPD = 0x08;
    public static final int MAPC = 0x09;
    public static final int MAPTI = 0x0A;
    public static final int MAPI = 0x0B;
    public static final int INV = 0x0C;
    public static final int INVALL = 0x0D;
    public static final int MOVALL = 0x0E;
    public static final int DISCARD = 0x0F;

    // ---- E_ITS_* error numbers (computed, never reported to the guest) ------------------------------

    public static final int E_ITS_MOVI_UNMAPPED_INTERRUPT = 0x010107;
    public static final int E_ITS_MOVI_UNMAPPED_COLLECTION = 0x010109;
    public static final int E_ITS_INT_UNMAPPED_INTERRUPT = 0x010307;
    public static final int E_ITS_CLEAR_UNMAPPED_INTERRUPT = 0x010507;
    public static final int E_ITS_MAPD_DEVICE_OOR = 0x010801;
    public static final int E_ITS_MAPD_ITTSIZE_OOR = 0x010802;
    public static final int E_ITS_MAPC_PROCNUM_OOR = 0x010902;
    public static final int E_ITS_MAPC_COLLECTION_OOR = 0x010903;
    public static final int E_ITS_MAPTI_UNMAPPED_DEVICE = 0x010A04;
    public static final int E_ITS_MAPTI_ID_OOR = 0x010A05;
    public static final int E_ITS_MAPTI_PHYSICALID_OOR = 0x010A06;
    public static final int E_ITS_INV_UNMAPPED_INTERRUPT = 0x010C07;
    public static final int E_ITS_INVALL_UNMAPPED_COLLECTION = 0x010D09;
    public static final int E_ITS_MOVALL_PROCNUM_OOR = 0x010E01;
    public static final int E_ITS_DISCARD_UNMAPPED_INTERRUPT = 0x010F07;

    /** The symbolic name of an opcode, e.g. {@code "MAPTI"}, or {@code "0xNN"}. */
    public static String opcodeName(int opcode) {
        return switch (opcode) {
            case MOVI -> "MOVI";
            case INT -> "INT";
            case CLEAR -> "CLEAR";
            case SYNC -> "SYNC";
            case MAPD -> "MAPD";
            case MAPC -> "MAPC";
            case MAPTI -> "MAPTI";
            case MAPI -> "MAPI";
            case INV -> "INV";
            case INVALL -> "INVALL";
            case MOVALL -> "MOVALL";
            case DISCARD -> "DISCARD";
            default -> String.format("0x%02x", opcode);
        };
    }

    // ---- Field decoders -----------------------------------------------------------------------------

    /** Opcode, w0 bits 7:0. */
    public static int opcode(long w0) {
        return (int) (w0 & 0xFF);
    }

    /** DeviceID, w0 bits 63:32. */
    public static long deviceId(long w0) {
        return w0 >>> 32;
    }

    /** EventID bits of a MAPD (the Size field plus one, 1..32), from w1 bits 4:0. */
    public static int eventIdBits(long w1) {
        return (int) (w1 & 0x1F) + 1;
    }

    /** EventID, w1 bits 31:0. */
    public static long eventId(long w1) {
        return w1 & 0xFFFF_FFFFL;
    }

    /** pINTID of a MAPTI, w1 bits 63:32. */
    public static long physicalId(long w1) {
        return w1 >>> 32;
    }

    /** ICID, w2 bits 15:0. */
    public static int collectionId(long w2) {
        return (int) (w2 & 0xFFFF);
    }

    /** ITT address of a MAPD, w2 bits 51:8 used in place (a 256-byte aligned address). */
    public static long ittAddress(long w2) {
        return w2 & ItsRegisters.genmask(51, 8);
    }

    /** RDbase of MAPC, SYNC and MOVALL's first target, w2 bits 47:16: a vCPU id (GITS_TYPER.PTA = 0). */
    public static long targetAddress(long w2) {
        return (w2 >>> 16) & 0xFFFF_FFFFL;
    }

    /** MOVALL's second target, w3 bits 47:16. */
    public static long target2Address(long w3) {
        return (w3 >>> 16) & 0xFFFF_FFFFL;
    }

    /** Valid bit of MAPD and MAPC, w2 bit 63. */
    public static boolean valid(long w2) {
        return w2 < 0;
    }

    // ---- Encoders -----------------------------------------------------------------------------------

    /** A command as four words; the caller writes them to the queue at CWRITER. */
    public static long[] encode(int opcode, long deviceId, long w1, long w2, long w3) {
        return new long[] {(deviceId << 32) | (opcode & 0xFF), w1, w2, w3};
    }

    /** MAPD: map {@code deviceId} to an ITT at {@code itt} with {@code eventBits} EventID bits, or unmap. */
    public static long[] mapd(long deviceId, int eventBits, long itt, boolean valid) {
        long w2 = (itt & ItsRegisters.genmask(51, 8)) | (valid ? 1L << 63 : 0);
        return encode(MAPD, deviceId, (eventBits - 1) & 0x1F, w2, 0);
    }

    /** MAPC: map collection {@code icid} to vCPU {@code vcpuId}, or unmap it. */
    public static long[] mapc(int icid, long vcpuId, boolean valid) {
        long w2 = (icid & 0xFFFFL) | (vcpuId & 0xFFFF_FFFFL) << 16 | (valid ? 1L << 63 : 0);
        return encode(MAPC, 0, 0, w2, 0);
    }

    /** MAPTI: map ({@code deviceId}, {@code eventId}) to LPI {@code intid} in collection {@code icid}. */
    public static long[] mapti(long deviceId, long eventId, long intid, int icid) {
        return encode(MAPTI, deviceId, (eventId & 0xFFFF_FFFFL) | intid << 32, icid & 0xFFFFL, 0);
    }

    /** MAPI: map ({@code deviceId}, {@code eventId}) to the LPI numbered {@code eventId}. */
    public static long[] mapi(long deviceId, long eventId, int icid) {
        return encode(MAPI, deviceId, eventId & 0xFFFF_FFFFL, icid & 0xFFFFL, 0);
    }

    /** MOVI: move ({@code deviceId}, {@code eventId}) to collection {@code icid}. */
    public static long[] movi(long deviceId, long eventId, int icid) {
        return encode(MOVI, deviceId, eventId & 0xFFFF_FFFFL, icid & 0xFFFFL, 0);
    }

    /** DISCARD, CLEAR, INT or INV on ({@code deviceId}, {@code eventId}). */
    public static long[] event(int opcode, long deviceId, long eventId) {
        return encode(opcode, deviceId, eventId & 0xFFFF_FFFFL, 0, 0);
    }

    /** INVALL on collection {@code icid}. */
    public static long[] invall(int icid) {
        return encode(INVALL, 0, 0, icid & 0xFFFFL, 0);
    }

    /** MOVALL from vCPU {@code from} to vCPU {@code to}. */
    public static long[] movall(long from, long to) {
        return encode(MOVALL, 0, 0, (from & 0xFFFF_FFFFL) << 16, (to & 0xFFFF_FFFFL) << 16);
    }

    /** SYNC on vCPU {@code vcpuId}. */
    public static long[] sync(long vcpuId) {
        return encode(SYNC, 0, 0, (vcpuId & 0xFFFF_FFFFL) << 16, 0);
    }
}
