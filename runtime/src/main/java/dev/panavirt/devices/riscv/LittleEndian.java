package dev.panavirt.devices.riscv;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** Little-endian 64-bit values at the start of a byte array, without allocating. */
final class LittleEndian {

    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private LittleEndian() {
    }

    static long getLong(byte[] buf) {
        return (long) LONG.get(buf, 0);
    }

    static void putLong(byte[] buf, long value) {
        LONG.set(buf, 0, value);
    }
}
