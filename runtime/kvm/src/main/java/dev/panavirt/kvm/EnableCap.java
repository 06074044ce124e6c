package dev.panavirt.kvm;

import dev.panavirt.base.ErrnoException;
import dev.panavirt.bindings.kvm.kvm_enable_cap;
import dev.panavirt.bindings.kvm.kvm_h;
import dev.panavirt.sys.Fd;
import dev.panavirt.sys.Ioctl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/** {@code KVM_ENABLE_CAP}, shared by the VM and vCPU fds. */
final class EnableCap {
    private EnableCap() {}

    static void call(Fd fd, Cap cap, long[] args, String where) throws ErrnoException {
        if (args.length > 4) {
            throw new IllegalArgumentException("KVM_ENABLE_CAP takes at most 4 arguments");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = kvm_enable_cap.allocate(a);
            kvm_enable_cap.cap(c, cap.number());
            for (int i = 0; i < args.length; i++) {
                kvm_enable_cap.args(c, i, args[i]);
            }
            Ioctl.call(fd, "KVM_ENABLE_CAP", kvm_h.KVM_ENABLE_CAP(), c,
                    "capability " + cap + " (" + cap.number() + ") args " + Arrays.toString(args) + where);
        }
    }
}
