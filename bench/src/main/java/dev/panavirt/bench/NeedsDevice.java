package dev.panavirt.bench;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A benchmark class that needs a device node the machine may not have (for example {@code /dev/vhost-vdpa-0},
 * which the nested lane provides): {@code BenchMain} leaves its benchmarks out, and says so, where the node is
 * missing or not read-write, so a run of the whole suite elsewhere neither fails nor waits on it.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface NeedsDevice {
    /** The device node, e.g. {@code /dev/vhost-vdpa-0}. */
    String value();

    /** Where to find it, shown when it is missing. */
    String hint() default "";

    /** The check. */
    final class Check {
        private Check() {}

        /** What {@code cls} needs and this machine lacks, or empty when it can run here. */
        public static Optional<String> missing(Class<?> cls) {
            NeedsDevice n = cls.getAnnotation(NeedsDevice.class);
            if (n == null) {
                return Optional.empty();
            }
            Path p = Path.of(n.value());
            if (Files.isReadable(p) && Files.isWritable(p)) {
                return Optional.empty();
            }
            return Optional.of(n.value() + " is missing or not read-write" + (n.hint().isEmpty() ? "" : " (" + n.hint() + ")"));
        }
    }
}
