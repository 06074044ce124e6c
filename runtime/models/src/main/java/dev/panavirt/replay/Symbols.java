package dev.panavirt.replay;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Names a session script may use for numbers: the integer constants of generated header classes
 * ({@code kvm_h.KVM_DEV_ARM_VGIC_GRP_CTRL()}), public static final integer fields of register classes,
 * and explicit extra entries.
 */
public final class Symbols {
    private final Map<String, Long> values;

    private Symbols(Map<String, Long> values) {
        this.values = Map.copyOf(values);
    }

    /** No names. */
    public static Symbols none() {
        return new Symbols(Map.of());
    }

    /** Tables already read, by extra names and classes: constants never change, and reading one costs milliseconds. */
    private static final Map<List<Object>, Symbols> READ = new ConcurrentHashMap<>();

    /**
     * The integer constants (static no-argument methods and static final fields) of {@code classes}, plus
     * {@code extra}. Each distinct request is read by reflection once and then shared, so creating many
     * session runners (as fuzzing does, one per input) stays cheap.
     */
    public static Symbols of(Map<String, Long> extra, Class<?>... classes) {
        return READ.computeIfAbsent(List.of(Map.copyOf(extra), List.of(classes)), key -> read(extra, classes));
    }

    private static Symbols read(Map<String, Long> extra, Class<?>... classes) {
        Map<String, Long> v = new HashMap<>();
        for (Class<?> c : classes) {
            for (Method m : c.getMethods()) {
                if (Modifier.isStatic(m.getModifiers()) && m.getParameterCount() == 0
                        && (m.getReturnType() == int.class || m.getReturnType() == long.class)) {
                    try {
                        v.putIfAbsent(m.getName(), ((Number) m.invoke(null)).longValue()
                                & (m.getReturnType() == int.class ? 0xffff_ffffL : -1L));
                    } catch (ReflectiveOperationException e) {
                        throw new IllegalStateException("cannot read constant " + m, e);
                    }
                }
            }
            for (Field f : c.getFields()) {
                if (Modifier.isStatic(f.getModifiers()) && Modifier.isFinal(f.getModifiers())
                        && (f.getType() == int.class || f.getType() == long.class)) {
                    try {
                        v.putIfAbsent(f.getName(), ((Number) f.get(null)).longValue());
                    } catch (IllegalAccessException e) {
                        throw new IllegalStateException("cannot read constant " + f, e);
                    }
                }
            }
        }
        v.putAll(extra);
        return new Symbols(v);
    }

    /** The value of {@code name}, if known. */
    public OptionalLong get(String name) {
        Long v = values.get(name);
        return v == null ? OptionalLong.empty() : OptionalLong.of(v);
    }

    /** How many names are known. */
    public int size() {
        return values.size();
    }
}
