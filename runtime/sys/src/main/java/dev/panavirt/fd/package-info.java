/** File descriptors every device family shares: {@link dev.panavirt.fd.EventFd} for irqfd, ioeventfd and vring kicks. */
package dev.panavirt.fd;
