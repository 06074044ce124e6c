package dev.panavirt.bench.support;

/** JVM options of every forked benchmark JVM (JMH annotations need them as constants). */
public final class BenchJvm {
    private BenchJvm() {}

    /** panavirt, the raw FFM path and the C harness make downcalls; JNA and jnr-ffi load JNI libraries. */
    public static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
    /**
     * jnr-ffi reads and writes native memory through sun.misc.Unsafe; this keeps JDK 24+ from warning about
     * it. The option exists from JDK 23 on, so only {@link #all()} adds it, when the JDK has it.
     */
    public static final String UNSAFE = "--sun-misc-unsafe-memory-access=allow";
    /** A fixed heap, so heap resizing does not add noise. */
    public static final String XMS = "-Xms512m";
    public static final String XMX = "-Xmx512m";

    /** The options for forks of this JVM's JDK (the runner starts forks with the JDK it runs on). */
    public static String[] all() {
        return Runtime.version().feature() >= 23
                ? new String[] {NATIVE_ACCESS, UNSAFE, XMS, XMX}
                : new String[] {NATIVE_ACCESS, XMS, XMX};
    }
}
