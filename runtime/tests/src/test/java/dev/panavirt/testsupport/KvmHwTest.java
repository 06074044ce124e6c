package dev.panavirt.testsupport;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * A test that needs KVM on hardware virtualization (kvm_amd or kvm_intel): tagged {@code kvm} and {@code kvm-hw},
 * skipped with a reason on the paravirtual KVM unless {@code -Dpanavirt.require} names {@code kvm-hw}.
 * {@code ./run-tests} runs these in the nested lane when this host's KVM is paravirtual. For a class or a method.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("kvm")
@Tag("kvm-hw")
@RequiresDevice("kvm-hw")
public @interface KvmHwTest {}
