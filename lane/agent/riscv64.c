/*
 * riscv64 part of the lane's kernel agent: the RISC-V vector model's operations (replay target
 * riscv-vector) on a real vCPU: KVM_GET/SET_ONE_REG, KVM_GET_REG_LIST, and KVM_RUN of a tiny guest
 * (guest-riscv64.S) for vcpu-load and vector-exec. vcpu-reset is the kernel's own reset of a vCPU
 * (kvm_riscv_reset_vcpu), which only a guest can ask for: the vCPU is stopped (KVM_SET_MP_STATE), a helper
 * vCPU of the session starts it again with SBI HSM HART_START (KVM_REQ_VCPU_RESET), and one KVM_RUN of the
 * vCPU carries out the request.
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

/* uapi arch/riscv/include/uapi/asm/kvm.h (written out: the cross libc's headers predate the vector ids) */
#define REG_RISCV		0x8000000000000000ULL
#define REG_U64			0x0030000000000000ULL
#define REG_SIZE(id)		(1UL << (((id) >> 52) & 0xf))
#define TYPE_CORE		(2ULL << 24)
#define TYPE_ISA_EXT		(7ULL << 24)
#define TYPE_VECTOR		(9ULL << 24)
#define ISA_EXT_MAX_PROBE	128

#define RAM_GPA		0x80000000ULL
#define RAM_SIZE	0x10000
#define EXIT_GPA	0x10000000ULL

extern const uint8_t guest_begin[], guest_end[], guest_cmd[];

static void on_alarm(int sig) { (void)sig; }

static void *reg_buf;		/* a 64 KiB window followed by a PROT_NONE page */
#define REG_WINDOW 0x10000

static void *xmmap(size_t n, int prot)
{
	void *p = mmap(NULL, n, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	return p;
}

static int one_reg(int fd, unsigned long req, uint64_t id, void *addr)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)addr };
	return ioctl(fd, req, &r) < 0 ? errno : 0;
}

void arch_probe(int kvm)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: a hung KVM_RUN returns EINTR */
	reg_buf = xmmap(REG_WINDOW + 4096, PROT_READ | PROT_WRITE);
	mprotect((char *)reg_buf + REG_WINDOW, 4096, PROT_NONE);

	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU: %s", strerror(errno));
	/* the host's extensions: every ISA_EXT id a fresh vCPU has (ENOENT: the host lacks it) */
	printf("host-isa");
	for (uint64_t i = 0; i < ISA_EXT_MAX_PROBE; i++) {
		uint64_t v;
		if (one_reg(vcpu, KVM_GET_ONE_REG, REG_RISCV | REG_U64 | TYPE_ISA_EXT | i, &v) == 0)
			printf(" %llu", (unsigned long long)i);
	}
	printf("\n");
	uint64_t vlenb = 0;
	int e = one_reg(vcpu, KVM_GET_ONE_REG, REG_RISCV | REG_U64 | TYPE_VECTOR | 4, &vlenb);
	printf("host-vlenb %llu%s\n", (unsigned long long)vlenb, e ? " (no vector registers)" : "");
	close(vcpu);
	close(vm);
}

void arch_session_open(struct session *s, int kvm)
{
	s->vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (s->vm < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));
	s->ram = xmmap(RAM_SIZE, PROT_READ | PROT_WRITE);
	memcpy(s->ram, guest_begin, guest_end - guest_begin);
	struct kvm_userspace_memory_region m = {
		.slot = 0, .guest_phys_addr = RAM_GPA, .memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)s->ram,
	};
	if (ioctl(s->vm, KVM_SET_USER_MEMORY_REGION, &m) < 0)
		die("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	for (int i = 0; i <= s->nvcpus; i++) {	/* the last: the helper for vcpu-reset */
		s->vcpu[i] = ioctl(s->vm, KVM_CREATE_VCPU, i);
		if (s->vcpu[i] < 0)
			die("KVM_CREATE_VCPU %d: %s", i, strerror(errno));
		s->run[i] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->vcpu[i], 0);
		if (s->run[i] == MAP_FAILED)
			die("mmap kvm_run: %s", strerror(errno));
		uint64_t pc = RAM_GPA;
		if (one_reg(s->vcpu[i], KVM_SET_ONE_REG, REG_RISCV | REG_U64 | TYPE_CORE | 0, &pc))
			die("KVM_SET_ONE_REG pc: %s", strerror(errno));
		/* vCPUs other than 0 start powered off, for SBI HSM to start (vcpu.c, kvm_arch_vcpu_postcreate);
		 * the models have no power state: every vCPU of a session runs when asked */
		struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
		if (ioctl(s->vcpu[i], KVM_SET_MP_STATE, &runnable) < 0)
			die("KVM_SET_MP_STATE runnable: %s", strerror(errno));
		s->loaded[i] = 0;
	}
}

/* One KVM_RUN of the guest with command cmd; returns the value the guest stored, or -1 (answer set). */
static int run_guest(struct session *s, int i, uint32_t cmd)
{
	memcpy(s->ram + (guest_cmd - guest_begin), &cmd, 4);
	struct kvm_run *run = s->run[i];
	alarm(10);
	int rc = ioctl(s->vcpu[i], KVM_RUN, 0);
	int e = errno;
	alarm(0);
	if (rc < 0) {
		answer_errno(e);
		return -1;
	}
	if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.phys_addr != EXIT_GPA || !run->mmio.is_write) {
		answer_text("exit:%u", run->exit_reason);
		return -1;
	}
	uint32_t v;
	memcpy(&v, run->mmio.data, 4);
	return (int)v;
}

static int parse_hex(const char *h, uint8_t *out, size_t cap)
{
	if (!strcmp(h, "-"))
		return 0;
	size_t n = strlen(h) / 2;
	if (n > cap)
		die("value of %zu bytes", n);
	for (size_t i = 0; i < n; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
	return (int)n;
}

int arch_call(struct session *s, char **w, int n)
{
	const char *op = w[0];
	if (!strcmp(op, "state"))
		return 0;
	if (n < 2)
		die("%s: no vCPU", op);
	int i = atoi(w[1]);
	if (i < 0 || i >= s->nvcpus) {	/* the replay targets' rule: a vCPU the session lacks */
		answer_errno(EINVAL);
		return 1;
	}
	int fd = s->vcpu[i];
	if (!strcmp(op, "reg-get") && n == 3) {
		uint64_t id = strtoull(w[2], NULL, 0);
		size_t size = REG_SIZE(id);
		uint8_t *buf = reg_buf;
		memset(buf, 0, REG_WINDOW);
		int e = one_reg(fd, KVM_GET_ONE_REG, id, buf);
		if (e)
			answer_errno(e);
		else
			answer_bytes(buf, size);
		return 1;
	}
	if (!strcmp(op, "reg-set") && n == 4) {
		uint64_t id = strtoull(w[2], NULL, 0);
		uint8_t tmp[REG_WINDOW];
		int len = parse_hex(w[3], tmp, sizeof(tmp));
		/* the bytes end where the guard page starts: fewer than the id's size fault as a short buffer */
		uint8_t *at = (uint8_t *)reg_buf + REG_WINDOW - len;
		memcpy(at, tmp, len);
		int e = one_reg(fd, KVM_SET_ONE_REG, id, at);
		if (e)
			answer_errno(e);
		else
			answer_text("ok");
		return 1;
	}
	if (!strcmp(op, "reg-list") && n == 3) {
		uint64_t room = strtoull(w[2], NULL, 0);
		struct kvm_reg_list *l = calloc(1, sizeof(*l) + (room + 1) * 8);
		l->n = room;
		if (ioctl(fd, KVM_GET_REG_LIST, l) < 0) {
			answer_errno(errno);
		} else {
			size_t at = snprintf(answer, answer_cap, "list");
			for (uint64_t k = 0; k < l->n && at + 24 < answer_cap; k++)
				at += snprintf(answer + at, answer_cap - at, " 0x%llx", (unsigned long long)l->reg[k]);
		}
		free(l);
		return 1;
	}
	if (!strcmp(op, "vcpu-load")) {
		/* kvm_arch_vcpu_load runs at KVM_RUN entry: one run of the guest doing nothing */
		if (!s->loaded[i]) {
			if (run_guest(s, i, 0) != 0) {
				if (!answer[0])
					answer_text("guest:unexpected");
				return 1;
			}
			s->loaded[i] = 1;
		}
		answer_text("ok");
		return 1;
	}
	if (!strcmp(op, "vcpu-put")) {
		/* kvm_arch_vcpu_put already ran when KVM_RUN returned */
		s->loaded[i] = 0;
		answer_text("ok");
		return 1;
	}
	if (!strcmp(op, "vector-exec")) {
		if (!s->loaded[i]) {	/* the replay targets' rule: no guest runs before vcpu-load */
			answer_errno(EINVAL);
			return 1;
		}
		int v = run_guest(s, i, 1);
		if (v == 1)
			answer_text("ran");
		else if (v == 2)
			answer_text("trapped");
		else if (v >= 0)
			answer_text("guest:%d", v);
		return 1;
	}
	if (!strcmp(op, "vcpu-reset")) {
		struct kvm_mp_state stopped = { .mp_state = KVM_MP_STATE_STOPPED };
		if (ioctl(fd, KVM_SET_MP_STATE, &stopped) < 0)
			die("KVM_SET_MP_STATE stopped: %s", strerror(errno));
		uint32_t hart = (uint32_t)i;
		memcpy(s->ram + (guest_cmd - guest_begin) + 4, &hart, 4);
		int v = run_guest(s, s->nvcpus, 3);
		if (v != 0) {
			if (v > 0 || !answer[0])
				answer_text("guest:hsm-start-%d", v);
			return 1;
		}
		/* the reset happens at the vCPU's next KVM_RUN; a vCPU not loaded before is not loaded after */
		int was = s->loaded[i];
		if (run_guest(s, i, 0) != 0) {
			if (!answer[0])
				answer_text("guest:unexpected");
			return 1;
		}
		s->loaded[i] = was;
		answer_text("ok");
		return 1;
	}
	return 0;	/* no uapi for anything else */
}
