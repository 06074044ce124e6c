/*
 * A minimal init for an initramfs: mounts devtmpfs, proc and sysfs, loads the kernel modules listed in
 * /etc/modules (one path per line, dependencies first; compressed .ko.xz files are loaded through
 * finit_module's MODULE_INIT_COMPRESSED_FILE, which the kernel decompresses itself), lists the virtio
 * devices, block devices and network interfaces it sees, prints markers the host looks for on the
 * console and reboots. Built with gcc -static; the host test checks the lines.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

static int load_modules(void)
{
	FILE *list = fopen("/etc/modules", "r");
	char path[512];
	int loaded = 0;

	if (!list)
		return 0;
	while (fgets(path, sizeof(path), list)) {
		path[strcspn(path, "\n")] = 0;
		if (!path[0])
			continue;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		int flags = strstr(path, ".xz") ? MODULE_INIT_COMPRESSED_FILE : 0;
		if (fd < 0 || syscall(SYS_finit_module, fd, "", flags) != 0) {
			if (errno != EEXIST) {
				printf("PANAVIRT-INIT: module %s failed: %s\n", path, strerror(errno));
				if (fd >= 0)
					close(fd);
				continue;
			}
		}
		close(fd);
		loaded++;
	}
	fclose(list);
	return loaded;
}

/* Prints "PANAVIRT-INIT: <tag> <entry> <first line of dir/entry/file>" for each entry of dir. */
static void list(const char *tag, const char *dir, const char *file)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512], value[128];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", dir, e->d_name, file);
		FILE *f = fopen(path, "r");
		value[0] = 0;
		if (f) {
			if (!fgets(value, sizeof(value), f))
				value[0] = 0;
			fclose(f);
		}
		value[strcspn(value, "\n")] = 0;
		printf("PANAVIRT-INIT: %s %s %s\n", tag, e->d_name, value);
	}
	closedir(d);
}

int main(void)
{
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("PANAVIRT-INIT: start\n");
	printf("PANAVIRT-INIT: modules %d loaded\n", load_modules());
	list("virtio", "/sys/bus/virtio/devices", "device");
	list("block", "/sys/block", "size");
	list("net", "/sys/class/net", "address");
	printf("PANAVIRT-INIT: cpus %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	printf("PANAVIRT-INIT: done\n");
	fflush(stdout);
	tcdrain(STDOUT_FILENO);		/* reboot does not wait for the console's queued output */
	sync();
	reboot(RB_AUTOBOOT);
	return 1;
}
