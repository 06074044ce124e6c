package dev.panavirt.vhost.driver;

/**
 * The device broke the virtqueue protocol: a used ring entry naming a descriptor that is not the head of a chain
 * in flight, a used length beyond what the chain offered for writing, a used index that ran ahead of what was made
 * available, or a request status the driver does not know. The driver checks everything the device writes and
 * reports it with this exception instead of following a bad index or length.
 */
public class VirtqueueException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what the device wrote and why it is wrong */
    public VirtqueueException(String message) {
        super(message);
    }
}
