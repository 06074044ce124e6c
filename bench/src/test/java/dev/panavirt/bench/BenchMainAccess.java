package dev.panavirt.bench;

import dev.panavirt.bench.report.Bench;
import java.io.IOException;
import java.util.List;

/** Opens {@link BenchMain}'s package-private discovery to tests in other packages. */
public final class BenchMainAccess {
    private BenchMainAccess() {}

    public static List<Bench> discover(List<String> include) throws IOException {
        return BenchMain.discover(include);
    }
}
