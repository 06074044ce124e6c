package dev.panavirt.lane;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A test failure that happened inside the nested lane's guest, rebuilt on the host from the stack
 * trace text of the JUnit XML report: same exception type and message (prefixed "[guest test]"), the
 * guest's frames, and one cause per "Caused by:" block.
 */
final class GuestTestFailure extends AssertionError {
    private static final long serialVersionUID = 1L;
    private static final Pattern FRAME = Pattern.compile(
            "^\\s*at (?:([^/()\\s]+)/)?([^()\\s]+)\\.([^.()\\s]+)\\((.*)\\)$");
    private static final Pattern MORE = Pattern.compile("^\\s*\\.\\.\\. \\d+ (more|common frames omitted)$");

    private GuestTestFailure(String message) {
        super(message);
    }

    /**
     * Builds the failure from a guest stack trace; {@code fallbackMessage} is used when the text has
     * no header line (for example an empty CDATA). {@code testName} goes into the messages ("[guest
     * VfioSmokeTest.x()] ..."), so that every report, whatever it calls the test, names it.
     */
    static GuestTestFailure fromTrace(String trace, String fallbackMessage, String testName) {
        List<List<String>> blocks = new ArrayList<>();
        List<String> current = new ArrayList<>();
        for (String line : trace.strip().split("\\R")) {
            if (line.startsWith("Caused by: ")) {
                blocks.add(current);
                current = new ArrayList<>();
                line = line.substring("Caused by: ".length());
            }
            current.add(line);
        }
        blocks.add(current);

        GuestTestFailure top = null;
        GuestTestFailure last = null;
        for (List<String> block : blocks) {
            StringBuilder header = new StringBuilder();
            List<StackTraceElement> frames = new ArrayList<>();
            for (String line : block) {
                Matcher m = FRAME.matcher(line);
                if (m.matches()) {
                    frames.add(frame(m));
                } else if (frames.isEmpty() && !MORE.matcher(line).matches()) {
                    header.append(header.isEmpty() ? "" : "\n").append(line);
                }
                // lines after the frames ("... 4 more", "Suppressed: ...") are dropped
            }
            String text = header.isEmpty() ? fallbackMessage : header.toString();
            GuestTestFailure f = new GuestTestFailure("[guest " + testName + "] " + text);
            f.setStackTrace(frames.toArray(StackTraceElement[]::new));
            if (top == null) {
                top = f;
            } else {
                last.initCause(f);
            }
            last = f;
        }
        return top;
    }

    private static StackTraceElement frame(Matcher m) {
        String module = m.group(1);
        String moduleVersion = null;
        if (module != null && module.contains("@")) {
            moduleVersion = module.substring(module.indexOf('@') + 1);
            module = module.substring(0, module.indexOf('@'));
        }
        String source = m.group(4);
        String file = null;
        int line = -1;
        if (source.equals("Native Method")) {
            line = -2;
        } else if (!source.equals("Unknown Source")) {
            int colon = source.lastIndexOf(':');
            if (colon > 0) {
                file = source.substring(0, colon);
                try {
                    line = Integer.parseInt(source.substring(colon + 1));
                } catch (NumberFormatException e) {
                    file = source;
                }
            } else {
                file = source;
            }
        }
        return new StackTraceElement(null, module, moduleVersion, m.group(2), m.group(3), file, line);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;   // the frames are the guest's, set by fromTrace
    }
}
