package dev.panavirt.machine;

import java.util.Arrays;

/**
 * A flat guest image: bytes loaded at {@code loadAddress}, entered at {@code entry}.
 *
 * @param bytes       the image (not copied; do not modify)
 * @param loadAddress guest-physical address of byte 0
 * @param entry       guest-physical entry point
 */
public record GuestImage(byte[] bytes, long loadAddress, long entry) {

    /** An image of raw machine code given as byte values 0..255, entered at its first byte. */
    public static GuestImage ofBytes(long loadAddress, int... code) {
        byte[] b = new byte[code.length];
        for (int i = 0; i < code.length; i++) {
            if (code[i] < 0 || code[i] > 0xff) {
                throw new IllegalArgumentException("not a byte value: " + code[i]);
            }
            b[i] = (byte) code[i];
        }
        return new GuestImage(b, loadAddress, loadAddress);
    }

    /** One past the last byte. */
    public long end() {
        return loadAddress + bytes.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GuestImage g && g.loadAddress == loadAddress && g.entry == entry
                && Arrays.equals(g.bytes, bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes) * 31 + Long.hashCode(loadAddress);
    }

    @Override
    public String toString() {
        return "GuestImage[" + bytes.length + " bytes at 0x" + Long.toHexString(loadAddress) + ", entry 0x"
                + Long.toHexString(entry) + "]";
    }
}
