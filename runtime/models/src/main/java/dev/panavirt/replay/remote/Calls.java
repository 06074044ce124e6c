package dev.panavirt.replay.remote;

import java.util.HexFormat;

/**
 * The text form of one {@link dev.panavirt.replay.SessionTarget} call, as the lane's kernel agent reads it
 * ({@code lane/agent/README.md}): the operation's script name, then its arguments with every number resolved
 * (vCPU and sizes decimal, ids, addresses and values {@code 0x} hex, byte strings as bare hex, {@code -} when
 * empty). The agent answers each call on the same line after {@code " => "}.
 */
public final class Calls {
    private Calls() {
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    static String bytes(byte[] b) {
        return b.length == 0 ? "-" : HexFormat.of().formatHex(b);
    }

    /** {@code KVM_GET_ONE_REG}. */
    public static String regGet(int vcpu, long id) {
        return "reg-get " + vcpu + " " + hex(id);
    }

    /** {@code KVM_SET_ONE_REG} with exactly these bytes in the user buffer (fewer than the id's size fault). */
    public static String regSet(int vcpu, long id, byte[] value) {
        return "reg-set " + vcpu + " " + hex(id) + " " + bytes(value);
    }

    /** {@code KVM_GET_REG_LIST} with room for {@code n} ids. */
    public static String regList(int vcpu, int n) {
        return "reg-list " + vcpu + " " + n;
    }

    /** One of the vCPU operations without arguments: vcpu-load, vcpu-put, vcpu-reset, vector-exec. */
    public static String vcpuOp(String op, int vcpu) {
        return op + " " + vcpu;
    }

    /** A guest register read. */
    public static String read(long address, int width) {
        return "read " + hex(address) + " " + width;
    }

    /** A guest register write. */
    public static String write(long address, int width, long value) {
        return "write " + hex(address) + " " + width + " " + hex(value);
    }

    /** Guest memory written. */
    public static String memWrite(long gpa, byte[] data) {
        return "mem-write " + hex(gpa) + " " + bytes(data);
    }

    /** Guest memory read. */
    public static String memRead(long gpa, int length) {
        return "mem-read " + hex(gpa) + " " + length;
    }

    /** {@code KVM_GET_DEVICE_ATTR}. */
    public static String attrGet(int group, long attr, int size) {
        return "attr-get " + group + " " + hex(attr) + " " + size;
    }

    /** {@code KVM_SET_DEVICE_ATTR}. */
    public static String attrSet(int group, long attr, long value, int size) {
        return "attr-set " + group + " " + hex(attr) + " " + hex(value) + " " + size;
    }

    /** {@code KVM_HAS_DEVICE_ATTR}. */
    public static String attrHas(int group, long attr) {
        return "attr-has " + group + " " + hex(attr);
    }

    /** An input line raised or lowered. */
    public static String irq(int line, boolean level) {
        return "irq " + line + " " + (level ? 1 : 0);
    }

    /** {@code KVM_SIGNAL_MSI}; {@code devid} null: without {@code KVM_MSI_VALID_DEVID}. */
    public static String msi(long address, int data, Integer devid) {
        return "msi " + hex(address) + " " + hex(Integer.toUnsignedLong(data)) + (devid == null ? "" : " " + hex(Integer.toUnsignedLong(devid)));
    }
}
