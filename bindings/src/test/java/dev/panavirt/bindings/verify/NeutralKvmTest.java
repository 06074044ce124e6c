package dev.panavirt.bindings.verify;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemoryLayout;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The arch-neutral {@code dev.panavirt.bindings.kvm} against the four per-arch kvm packages, in
 * Java: every constant of its {@code kvm_h} has the same value and type in each arch's
 * {@code kvm_h}, and every record class has the same layout as the arch's class of that name. (The
 * gcc probe and the clang cross-arch test check it against C on every tree.)
 */
class NeutralKvmTest {

    static final String NEUTRAL = "dev.panavirt.bindings.kvm";
    static final List<String> ARCHES = List.of("x86_64", "arm64", "riscv64", "loongarch64");

    @Test
    void everyConstantAndLayoutIsTheSameInEveryArchPackage() throws Exception {
        Class<?> neutral = Class.forName(NEUTRAL + ".kvm_h");
        List<String> differences = new ArrayList<>();
        int constants = 0;
        for (Method m : neutral.getMethods()) {
            if (!Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0
                    || !m.getReturnType().isPrimitive() || m.getDeclaringClass() != neutral) continue;
            constants++;
            Object v = m.invoke(null);
            for (String arch : ARCHES) {
                Class<?> a = Class.forName(NEUTRAL + "." + arch + ".kvm_h");
                Method am;
                try {
                    am = a.getMethod(m.getName());
                } catch (NoSuchMethodException e) {
                    differences.add(m.getName() + ": not in " + arch);
                    continue;
                }
                if (am.getReturnType() != m.getReturnType() || !v.equals(am.invoke(null))) {
                    differences.add(m.getName() + ": " + v + " (" + m.getReturnType() + "), " + arch + " "
                            + am.invoke(null) + " (" + am.getReturnType() + ")");
                }
            }
        }
        int records = 0;
        for (String name : Bindings.classNames(NEUTRAL)) {
            if (name.endsWith(".kvm_h")) continue;
            records++;
            MemoryLayout l = (MemoryLayout) Class.forName(name).getMethod("layout").invoke(null);
            String simple = name.substring(NEUTRAL.length() + 1);
            for (String arch : ARCHES) {
                Class<?> a;
                try {
                    a = Class.forName(NEUTRAL + "." + arch + "." + simple);
                } catch (ClassNotFoundException e) {
                    differences.add(simple + ": no class in " + arch);
                    continue;
                }
                MemoryLayout al = (MemoryLayout) a.getMethod("layout").invoke(null);
                if (!l.equals(al)) differences.add(simple + ": " + l + ", " + arch + " " + al);
            }
        }
        System.out.println(NEUTRAL + ": " + constants + " constants and " + records
                + " record classes compared with the " + ARCHES + " packages");
        assertTrue(constants > 400 && records > 40, constants + " constants, " + records + " records");
        assertEquals(List.of(), differences);
    }

    @Test
    void archSpecificDeclarationsAreLeftOut() throws Exception {
        Class<?> neutral = Class.forName(NEUTRAL + ".kvm_h");
        assertEquals(0xae80, neutral.getMethod("KVM_RUN").invoke(null));
        assertEquals(0x4020ae76L, neutral.getMethod("KVM_IRQFD").invoke(null));
        for (String archOnly : List.of("KVM_GET_REGS", "KVM_GET_SREGS", "KVM_GET_FPU", "KVM_CAP_XSAVE")) {
            assertTrue(List.of(neutral.getMethods()).stream().noneMatch(m -> m.getName().equals(archOnly)), archOnly);
        }
        for (String archOnly : List.of("kvm_run", "kvm_sync_regs", "kvm_regs", "kvm_guest_debug")) {
            assertTrue(Bindings.classNames(NEUTRAL).stream().noneMatch(n -> n.equals(NEUTRAL + "." + archOnly)),
                    archOnly);
        }
    }
}
