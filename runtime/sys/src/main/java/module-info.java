/**
 * The syscall layer: libc downcalls (open, close, ioctl, mmap, read, write, eventfd) and errno capture.
 * Its raw package is exported only to the kernel-object layer (the benchmarks, which compare raw ioctl paths,
 * read it from the class path); everyone else gets the file-descriptor types of {@code dev.panavirt.fd}.
 * The only module that calls restricted FFM methods, so the only one that needs native access.
 *
 * <p>Needs native access: {@code --enable-native-access=dev.panavirt.sys}.
 */
// The qualified export names a module built after this one.
@SuppressWarnings("module")
module dev.panavirt.sys {
    requires transitive dev.panavirt.base;

    exports dev.panavirt.fd;
    exports dev.panavirt.sys to dev.panavirt.kvm, dev.panavirt.vfio, dev.panavirt.vhost;
}
