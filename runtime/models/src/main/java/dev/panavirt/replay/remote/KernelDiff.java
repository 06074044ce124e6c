package dev.panavirt.replay.remote;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.models.riscv.RiscvIsaExt;
import dev.panavirt.replay.Script;
import dev.panavirt.replay.SessionRunner;
import dev.panavirt.replay.SessionTarget;
import dev.panavirt.replay.targets.SessionTargets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The differential test of a model against the kernel device it stands for: session scripts run on the model
 * here, and as {@link Calls} on the kernel by the lane's agent inside a nested host; both runs go through the
 * same {@link SessionRunner} without expectations, and their result lines are compared one by one. A difference is
 * either a failure or pinned in a pins file with the reason, citing the kernel source that explains it:
 *
 * <pre>
 * # comment
 * op VERB | reason                            every line of this operation (the model's own view, no uapi)
 * SCRIPT:LINE | KERNEL-RESULT | reason        the kernel's result on that line of that script (file name)
 * </pre>
 * A pin that matches no difference any more is stale and fails the comparison too, so pins cannot hide a fix.
 *
 * <p>Command line (the lane's {@code run --arch} calls it on the host):
 * <pre>
 * KernelDiff calls   --device D --out FILE SCRIPT...                      the agent's input
 * KernelDiff compare --device D --transcript FILE --pins FILE SCRIPT...    exit 0 when every difference is pinned
 * </pre>
 */
public final class KernelDiff {

    /** One line that differs: where, what each side said, and the pin that explains it (null: none). */
    public record Difference(String script, int line, String op, String model, String kernel, String pin) {
    }

    /** The outcome of a comparison: the report text, the unexplained differences, the pinned ones, stale pins. */
    public record Report(List<String> text, List<Difference> unpinned, List<Difference> pinned, List<String> stale) {
        /** Whether the kernel agreed with the model wherever no pin says why not. */
        public boolean passed() {
            return unpinned.isEmpty() && stale.isEmpty();
        }
    }

    /** The pins of one device. */
    public record Pins(Map<String, String> ops, Map<String, String[]> lines) {
        /** Parses a pins file's text; a pin without a reason is refused. */
        public static Pins parse(String text) {
            Map<String, String> ops = new LinkedHashMap<>();
            Map<String, String[]> lines = new LinkedHashMap<>();
            int no = 0;
            for (String raw : text.split("\n")) {
                no++;
                String l = raw.strip();
                if (l.isEmpty() || l.startsWith("#")) {
                    continue;
                }
                String[] f = l.split("\\s*\\|\\s*");
                if (l.startsWith("op ") && f.length == 2 && !f[1].isBlank()) {
                    ops.put(f[0].substring(3).strip(), f[1]);
                } else if (f.length == 3 && f[0].matches("\\S+:\\d+") && !f[2].isBlank()) {
                    lines.put(f[0], new String[] {f[1], f[2]});
                } else {
                    throw new IllegalArgumentException("pins line " + no + ": expected 'op VERB | reason' or "
                            + "'SCRIPT:LINE | KERNEL-RESULT | reason': " + l);
                }
            }
            return new Pins(ops, lines);
        }
    }

    private KernelDiff() {
    }

    /** The vCPUs a device's sessions get (the targets' defaults, made explicit for the agent). */
    static int vcpus(String device) {
        return device.equals("riscv-vector") ? 1 : 4;
    }

    /** The session name of a script in the agent's protocol: its file name. */
    static String sessionName(Path script) {
        return script.getFileName().toString();
    }

    /** The agent's input for {@code scripts} on {@code device}: a session line, then each call the model got. */
    public static List<String> calls(String device, List<Path> scripts) throws IOException, ErrnoException {
        List<String> out = new ArrayList<>();
        for (Path p : scripts) {
            Script s = parse(p);
            CallLog[] log = new CallLog[1];
            SessionRunner r = SessionTargets.runner(device, options(device, List.of()), t -> log[0] = new CallLog(t));
            r.run(s);
            out.add("session " + sessionName(p) + " " + vcpus(device));
            out.addAll(log[0].calls());
        }
        return out;
    }

    private static Script parse(Path p) throws IOException {
        String text = Files.readString(p, java.nio.charset.StandardCharsets.ISO_8859_1);
        // A fuzzer input ends with the byte Jazzer's pickValue took for the device (it reads from the end).
        int end = text.length();
        while (end > 0 && text.charAt(end - 1) < '\t') {
            end--;
        }
        try {
            return Script.parse(text.substring(0, end)).withoutExpectations();
        } catch (Script.ScriptException e) {
            throw new IllegalArgumentException(p + ": " + e.getMessage(), e);
        }
    }

    /**
     * The model's options for {@code device} on the host the transcript's header describes: for riscv-vector the
     * host's ISA extensions ({@code host-isa ID...}, ids of {@code KVM_RISCV_ISA_EXT_*}) and vlenb ({@code host-vlenb N}).
     */
    static SessionTargets.Options options(String device, List<String> header) {
        SessionTargets.Options o = new SessionTargets.Options(OptionalInt.of(vcpus(device)), SessionTargets.DEFAULT_VLENB);
        if (!device.equals("riscv-vector")) {
            return o;
        }
        int vlenb = SessionTargets.DEFAULT_VLENB;
        Set<RiscvIsaExt> isa = RiscvIsaExt.RV64GCV_HOST;
        for (String h : header) {
            String[] w = h.strip().split("\\s+");
            if (w[0].equals("host-isa")) {
                isa = EnumSet.noneOf(RiscvIsaExt.class);
                for (int i = 1; i < w.length; i++) {
                    isa.add(RiscvIsaExt.ofId(Long.parseLong(w[i])));
                }
            } else if (w[0].equals("host-vlenb") && w.length > 1 && !w[1].equals("0")) {
                vlenb = Integer.parseInt(w[1]);
            }
        }
        return new SessionTargets.Options(OptionalInt.of(vcpus(device)), vlenb, isa);
    }

    /** Splits a transcript into its header (before the first session) and each session's answer lines by name. */
    static Map<String, List<String>> sessions(List<String> transcript, List<String> header) {
        Map<String, List<String>> by = new LinkedHashMap<>();
        List<String> cur = null;
        for (String l : transcript) {
            if (l.startsWith("session ")) {
                cur = new ArrayList<>();
                by.put(l.split("\\s+")[1], cur);
            } else if (cur == null) {
                header.add(l);
            } else if (!l.isBlank()) {
                cur.add(l);
            }
        }
        return by;
    }

    /**
     * Runs each script on the model and plays the kernel's answers back through the same runner, and compares.
     *
     * @param transcript the agent's output for the calls of {@link #calls} on the same scripts
     */
    public static Report compare(String device, List<Path> scripts, List<String> transcript, Pins pins)
            throws IOException, ErrnoException {
        return compare(device, scripts, transcript, pins, UnaryOperator.identity());
    }

    /**
     * {@link #compare(String, List, List, Pins)} with {@code model} in front of the model (a test puts a deliberately
     * wrong answer there and expects the comparison to fail).
     */
    public static Report compare(String device, List<Path> scripts, List<String> transcript, Pins pins,
            UnaryOperator<SessionTarget> model) throws IOException, ErrnoException {
        List<String> header = new ArrayList<>();
        Map<String, List<String>> answers = sessions(transcript, header);
        SessionTargets.Options opts = options(device, header);
        List<String> text = new ArrayList<>();
        List<Difference> unpinned = new ArrayList<>();
        List<Difference> pinned = new ArrayList<>();
        Set<String> usedPins = new java.util.HashSet<>();
        text.add("host: " + String.join("; ", header));
        for (Path p : scripts) {
            String name = sessionName(p);
            List<String> kernelAnswers = answers.get(name);
            if (kernelAnswers == null) {
                throw new IllegalArgumentException("the transcript has no session " + name);
            }
            Script s = parse(p);
            List<String> modelLines = SessionTargets.runner(device, opts, model).run(s).lines();
            AnsweredTarget[] kt = new AnsweredTarget[1];
            List<String> kernel = SessionTargets.runner(device, opts,
                    m -> kt[0] = new AnsweredTarget(device + "-kernel", kernelAnswers, m)).run(s).lines();
            if (kt[0].used() != kernelAnswers.size()) {
                throw new IllegalStateException(name + ": the model made " + kt[0].used() + " calls, the agent answered "
                        + kernelAnswers.size());
            }
            int same = 0;
            int before = unpinned.size() + pinned.size();
            List<String> detail = new ArrayList<>();
            for (int i = 0; i < modelLines.size(); i++) {
                String m = modelLines.get(i);
                String k = kernel.get(i);
                Script.Op op = s.ops().get(i);
                String mr = result(m);
                String kr = result(k);
                if (equivalent(device, op.verb(), mr, kr)) {
                    same++;
                    continue;
                }
                String key = name + ":" + op.line();
                String why = pins.ops().get(op.verb());
                String pinKey = "op " + op.verb();
                if (why == null && pins.lines().containsKey(key) && pins.lines().get(key)[0].equals(kr)) {
                    why = pins.lines().get(key)[1];
                    pinKey = key;
                }
                Difference d = new Difference(name, op.line(), m.substring(0, m.indexOf(" -> ")), mr, kr, why);
                if (why != null) {
                    usedPins.add(pinKey);
                    pinned.add(d);
                } else {
                    unpinned.add(d);
                }
                detail.add("  " + d.op() + "\n      model:  " + mr + "\n      kernel: " + kr
                        + (why == null ? "\n      DIFFERS (no pin)" : "\n      pinned: " + why));
            }
            text.add("== " + name + ": " + modelLines.size() + " operations, " + same + " the same, "
                    + (unpinned.size() + pinned.size() - before) + " different");
            text.addAll(detail);
        }
        List<String> stale = new ArrayList<>();
        Set<String> verbsRun = new java.util.HashSet<>();
        for (Path p : scripts) {
            parse(p).ops().forEach(o -> verbsRun.add(o.verb()));
        }
        for (String k : pins.ops().keySet()) {
            if (verbsRun.contains(k) && !usedPins.contains("op " + k)) {
                stale.add("op " + k);
            }
        }
        for (String k : pins.lines().keySet()) {
            String script = k.substring(0, k.lastIndexOf(':'));
            boolean ran = scripts.stream().anyMatch(p -> sessionName(p).equals(script));
            if (ran && !usedPins.contains(k)) {
                stale.add(k);
            }
        }
        for (String k : stale) {
            text.add("STALE pin (no such difference now): " + k);
        }
        text.add("summary: " + pinned.size() + " pinned differences, " + unpinned.size() + " unpinned, " + stale.size()
                + " stale pins: " + (unpinned.isEmpty() && stale.isEmpty() ? "PASS" : "FAIL"));
        return new Report(text, unpinned, pinned, stale);
    }

    private static String result(String line) {
        return line.substring(line.indexOf(" -> ") + 4);
    }

    /**
     * Whether two results say the same. For riscv-vector's reg-list the model lists only its part of
     * {@code KVM_GET_REG_LIST} (ISA_EXT and vector ids), the kernel every register of the vCPU
     * (arch/riscv/kvm/vcpu_onereg.c, kvm_riscv_vcpu_copy_reg_indices: config, core, CSR, timer, FP, ISA_EXT, SBI,
     * vector): the kernel's list is compared restricted to those two types, as a set.
     */
    static boolean equivalent(String device, String verb, String model, String kernel) {
        if (model.equals(kernel)) {
            return true;
        }
        if (device.equals("riscv-vector") && verb.equals("reg-list") && model.startsWith("\"") && kernel.startsWith("\"")) {
            return Arrays.equals(ids(model, false), ids(kernel, true));
        }
        return false;
    }

    private static long[] ids(String quoted, boolean project) {
        String body = quoted.substring(1, quoted.length() - 1);
        String list = body.substring(body.indexOf(':') + 1).strip();
        if (list.isEmpty()) {
            return new long[0];
        }
        return Arrays.stream(list.split(" "))
                .mapToLong(h -> Long.parseUnsignedLong(h.substring(2), 16))
                .filter(id -> !project || ((id >>> 24) & 0xff) == 7 || ((id >>> 24) & 0xff) == 9)
                .sorted().toArray();
    }

    /** The command line described in the class comment. */
    public static void main(String[] args) throws Exception {
        String cmd = args.length > 0 ? args[0] : "";
        String device = null;
        Path out = null;
        Path transcript = null;
        Path pins = null;
        List<Path> scripts = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> device = args[++i];
                case "--out" -> out = Path.of(args[++i]);
                case "--transcript" -> transcript = Path.of(args[++i]);
                case "--pins" -> pins = Path.of(args[++i]);
                default -> scripts.add(Path.of(args[i]));
            }
        }
        if (device == null || scripts.isEmpty() || !(cmd.equals("calls") && out != null
                || cmd.equals("compare") && transcript != null && pins != null)) {
            System.err.println("usage: KernelDiff calls --device D --out FILE SCRIPT... | "
                    + "compare --device D --transcript FILE --pins FILE SCRIPT...");
            System.exit(2);
        }
        if (cmd.equals("calls")) {
            Files.write(out, calls(device, scripts));
            return;
        }
        Report r = compare(device, scripts, Files.readAllLines(transcript), Pins.parse(Files.readString(pins)));
        r.text().forEach(System.out::println);
        System.exit(r.passed() ? 0 : 1);
    }
}
