package dev.panavirt.bench.support;

/** JVM options of every forked benchmark JVM (JMH annotations need them as constants). */
public final class BenchJvm {
    private BenchJvm() {}

    /** panavirt, the raw FFM path and the C harness make downcalls; JNA and jnr-ffi load JNI libraries. */
    public static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
    /** jnr-ffi reads and writes native memory through sun.misc.Unsafe; keep JDK 24+ from warning about it. */
    public static final String UNSAFE = "--sun-misc-unsafe-memory-access=allow";
    /** A fixed heap, so heap resizing does not add noise. */
    public static final String XMS = "-Xms512m";
    public static final String XMX = "-Xmx512m";

    /** All of them, for the runner. */
    public static String[] all() {
        return new String[] {NATIVE_ACCESS, UNSAFE, XMS, XMX};
    }
}
