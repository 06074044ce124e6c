/**
 * The system-call layer: C library downcalls with errno capture, owned file descriptors, ioctl request
 * encodings, memory mappings and eventfds. Internal to panavirt; exported only to its own modules.
 */
package dev.panavirt.sys;
