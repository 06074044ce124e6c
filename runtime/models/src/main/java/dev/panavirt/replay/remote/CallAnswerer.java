package dev.panavirt.replay.remote;

import dev.panavirt.base.Errno;
import dev.panavirt.base.ErrnoException;
import dev.panavirt.replay.SessionTarget;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.util.HexFormat;
import java.util.function.IntFunction;

/**
 * The kernel agent's protocol ({@code lane/agent/README.md}) spoken by Java: reads the lines
 * {@link KernelDiff} {@code calls} writes, runs each call on a {@link SessionTarget} and prints
 * {@code CALL => ANSWER}, so any target (a model here, a kernel device in a nested host) gives a transcript that
 * {@code KernelDiff compare} plays back.
 *
 * <p>A {@code session NAME VCPUS} line closes the previous target and asks the factory for a fresh one.
 * Answers: {@code ok}, {@code bytes:HEX}, {@code list 0xID...}, {@code ran}/{@code trapped}, an errno name,
 * or {@code unsupported} when the target throws {@link UnsupportedOperationException} or the call is one this
 * class does not speak (only the vCPU register and vector operations: {@code reg-get reg-set reg-list
 * vcpu-load vcpu-put vcpu-reset vector-exec}; {@code state} has no uapi and is always unsupported).
 */
public final class CallAnswerer {

    private final IntFunction<SessionTarget> sessions;

    /** Answers calls on targets made by {@code sessions} (given the session's vCPU count). */
    public CallAnswerer(IntFunction<SessionTarget> sessions) {
        this.sessions = sessions;
    }

    /**
     * Answers every line of {@code in} on {@code out}; closes each target that is {@link AutoCloseable}.
     *
     * @throws IllegalArgumentException for a line that is not a call of the protocol, or a call before any session
     * @throws IOException when {@code in} cannot be read
     */
    public void run(BufferedReader in, PrintStream out) throws IOException {
        SessionTarget target = null;
        try {
            for (String line; (line = in.readLine()) != null; ) {
                line = line.strip();
                if (line.isEmpty()) {
                    continue;
                }
                String[] w = line.split(" ");
                if (w[0].equals("session")) {
                    close(target);
                    target = null;
                    target = sessions.apply(w.length > 2 ? Integer.parseInt(w[2]) : 1);
                    out.println(line);
                } else if (target == null) {
                    throw new IllegalArgumentException("call before any session: " + line);
                } else {
                    out.println(line + " => " + answer(target, w));
                }
                out.flush();
            }
        } finally {
            close(target);
        }
    }

    private static void close(SessionTarget t) {
        if (t instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + t.name(), e);
            }
        }
    }

    /** The answer of one call, {@code w} its words. */
    static String answer(SessionTarget t, String[] w) {
        try {
            return switch (w[0]) {
                case "reg-get" -> "bytes:" + HexFormat.of().formatHex(t.getOneReg(vcpu(w, 3), number(w[2])));
                case "reg-set" -> {
                    t.setOneReg(vcpu(w, 4), number(w[2]), w[3].equals("-") ? new byte[0] : HexFormat.of().parseHex(w[3]));
                    yield "ok";
                }
                case "reg-list" -> {
                    StringBuilder b = new StringBuilder("list");
                    for (long id : t.regList(vcpu(w, 3), Integer.parseInt(w[2]))) {
                        b.append(" 0x").append(Long.toHexString(id));
                    }
                    yield b.toString();
                }
                case "vcpu-load" -> {
                    t.vcpuLoad(vcpu(w, 2));
                    yield "ok";
                }
                case "vcpu-put" -> {
                    t.vcpuPut(vcpu(w, 2));
                    yield "ok";
                }
                case "vcpu-reset" -> {
                    t.vcpuReset(vcpu(w, 2));
                    yield "ok";
                }
                case "vector-exec" -> t.guestVectorInstruction(vcpu(w, 2)) ? "ran" : "trapped";
                default -> "unsupported";
            };
        } catch (ErrnoException e) {
            String name = Errno.name(e.errno());
            return name.startsWith("E") ? name : "E" + e.errno();
        } catch (UnsupportedOperationException e) {
            return "unsupported";
        }
    }

    private static int vcpu(String[] w, int words) {
        if (w.length != words) {
            throw new IllegalArgumentException(w[0] + " takes " + (words - 1) + " arguments: " + String.join(" ", w));
        }
        return Integer.parseInt(w[1]);
    }

    private static long number(String s) {
        return s.startsWith("0x") ? Long.parseUnsignedLong(s.substring(2), 16) : Long.parseLong(s);
    }
}
