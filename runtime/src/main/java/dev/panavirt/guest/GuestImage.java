package dev.panavirt.guest;

import java.util.Arrays;

/**
 * A flat guest image: bytes loaded at {@code loadAddress}, entered at {@code entry}.
 *
 * @param bytes       the image (not copied; do not modify)
 * @param loadAddress guest-physical address of byte 0
 * @param entry       guest-physical entry point
 */
public record GuestImage(byte[] bytes, long loadAddress, long entry) {

    /** An image of raw machine code, entered at its first byte. */
    public static GuestImage ofBytes(long loadAddress, byte... code) {
        return new GuestImage(code, loadAddress, loadAddress);
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
