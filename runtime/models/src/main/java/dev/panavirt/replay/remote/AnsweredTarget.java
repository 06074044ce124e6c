package dev.panavirt.replay.remote;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.replay.SessionTarget;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;

/**
 * A session target whose answers were given elsewhere: each call is checked against the next
 * {@code "CALL => ANSWER"} line of a transcript (the lane's kernel agent output) and answered from it.
 *
 * <p>Answers: {@code ok}; {@code bytes:HEX} (register and memory contents, little-endian for numbers); {@code 0x}
 * hex or decimal numbers; {@code list ID...} ({@code KVM_GET_REG_LIST}); {@code ran}/{@code trapped}; {@code 1}/{@code 0}
 * for attr-has; an errno name ({@code EINVAL}), thrown as {@link ErrnoException}; {@code unsupported}, thrown as
 * {@link UnsupportedOperationException}; {@code text:...} for state. Anything else (an unexpected exit of the agent's
 * guest) is reported as the result {@code error: kernel agent: ANSWER}.
 *
 * @throws IllegalStateException from any call when the transcript is out of step with the calls (a harness error,
 *         never a result)
 */
public final class AnsweredTarget implements SessionTarget {
    private final String name;
    private final List<String> lines;
    private final SessionTarget names;
    private int next;

    /**
     * A target named {@code name} answering from {@code lines}, starting at the first, that knows the symbolic
     * names {@code names} knows (the model of the same device).
     */
    public AnsweredTarget(String name, List<String> lines, SessionTarget names) {
        this.name = name;
        this.lines = List.copyOf(lines);
        this.names = names;
    }

    @Override
    public OptionalLong symbol(String symbol) {
        return names.symbol(symbol);
    }

    /** How many transcript lines were used. */
    public int used() {
        return next;
    }

    @Override
    public String name() {
        return name;
    }

    /** The answer to {@code call}; an errno answer is thrown, unsupported and unknown answers too. */
    private String answer(String call, String op) throws ErrnoException {
        if (next >= lines.size()) {
            throw new IllegalStateException("the transcript ended before call '" + call + "'");
        }
        String line = lines.get(next++);
        int at = line.indexOf(" => ");
        if (at < 0 || !line.substring(0, at).equals(call)) {
            throw new IllegalStateException("transcript out of step: call '" + call + "', transcript '" + line + "'");
        }
        String a = line.substring(at + 4);
        if (a.equals("unsupported")) {
            throw new UnsupportedOperationException(op + " on the kernel agent");
        }
        if (a.matches("E[A-Z0-9]+")) {
            int errno = Errno.byName(a);
            if (errno > 0) {
                throw new ErrnoException(op, errno, "as the kernel answered");
            }
        }
        return a;
    }

    private static IllegalArgumentException unexpected(String answer) {
        return new IllegalArgumentException("kernel agent: " + answer);
    }

    private static long number(String a) {
        try {
            return a.startsWith("0x") ? Long.parseUnsignedLong(a.substring(2), 16) : Long.parseLong(a);
        } catch (NumberFormatException e) {
            throw unexpected(a);
        }
    }

    private static byte[] bytes(String a) {
        if (!a.startsWith("bytes:")) {
            throw unexpected(a);
        }
        return HexFormat.of().parseHex(a.substring(6));
    }

    private static void ok(String a) {
        if (!a.equals("ok")) {
            throw unexpected(a);
        }
    }

    @Override
    public long read(long address, int width) throws ErrnoException {
        return number(answer(Calls.read(address, width), "read"));
    }

    @Override
    public void write(long address, int width, long value) throws ErrnoException {
        ok(answer(Calls.write(address, width, value), "write"));
    }

    @Override
    public void memWrite(long gpa, byte[] data) {
        try {
            ok(answer(Calls.memWrite(gpa, data), "mem-write"));
        } catch (ErrnoException e) {
            throw unexpected(e.errnoName());
        }
    }

    @Override
    public byte[] memRead(long gpa, int length) {
        try {
            return bytes(answer(Calls.memRead(gpa, length), "mem-read"));
        } catch (ErrnoException e) {
            throw unexpected(e.errnoName());
        }
    }

    @Override
    public long getAttr(int group, long attr, int size) throws ErrnoException {
        return number(answer(Calls.attrGet(group, attr, size), "KVM_GET_DEVICE_ATTR"));
    }

    @Override
    public void setAttr(int group, long attr, long value, int size) throws ErrnoException {
        ok(answer(Calls.attrSet(group, attr, value, size), "KVM_SET_DEVICE_ATTR"));
    }

    @Override
    public boolean hasAttr(int group, long attr) throws ErrnoException {
        return number(answer(Calls.attrHas(group, attr), "KVM_HAS_DEVICE_ATTR")) != 0;
    }

    @Override
    public byte[] getOneReg(int vcpu, long regId) throws ErrnoException {
        return bytes(answer(Calls.regGet(vcpu, regId), "KVM_GET_ONE_REG"));
    }

    @Override
    public void setOneReg(int vcpu, long regId, byte[] value) throws ErrnoException {
        ok(answer(Calls.regSet(vcpu, regId, value), "KVM_SET_ONE_REG"));
    }

    @Override
    public void setIrq(int line, boolean level) throws ErrnoException {
        ok(answer(Calls.irq(line, level), "irq"));
    }

    @Override
    public void vcpuLoad(int vcpu) throws ErrnoException {
        ok(answer(Calls.vcpuOp("vcpu-load", vcpu), "vcpu-load"));
    }

    @Override
    public void vcpuPut(int vcpu) throws ErrnoException {
        ok(answer(Calls.vcpuOp("vcpu-put", vcpu), "vcpu-put"));
    }

    @Override
    public int signalMsi(long address, int data, int devid) throws ErrnoException {
        return (int) number(answer(Calls.msi(address, data, devid), "KVM_SIGNAL_MSI"));
    }

    @Override
    public int signalMsiWithoutDevid(long address, int data) throws ErrnoException {
        return (int) number(answer(Calls.msi(address, data, null), "KVM_SIGNAL_MSI"));
    }

    @Override
    public long[] regList(int vcpu, int n) throws ErrnoException {
        String a = answer(Calls.regList(vcpu, n), "KVM_GET_REG_LIST");
        if (!a.equals("list") && !a.startsWith("list ")) {
            throw unexpected(a);
        }
        String[] w = a.substring(4).strip().split(" ");
        if (w.length == 1 && w[0].isEmpty()) {
            return new long[0];
        }
        long[] ids = new long[w.length];
        for (int i = 0; i < w.length; i++) {
            ids[i] = number(w[i]);
        }
        return ids;
    }

    @Override
    public void vcpuReset(int vcpu) throws ErrnoException {
        ok(answer(Calls.vcpuOp("vcpu-reset", vcpu), "vcpu-reset"));
    }

    @Override
    public boolean guestVectorInstruction(int vcpu) throws ErrnoException {
        String a = answer(Calls.vcpuOp("vector-exec", vcpu), "vector-exec");
        return switch (a) {
            case "ran" -> true;
            case "trapped" -> false;
            default -> throw unexpected(a);
        };
    }

    @Override
    public void createDevice() throws ErrnoException {
        ok(answer("create-device", "KVM_CREATE_DEVICE"));
    }

    @Override
    public String state() {
        String a;
        try {
            a = answer("state", "state");
        } catch (ErrnoException e) {
            throw unexpected(e.errnoName());
        }
        if (!a.startsWith("text:")) {
            throw unexpected(a);
        }
        return a.substring(5);
    }
}
