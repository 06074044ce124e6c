package dev.panavirt.sys;

/** Explains the JVM flag panavirt needs when native access is not enabled for it. */
public final class NativeAccess {
    private NativeAccess() {}

    /** The text shown when a restricted method is refused or warned about. */
    public static String hint() {
        Module m = NativeAccess.class.getModule();
        String target = m.isNamed() ? m.getName() : "ALL-UNNAMED";
        return "panavirt calls the C library through the FFM API and needs native access: start java with "
                + "--enable-native-access=" + target
                + " (module path: dev.panavirt.sys; class path: ALL-UNNAMED; executable jar: manifest "
                + "attribute 'Enable-Native-Access: ALL-UNNAMED')";
    }

    /** True when the JVM was started with native access enabled for panavirt's module. */
    public static boolean enabled() {
        return NativeAccess.class.getModule().isNativeAccessEnabled();
    }
}
