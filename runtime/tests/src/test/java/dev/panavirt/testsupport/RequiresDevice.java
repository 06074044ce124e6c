package dev.panavirt.testsupport;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test of a real kernel path. When the device node is missing or not accessible the test is
 * <em>skipped with the reason</em>; when the system property {@code panavirt.require} names the device
 * (comma-separated, e.g. {@code kvm,vfio}) a missing device fails the test instead.
 *
 * <p>Devices: {@code kvm} ({@code /dev/kvm}), {@code kvm-hw} (a {@code /dev/kvm} on hardware virtualization,
 * kvm_amd or kvm_intel, not the paravirtual KVM; such tests also carry the tag {@code kvm-hw}, which
 * {@code ./run-tests} sends to the nested lane from a paravirtual host), {@code vfio} ({@code /dev/vfio/vfio}),
 * {@code vdpa} (any {@code /dev/vhost-vdpa-N}).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(DeviceCondition.class)
public @interface RequiresDevice {
    /** The devices the test needs. */
    String[] value();
}
