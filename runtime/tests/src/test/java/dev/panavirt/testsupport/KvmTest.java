package dev.panavirt.testsupport;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/** A test of the real /dev/kvm: tagged {@code kvm}, skipped with a reason when KVM is missing. */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("kvm")
@RequiresDevice("kvm")
public @interface KvmTest {}
