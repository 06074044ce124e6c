package dev.panavirt.replay.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.panavirt.replay.Script;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.replay.targets.SessionTargets;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * A session script as {@code panavirt replay SCRIPT --device its|eiointc|riscv-vector} reads it: parsed
 * ({@link Script#parse}) and run against a fresh model ({@link SessionTargets#runner}). Parsing fails only
 * with a {@link Script.ScriptException} naming a line of the text; running never throws (a bad argument, an
 * errno or an unsupported operation is a result line), prints one line per operation it ran, each naming its
 * script line, and stops at the first unmet expectation, which it names.
 *
 * <p>The script is the input, decoded as UTF-8 (malformed bytes replaced; the CLI refuses them before parsing),
 * minus its last byte, which picks the device, so a saved script followed by one byte is a seed.
 */
class ScriptFuzzTest {
    private static final String[] DEVICES = {"its", "eiointc", "riscv-vector"};
    private static final Pattern ERROR_LINE = Pattern.compile("line ([0-9]+): .+", Pattern.DOTALL);
    private static final Pattern RESULT_LINE = Pattern.compile("L[0-9]+ .* -> .*", Pattern.DOTALL);
    /** Held so the level set on it is not lost when the logger is collected. */
    private static final Logger MODEL_LOG = Logger.getLogger("dev.panavirt.models");

    static {
        MODEL_LOG.setLevel(Level.OFF);
    }

    @FuzzTest(maxDuration = "10s")
    void scriptOnAModel(FuzzedDataProvider data) throws Exception {
        String device = data.pickValue(DEVICES);
        String text = new String(data.consumeRemainingAsBytes(), java.nio.charset.StandardCharsets.UTF_8);
        Script script;
        try {
            script = Script.parse(text);
        } catch (Script.ScriptException e) {
            var m = ERROR_LINE.matcher(e.getMessage());
            assertTrue(m.matches(), e.getMessage());
            long line = Long.parseLong(m.group(1));
            int lines = text.split("\n", -1).length;
            assertTrue(line >= 1 && line <= lines, "line " + line + " of " + lines);
            return;
        }
        SessionRunner.Outcome outcome = SessionTargets.runner(device, SessionTargets.Options.defaults()).run(script);
        int results = outcome.passed() ? outcome.lines().size() : outcome.lines().size() - 1;
        assertTrue(results <= script.ops().size());
        for (int i = 0; i < results; i++) {
            String line = outcome.lines().get(i);
            assertTrue(line.startsWith("L" + script.ops().get(i).line() + " ") && RESULT_LINE.matcher(line).matches(),
                    line);
        }
        if (outcome.passed()) {
            assertEquals(script.ops().size(), results, "a passing session runs every operation");
        } else {
            assertTrue(outcome.lines().getLast().startsWith("FAIL line " + script.ops().get(results - 1).line() + ":"),
                    outcome.lines().getLast());
        }
    }
}
