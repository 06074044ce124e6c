/*
 * arm64 part of the lane's kernel agent: the ITS model's operations (replay target its) on a VM with 4
 * vCPUs, 1 GiB of RAM at 0x40000000, a VGICv3 (distributor 0x08000000, redistributors 0x080a0000, as
 * QEMU's virt board) and an ITS. Device attributes go to the ITS, except the redistributor registers
 * (KVM_DEV_ARM_VGIC_GRP_REDIST_REGS), which belong to the VGICv3 device; read/write are guest MMIO from
 * a tiny EL1 guest on vCPU 0 (guest-arm64.S), at the ITS frame the ADDR attribute placed.
 */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#define RAM_GPA		0x40000000ULL
#define RAM_SIZE	0x40000000ULL
#define BOX_GPA		(RAM_GPA + RAM_SIZE - 0x10000)	/* guest code and mailbox: the last 64 KiB */
#define EXIT_GPA	0x10000000ULL
#define DIST_GPA	0x08000000ULL
#define REDIST_GPA	0x080a0000ULL
#define ITS_FRAME	0x20000ULL
#define PC_ID		0x6030000000100040ULL	/* KVM_REG_ARM64 | U64 | CORE | offsetof(kvm_regs, regs.pc) / 4 (after 31 GPRs and sp) */

extern const uint8_t guest_begin[], guest_end[], guest_box[];

static int vgic_fd, its_fd;
static uint64_t its_base;
#define ADDR_UNDEF ((uint64_t)-1)

static void on_alarm(int sig) { (void)sig; }

void arch_probe(int kvm)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: a hung KVM_RUN returns EINTR */
	(void)kvm;
	printf("host-gic v3 its\n");
}

static int create_device(int vm, uint32_t type)
{
	struct kvm_create_device d = { .type = type };
	if (ioctl(vm, KVM_CREATE_DEVICE, &d) < 0)
		return -errno;
	return d.fd;
}

static int attr(int fd, unsigned long req, uint32_t group, uint64_t a, void *val)
{
	struct kvm_device_attr at = { .group = group, .attr = a, .addr = (uint64_t)(uintptr_t)val };
	return ioctl(fd, req, &at) < 0 ? errno : 0;
}

void arch_session_open(struct session *s, int kvm)
{
	static uint8_t *last_ram;
	if (last_ram) {	/* the previous session's devices and RAM (its VM fd is closed already) */
		close(its_fd);
		close(vgic_fd);
		munmap(last_ram, RAM_SIZE);
	}
	s->vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (s->vm < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));
	s->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->ram == MAP_FAILED)
		die("mmap RAM: %s", strerror(errno));
	memcpy(s->ram + (BOX_GPA - RAM_GPA), guest_begin, guest_end - guest_begin);
	struct kvm_userspace_memory_region m = {
		.slot = 0, .guest_phys_addr = RAM_GPA, .memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)s->ram,
	};
	if (ioctl(s->vm, KVM_SET_USER_MEMORY_REGION, &m) < 0)
		die("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	struct kvm_vcpu_init init;
	if (ioctl(s->vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		die("KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	for (int i = 0; i < s->nvcpus; i++) {
		s->vcpu[i] = ioctl(s->vm, KVM_CREATE_VCPU, i);
		if (s->vcpu[i] < 0)
			die("KVM_CREATE_VCPU %d: %s", i, strerror(errno));
		if (ioctl(s->vcpu[i], KVM_ARM_VCPU_INIT, &init) < 0)
			die("KVM_ARM_VCPU_INIT %d: %s", i, strerror(errno));
		s->run[i] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->vcpu[i], 0);
		if (s->run[i] == MAP_FAILED)
			die("mmap kvm_run: %s", strerror(errno));
	}
	uint64_t pc = BOX_GPA;
	struct kvm_one_reg r = { .id = PC_ID, .addr = (uint64_t)(uintptr_t)&pc };
	if (ioctl(s->vcpu[0], KVM_SET_ONE_REG, &r) < 0)
		die("KVM_SET_ONE_REG pc: %s", strerror(errno));
	vgic_fd = create_device(s->vm, KVM_DEV_TYPE_ARM_VGIC_V3);
	if (vgic_fd < 0)
		die("KVM_CREATE_DEVICE VGIC_V3: %s", strerror(-vgic_fd));
	uint64_t a = DIST_GPA;
	int e;
	if ((e = attr(vgic_fd, KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &a)))
		die("VGIC dist address: %s", strerror(e));
	a = REDIST_GPA;
	if ((e = attr(vgic_fd, KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &a)))
		die("VGIC redist address: %s", strerror(e));
	its_fd = create_device(s->vm, KVM_DEV_TYPE_ARM_VGIC_ITS);
	if (its_fd < 0)
		die("KVM_CREATE_DEVICE ITS: %s", strerror(-its_fd));
	if ((e = attr(vgic_fd, KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL)))
		die("VGIC init: %s", strerror(e));
	its_base = ADDR_UNDEF;
	last_ram = s->ram;
}

static int run_guest(struct session *s, uint64_t op, uint64_t addr, uint64_t width, uint64_t value, uint64_t *out)
{
	uint64_t *box = (uint64_t *)(s->ram + (BOX_GPA - RAM_GPA) + (guest_box - guest_begin));
	box[0] = op; box[1] = addr; box[2] = width; box[3] = value; box[4] = 0;
	struct kvm_run *run = s->run[0];
	alarm(10);
	int rc = ioctl(s->vcpu[0], KVM_RUN, 0);
	int e = errno;
	alarm(0);
	if (rc < 0) {
		answer_errno(e);
		return -1;
	}
	if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.phys_addr != EXIT_GPA) {
		if (run->exit_reason == KVM_EXIT_MMIO)	/* the access itself reached no device of the kernel */
			answer_text("exit:mmio@0x%llx", (unsigned long long)run->mmio.phys_addr);
		else
			answer_text("exit:%u", run->exit_reason);
		return -1;
	}
	*out = box[4];
	return 0;
}

static int is_vgic_group(uint32_t g)
{
	return g == KVM_DEV_ARM_VGIC_GRP_REDIST_REGS;
}

int arch_call(struct session *s, char **w, int n)
{
	const char *op = w[0];
	if ((!strcmp(op, "read") && n == 3) || (!strcmp(op, "write") && n == 4)) {
		uint64_t off = strtoull(w[1], NULL, 0), width = strtoull(w[2], NULL, 0), v = 0;
		/* the replay target's rules: the frame must be placed, the access inside it */
		if (its_base == ADDR_UNDEF || off + width > ITS_FRAME) {
			answer_errno(ENXIO);
			return 1;
		}
		uint64_t value = n == 4 ? strtoull(w[3], NULL, 0) : 0;
		if (run_guest(s, n == 4 ? 2 : 1, its_base + off, width, value, &v) == 0) {
			if (n == 4)
				answer_text("ok");
			else
				answer_text("0x%llx", (unsigned long long)v);
		}
		return 1;
	}
	if (!strcmp(op, "mem-write") && n == 3) {
		uint64_t gpa = strtoull(w[1], NULL, 0);
		size_t len = strcmp(w[2], "-") ? strlen(w[2]) / 2 : 0;
		if (gpa < RAM_GPA || gpa + len > RAM_GPA + RAM_SIZE) {
			answer_text("guest:outside-ram");
			return 1;
		}
		for (size_t i = 0; i < len; i++)
			sscanf(w[2] + 2 * i, "%2hhx", &s->ram[gpa - RAM_GPA + i]);
		answer_text("ok");
		return 1;
	}
	if (!strcmp(op, "mem-read") && n == 3) {
		uint64_t gpa = strtoull(w[1], NULL, 0), len = strtoull(w[2], NULL, 0);
		if (gpa < RAM_GPA || gpa + len > RAM_GPA + RAM_SIZE) {
			answer_text("guest:outside-ram");
			return 1;
		}
		answer_bytes(s->ram + (gpa - RAM_GPA), len);
		return 1;
	}
	if ((!strcmp(op, "attr-get") && n == 4) || (!strcmp(op, "attr-set") && n == 5) || (!strcmp(op, "attr-has") && n == 3)) {
		uint32_t g = strtoul(w[1], NULL, 0);
		uint64_t a = strtoull(w[2], NULL, 0);
		int fd = is_vgic_group(g) ? vgic_fd : its_fd;
		uint8_t buf[8] = { 0 };
		if (!strcmp(op, "attr-has")) {
			int e = attr(fd, KVM_HAS_DEVICE_ATTR, g, a, NULL);
			if (e == ENXIO)
				answer_text("0");
			else if (e)
				answer_errno(e);
			else
				answer_text("1");
			return 1;
		}
		if (!strcmp(op, "attr-get")) {
			unsigned size = strtoul(w[3], NULL, 0);
			int e = attr(fd, KVM_GET_DEVICE_ATTR, g, a, buf);
			uint64_t v = 0;
			memcpy(&v, buf, size > 8 ? 8 : size);
			if (e)
				answer_errno(e);
			else
				answer_text("0x%llx", (unsigned long long)v);
			return 1;
		}
		uint64_t v = strtoull(w[3], NULL, 0);
		unsigned size = strtoul(w[4], NULL, 0);
		memcpy(buf, &v, size > 8 ? 8 : size);
		int e = attr(fd, KVM_SET_DEVICE_ATTR, g, a, buf);
		if (e) {
			answer_errno(e);
		} else {
			answer_text("ok");
			if (g == KVM_DEV_ARM_VGIC_GRP_ADDR && a == KVM_VGIC_ITS_ADDR_TYPE)
				its_base = v;
		}
		return 1;
	}
	if (!strcmp(op, "msi") && (n == 3 || n == 4)) {
		uint64_t addr = strtoull(w[1], NULL, 0);
		struct kvm_msi msi = {
			.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32),
			.data = (uint32_t)strtoull(w[2], NULL, 0),
			.flags = n == 4 ? KVM_MSI_VALID_DEVID : 0,
			.devid = n == 4 ? (uint32_t)strtoull(w[3], NULL, 0) : 0,
		};
		int rc = ioctl(s->vm, KVM_SIGNAL_MSI, &msi);
		if (rc < 0)
			answer_errno(errno);
		else
			answer_text("%d", rc);
		return 1;
	}
	if (!strcmp(op, "create-device")) {
		int fd = create_device(s->vm, KVM_DEV_TYPE_ARM_VGIC_ITS);
		if (fd < 0)
			answer_errno(-fd);
		else
			answer_text("ok");
		return 1;
	}
	return 0;	/* state, vcpu-load/put: no uapi for them */
}
