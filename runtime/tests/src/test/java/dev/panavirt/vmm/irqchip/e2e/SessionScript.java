package dev.panavirt.vmm.irqchip.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.panavirt.replay.Script;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.replay.SessionTarget;
import dev.panavirt.replay.Symbols;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A session script written down while a real guest drives a model: one line per operation the model saw
 * (guest register accesses, guest-memory contents, host attribute and line operations), with comments, in
 * the format of {@link Script}. {@link #replay} runs it on a fresh model and checks that every operation
 * came out as it did in the guest run.
 */
final class SessionScript {
    /** The comment column, so the artifact reads as a table. */
    private static final int NOTE_COLUMN = 56;
    private static final Pattern RESULT = Pattern.compile("^L(\\d+) .* -> (.*)$");
    private static final Pattern ERRNO = Pattern.compile("^E[A-Z0-9]+$");

    private final List<String> lines = new ArrayList<>();
    /** Line numbers of operations that must fail with an errno (the guest saw a refused access). */
    private final Set<Integer> failing = new HashSet<>();
    private int ops;

    /** A comment line. */
    void comment(String text) {
        lines.add("# " + text);
    }

    /** An operation that must succeed (and meet its own {@code expect}, if it has one). */
    int op(String op, String note) {
        ops++;
        lines.add(note == null ? op : pad(op) + "# " + note);
        return lines.size();
    }

    /** An operation that must fail with some errno: the model refused the guest's access on the bus. */
    int failingOp(String op, String note) {
        int line = op(op, note);
        failing.add(line);
        return line;
    }

    private static String pad(String op) {
        StringBuilder sb = new StringBuilder(op);
        do {
            sb.append(' ');
        } while (sb.length() < NOTE_COLUMN);
        return sb.toString();
    }

    String text() {
        return String.join("\n", lines) + "\n";
    }

    int lineCount() {
        return lines.size();
    }

    int opCount() {
        return ops;
    }

    /** Operations that must fail. */
    int failingCount() {
        return failing.size();
    }

    /**
     * Parses the script and runs it on {@code target}: every {@code expect} must hold, the operations marked
     * failing must end in an errno and all others must not.
     *
     * @return the result lines
     */
    List<String> replay(SessionTarget target, Symbols symbols) {
        Script script;
        try {
            script = Script.parse(text());
        } catch (Script.ScriptException e) {
            throw new AssertionError("the recorded script does not parse: " + e.getMessage() + "\n" + text(), e);
        }
        assertEquals(ops, script.ops().size(), "operations parsed");
        SessionRunner.Outcome outcome = new SessionRunner(target, symbols).run(script);
        assertTrue(outcome.passed(), () -> "replay: " + outcome.failure() + "\n" + String.join("\n", outcome.lines()));
        Map<Integer, String> results = new HashMap<>();
        for (String l : outcome.lines()) {
            Matcher m = RESULT.matcher(l);
            if (!m.matches()) {
                fail("unexpected runner line: " + l);
            }
            results.put(Integer.parseInt(m.group(1)), m.group(2));
        }
        assertEquals(ops, results.size(), "one result per operation");
        for (Map.Entry<Integer, String> r : results.entrySet()) {
            String result = r.getValue();
            int line = r.getKey();
            boolean errno = ERRNO.matcher(result).matches();
            if (failing.contains(line)) {
                assertTrue(errno, () -> "line " + line + " (" + lines.get(line - 1) + ") was refused in the guest run"
                        + " but replays as " + result);
            } else {
                assertTrue(!errno && !result.startsWith("error") && !result.equals("unsupported"),
                        () -> "line " + line + " (" + lines.get(line - 1) + ") replays as " + result);
            }
        }
        return outcome.lines();
    }
}
