/*
 * A minimal init for an initramfs: mounts devtmpfs, proc and sysfs, loads the kernel modules listed in
 * /etc/modules (one path per line, dependencies first; compressed .ko.xz files are loaded through
 * finit_module's MODULE_INIT_COMPRESSED_FILE, which the kernel decompresses itself), prints markers
 * the host looks for on the console and reboots. Built with gcc -static; the host test checks the lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
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

int main(void)
{
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("PANAVIRT-INIT: start\n");
	printf("PANAVIRT-INIT: modules %d loaded\n", load_modules());
	printf("PANAVIRT-INIT: done\n");
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT);
	return 1;
}
