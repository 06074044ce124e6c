package dev.panavirt.headers.emit;

import dev.panavirt.headers.model.BindingPackage;

import java.util.List;
import java.util.Map;

/** {@code native-headers/generated-report.txt}: counts per package and everything left out. */
public final class Report {
    private Report() {
    }

    public record Entry(BindingPackage pkg, JavaEmitter.Counts counts) {
    }

    public static String render(String provenance, List<Entry> entries) {
        StringBuilder sb = new StringBuilder();
        sb.append("# ").append(JavaEmitter.GENERATED_BY).append('\n');
        sb.append("# Source: ").append(provenance).append(".\n");
        sb.append("# Per package: classes (structs/unions, nested included), exposed fields, integer constants,\n");
        sb.append("# typedef layouts and string macros;\n");
        sb.append("# then every declaration of the bound headers that was not generated, and why.\n");
        for (Entry e : entries) {
            BindingPackage p = e.pkg();
            sb.append('\n').append(p.packageName()).append(" (").append(p.headerClass()).append(": ")
                    .append(String.join(", ", p.headers())).append("; ").append(p.arch()).append(" tree)\n");
            sb.append("  structs: ").append(e.counts().structs).append('\n');
            sb.append("  fields: ").append(e.counts().fields).append('\n');
            sb.append("  constants: ").append(e.counts().constants).append('\n');
            sb.append("  typedefs: ").append(e.counts().typedefs).append('\n');
            sb.append("  strings: ").append(e.counts().strings).append('\n');
            for (Map.Entry<String, List<String>> s : p.skipped().entrySet()) {
                sb.append("  skipped ").append(s.getKey()).append(" (").append(s.getValue().size()).append("):\n");
                for (String x : s.getValue()) sb.append("    ").append(x).append('\n');
            }
        }
        return sb.toString();
    }

    public static String summary(List<Entry> entries) {
        StringBuilder sb = new StringBuilder();
        for (Entry e : entries) {
            sb.append(String.format("%-36s structs %4d  fields %5d  constants %5d  typedefs %3d  strings %2d%n",
                    e.pkg().packageName(), e.counts().structs, e.counts().fields, e.counts().constants,
                    e.counts().typedefs, e.counts().strings));
        }
        return sb.toString();
    }
}
