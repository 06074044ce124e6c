/*
 * panavirt-init: /init of the initramfs the Linux boot test gives the lane's Debian kernel. Built with
 * `gcc -static -O2 -o init init.c`; it needs nothing else in the initramfs but the modules it loads.
 *
 * Every line it prints goes to /dev/console (the 16550 on COM1), one write(2) per line, so the host can
 * check them in the console text:
 *
 *   panavirt-init: start
 *   panavirt-init: checks=disk,net               what /proc/cmdline asked for
 *   panavirt-init: modules: N loaded
 *   disk-read: <64 hex digits>                   the first 32 bytes of sector 0 of /dev/vda
 *   disk-size: <bytes>                           BLKGETSIZE64 of /dev/vda
 *   disk-write: ok                               sector 1 written with the pattern below, then fsync'ed
 *                                                (a read-only disk is still read; on 6.12 its write step
 *                                                is "panavirt-init: FAIL disk-write: Operation not
 *                                                permitted": the open succeeds, the write is EPERM)
 *   net-if: <name>                               eth0, else the first interface other than lo
 *   net-mac: 52:54:00:12:34:56                   its hardware address
 *   net-loopback: ok                             a frame to its own MAC came back (vdpa_sim_net loops TX to RX)
 *   console-ready                                the console check waits for one line of input on /dev/console
 *   console-read: <line>                         the line it read (through the UART's receive interrupt)
 *   panavirt-init: done                          ("panavirt-init: done with N failures" after a FAIL)
 *
 * then sync(2) and reboot(RB_AUTOBOOT). A step that fails prints `panavirt-init: FAIL <step>: <why>` (the
 * errno text where there is one), the remaining steps still run, and the run still ends by reboot.
 *
 * Run as any process other than 1 (e.g. by mistake on the host that built it) it changes nothing, says so on
 * stderr and exits with status 2.
 *
 * Kernel command line (read from /proc/cmdline):
 *   panavirt.checks=disk,net,console   which checks to run, comma-separated (none when absent)
 *   panavirt.timeout=SECONDS   the watchdog (default 90): a child process reboots the machine when init has
 *                              not finished by then, after printing `panavirt-init: FAIL watchdog: ...`, so
 *                              even an I/O that never completes (uninterruptible sleep) cannot hang the run
 *
 * Modules: /modules.list names one module per line (blank lines and `#` comments ignored), loaded in that
 * order with finit_module(2) from /modules/NAME.ko, or, when that file is absent, from /modules/NAME.ko.xz
 * with MODULE_INIT_COMPRESSED_FILE (the kernel decompresses it: CONFIG_MODULE_DECOMPRESS). Dependencies are not
 * resolved: list them first (Debian 6.12: failover, net_failover, virtio_net, virtio_blk, virtio_mmio).
 * A module already loaded (EEXIST) counts as loaded. No /modules.list means no modules.
 *
 * Sector 1 pattern: the 29 ASCII bytes "panavirt-init wrote sector 1\n" repeated over 512 bytes (the last
 * repetition cut to fit).
 *
 * The network check: the interface is brought up (SIOCSIFFLAGS), an AF_PACKET raw socket bound to it sends a
 * 60-byte Ethernet frame from and to its own MAC with ethertype 0x88b5 (IEEE 802 local experimental) whose
 * payload starts "panavirt-loopback", resent every 500 ms until a copy is received or 15 s passed.
 * vdpa_sim_net forwards a frame only when its destination is the device's MAC, broadcast or multicast
 * (drivers/vdpa/vdpa_sim/vdpa_sim_net.c, vdpasim_net_filter), so the frame goes to its own MAC.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define WAIT_MS 15000            /* for a device or interface to appear, and for the looped frame */
#define ETHERTYPE_TEST 0x88b5
#define PATTERN "panavirt-init wrote sector 1\n"

static int failures;

/* One console line, written at once so kernel messages do not split it. */
static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if (n > (int) sizeof line - 2) {
        n = sizeof line - 2;
    }
    line[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(1, line + off, n - off);
        if (w <= 0 && errno != EINTR) {
            return;
        }
        off += w > 0 ? w : 0;
    }
}

static void fail(const char *step, const char *why)
{
    failures++;
    say("panavirt-init: FAIL %s: %s", step, why);
}

static void fail_errno(const char *step)
{
    fail(step, strerror(errno));
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR) {
    }
}

/* Reads a small file into buf (NUL-terminated); -1 with errno on failure. */
static int read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t len = 0;
    while (len < size - 1) {
        ssize_t r = read(fd, buf + len, size - 1 - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        len += r;
    }
    close(fd);
    buf[len] = 0;
    return (int) len;
}

static void mount_filesystems(void)
{
    static const struct { const char *source, *target, *type; } fs[] = {
        {"devtmpfs", "/dev", "devtmpfs"}, {"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"},
    };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        mkdir(fs[i].target, 0755);
        if (mount(fs[i].source, fs[i].target, fs[i].type, 0, NULL) < 0 && errno != EBUSY) {
            char step[64];
            snprintf(step, sizeof step, "mount %s", fs[i].target);
            fail_errno(step);
        }
    }
}

/* stdin, stdout and stderr on /dev/console, whatever the kernel gave init. */
static void open_console(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) {
        return;                                  /* nowhere to say so */
    }
    for (int i = 0; i < 3; i++) {
        if (fd != i) {
            dup2(fd, i);
        }
    }
    if (fd > 2) {
        close(fd);
    }
}

/* The value of `key=` on the command line, copied into out; 0 when absent. */
static int cmdline_value(const char *cmdline, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    for (const char *p = cmdline; *p;) {
        while (*p == ' ' || *p == '\n') {
            p++;
        }
        const char *end = p;
        while (*end && *end != ' ' && *end != '\n') {
            end++;
        }
        if ((size_t) (end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t n = end - p - klen - 1;
            if (n >= size) {
                n = size - 1;
            }
            memcpy(out, p + klen + 1, n);
            out[n] = 0;
            return 1;
        }
        p = end;
    }
    return 0;
}

static int has_check(const char *checks, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = checks; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) {
            return 1;
        }
        p += len + (end ? 1 : 0);
    }
    return 0;
}

/* A child that reboots the machine when init has not done so within `seconds`. */
static void start_watchdog(int seconds)
{
    pid_t pid = fork();
    if (pid < 0) {
        fail_errno("watchdog");
        return;
    }
    if (pid == 0) {
        sleep_ms(seconds * 1000);
        say("panavirt-init: FAIL watchdog: not done after %d s, rebooting", seconds);
        reboot(RB_AUTOBOOT);
        _exit(1);
    }
}

static int load_module(const char *name)
{
    char path[256];
    int flags = 0;
    snprintf(path, sizeof path, "/modules/%s.ko", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        snprintf(path, sizeof path, "/modules/%s.ko.xz", name);
        flags = MODULE_INIT_COMPRESSED_FILE;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    char step[160];
    snprintf(step, sizeof step, "module %s", name);
    if (fd < 0) {
        fail_errno(step);
        return 0;
    }
    int rc = syscall(SYS_finit_module, fd, "", flags);
    int err = errno;
    close(fd);
    if (rc < 0 && err != EEXIST) {
        errno = err;
        fail_errno(step);
        return 0;
    }
    return 1;
}

static void load_modules(void)
{
    static char list[8192];
    if (read_file("/modules.list", list, sizeof list) < 0) {
        if (errno != ENOENT) {
            fail_errno("modules.list");
        }
        say("panavirt-init: modules: 0 loaded");
        return;
    }
    int loaded = 0;
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
        while (isspace((unsigned char) *line)) {
            line++;
        }
        char *end = line + strlen(line);
        while (end > line && isspace((unsigned char) end[-1])) {
            *--end = 0;
        }
        if (*line == 0 || *line == '#') {
            continue;
        }
        loaded += load_module(line);
    }
    say("panavirt-init: modules: %d loaded", loaded);
}

/* Opens path, waiting up to WAIT_MS for it to appear (drivers probe asynchronously). */
static int open_waiting(const char *path, int flags)
{
    long long deadline = now_ms() + WAIT_MS;
    for (;;) {
        int fd = open(path, flags | O_CLOEXEC);
        if (fd >= 0 || (errno != ENOENT && errno != ENXIO && errno != ENODEV) || now_ms() >= deadline) {
            return fd;
        }
        sleep_ms(50);
    }
}

static int full_pread(int fd, void *buf, size_t len, off_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t r = pread(fd, (char *) buf + done, len - done, off + done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            if (r == 0) {
                errno = EIO;
            }
            return -1;
        }
        done += r;
    }
    return 0;
}

static int full_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(fd, (const char *) buf + done, len - done, off + done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (w == 0) {
                errno = EIO;
            }
            return -1;
        }
        done += w;
    }
    return 0;
}

static void check_disk(void)
{
    int fd = open_waiting("/dev/vda", O_RDWR);
    int write_errno = 0;
    if (fd < 0 && (errno == EROFS || errno == EACCES)) {   /* a kernel that refuses to open it for writing */
        write_errno = errno;
        fd = open("/dev/vda", O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        fail_errno("disk-open /dev/vda");
        return;
    }
    unsigned char sector[512];
    if (full_pread(fd, sector, sizeof sector, 0) < 0) {
        fail_errno("disk-read");
    } else {
        char hex[65];
        for (int i = 0; i < 32; i++) {
            snprintf(hex + 2 * i, 3, "%02x", sector[i]);
        }
        say("disk-read: %s", hex);
    }
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
        fail_errno("disk-size");
    } else {
        say("disk-size: %llu", (unsigned long long) size);
    }
    for (size_t i = 0; i < sizeof sector; i++) {
        sector[i] = PATTERN[i % (sizeof PATTERN - 1)];
    }
    if (write_errno) {
        errno = write_errno;
        fail_errno("disk-write");
    } else if (full_pwrite(fd, sector, sizeof sector, 512) < 0) {
        fail_errno("disk-write");
    } else if (fsync(fd) < 0) {
        fail_errno("disk-write fsync");
    } else {
        say("disk-write: ok");
    }
    close(fd);
}

/* eth0 if present, else the first interface other than lo; waits for one to appear. */
static int find_interface(char *name, size_t size)
{
    long long deadline = now_ms() + WAIT_MS;
    for (;;) {
        if (access("/sys/class/net/eth0", F_OK) == 0) {
            snprintf(name, size, "eth0");
            return 0;
        }
        DIR *d = opendir("/sys/class/net");
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (e->d_name[0] != '.' && strcmp(e->d_name, "lo") != 0) {
                    snprintf(name, size, "%.*s", IFNAMSIZ - 1, e->d_name);
                    closedir(d);
                    return 0;
                }
            }
            closedir(d);
        }
        if (now_ms() >= deadline) {
            return -1;
        }
        sleep_ms(50);
    }
}

/*
 * The console check: says it is ready, then reads one line from /dev/console (canonical mode: the tty hands over
 * a whole line) within WAIT_MS. The bytes reach the tty only through the 8250 driver's receive interrupt, so the
 * line proves the UART's input path and its IRQ routing, not only its output.
 */
static void check_console(void)
{
    say("console-ready");
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int r;
    while ((r = poll(&p, 1, WAIT_MS)) < 0 && errno == EINTR) {
    }
    if (r == 0) {
        fail("console-read", "no line within the wait");
        return;
    }
    if (r < 0) {
        fail_errno("console-read");
        return;
    }
    char line[256];
    ssize_t n;
    while ((n = read(0, line, sizeof line - 1)) < 0 && errno == EINTR) {
    }
    if (n < 0) {
        fail_errno("console-read");
        return;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        n--;
    }
    line[n] = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (!isprint((unsigned char) line[i])) {
            line[i] = '?';
        }
    }
    say("console-read: %s", line);
}

static void check_net(void)
{
    char ifname[IFNAMSIZ];
    if (find_interface(ifname, sizeof ifname) < 0) {
        fail("net-if", "no network interface other than lo");
        return;
    }
    say("net-if: %s", ifname);
    int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE_TEST));
    if (s < 0) {
        fail_errno("net-socket");
        return;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    unsigned char mac[6];
    if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
        fail_errno("net-mac");
        close(s);
        return;
    }
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    say("net-mac: %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        fail_errno("net-up SIOCGIFFLAGS");
        close(s);
        return;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
        fail_errno("net-up SIOCSIFFLAGS");
        close(s);
        return;
    }
    struct sockaddr_ll ll;
    memset(&ll, 0, sizeof ll);
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETHERTYPE_TEST);
    ll.sll_ifindex = if_nametoindex(ifname);
    if (ll.sll_ifindex == 0 || bind(s, (struct sockaddr *) &ll, sizeof ll) < 0) {
        fail_errno("net-bind");
        close(s);
        return;
    }
    unsigned char frame[60];
    memset(frame, 0, sizeof frame);
    memcpy(frame, mac, 6);
    memcpy(frame + 6, mac, 6);
    frame[12] = ETHERTYPE_TEST >> 8;
    frame[13] = ETHERTYPE_TEST & 0xff;
    static const char payload[] = "panavirt-loopback";
    memcpy(frame + 14, payload, sizeof payload);
    long long deadline = now_ms() + WAIT_MS;
    long long next_send = 0;
    int sent = 0, last_errno = 0;
    for (;;) {
        long long t = now_ms();
        if (t >= deadline) {
            char why[160];
            snprintf(why, sizeof why, "no frame back in %d ms (%d sent%s%s)", WAIT_MS, sent,
                     last_errno ? ", last send error: " : "", last_errno ? strerror(last_errno) : "");
            fail("net-loopback", why);
            break;
        }
        if (t >= next_send) {                    /* resent: the first may go before the link is up */
            if (send(s, frame, sizeof frame, 0) == (ssize_t) sizeof frame) {
                sent++;
            } else {
                last_errno = errno;
            }
            next_send = t + 500;
        }
        long long wait = (next_send < deadline ? next_send : deadline) - t;
        struct pollfd p = {s, POLLIN, 0};
        int rc = poll(&p, 1, wait > 0 ? (int) wait : 0);
        if (rc <= 0) {
            continue;
        }
        unsigned char back[2048];
        struct sockaddr_ll from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(s, back, sizeof back, MSG_DONTWAIT, (struct sockaddr *) &from, &fromlen);
        if (n < 0 || from.sll_pkttype == PACKET_OUTGOING) {
            continue;
        }
        if (n >= 14 + (ssize_t) sizeof payload && memcmp(back, mac, 6) == 0
                && memcmp(back + 14, payload, sizeof payload) == 0) {
            say("net-loopback: ok");
            break;
        }
    }
    close(s);
}

int main(void)
{
    if (getpid() != 1) {                         /* never mount over or reboot the machine that built it */
        fprintf(stderr, "panavirt-init: not process 1, refusing to run (it reboots the machine)\n");
        return 2;
    }
    mount_filesystems();
    open_console();
    say("panavirt-init: start");
    static char cmdline[4096];
    if (read_file("/proc/cmdline", cmdline, sizeof cmdline) < 0) {
        fail_errno("cmdline");
        cmdline[0] = 0;
    }
    char value[256];
    int timeout = 90;
    if (cmdline_value(cmdline, "panavirt.timeout", value, sizeof value)) {
        timeout = atoi(value);
        if (timeout <= 0) {
            fail("cmdline", "panavirt.timeout is not a positive number of seconds");
            timeout = 90;
        }
    }
    start_watchdog(timeout);
    char checks[256] = "";
    cmdline_value(cmdline, "panavirt.checks", checks, sizeof checks);
    say("panavirt-init: checks=%s", checks);
    load_modules();
    for (char *p = checks; *p;) {
        char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        if (!(len == 4 && strncmp(p, "disk", 4) == 0) && !(len == 3 && strncmp(p, "net", 3) == 0)
                && !(len == 7 && strncmp(p, "console", 7) == 0) && len > 0) {
            char step[64];
            snprintf(step, sizeof step, "check %.*s", (int) (len < 40 ? len : 40), p);
            fail(step, "unknown check (known: disk, net, console)");
        }
        p += len + (end ? 1 : 0);
    }
    if (has_check(checks, "disk")) {
        check_disk();
    }
    if (has_check(checks, "net")) {
        check_net();
    }
    if (has_check(checks, "console")) {
        check_console();
    }
    if (failures) {
        say("panavirt-init: done with %d failures", failures);
    } else {
        say("panavirt-init: done");
    }
    sync();
    reboot(RB_AUTOBOOT);
    fail_errno("reboot");
    reboot(RB_POWER_OFF);
    return 1;                                    /* init exiting panics the kernel, which ends the run too */
}
