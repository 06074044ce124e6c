/*
 * Protocol loop of the lane's kernel agent (lane/agent/README.md). Reads calls on standard input,
 * writes "CALL => ANSWER" on standard output, one line each, in order.
 */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

char answer[1 << 20];
size_t answer_cap = sizeof(answer);

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

void answer_text(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(answer, answer_cap, fmt, ap);
	va_end(ap);
}

void answer_errno(int e)
{
	const char *name = strerrorname_np(e);
	if (name)
		answer_text("%s", name);
	else
		answer_text("E%d", e);
}

void answer_bytes(const uint8_t *b, size_t n)
{
	size_t at = 0;
	at += snprintf(answer, answer_cap, "bytes:");
	for (size_t i = 0; i < n && at + 3 < answer_cap; i++)
		at += snprintf(answer + at, answer_cap - at, "%02x", b[i]);
}

static void session_close(struct session *s)
{
	for (int i = 0; i <= s->nvcpus; i++)
		if (s->vcpu[i] > 0)
			close(s->vcpu[i]);
	memset(s->vcpu, 0, sizeof(s->vcpu));
	if (s->vm >= 0)
		close(s->vm);
	s->vm = -1;
	s->nvcpus = 0;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm: %s", strerror(errno));
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		die("KVM API version %d", api);
	setvbuf(stdout, NULL, _IOLBF, 0);
	arch_probe(kvm);

	struct session s = { .vm = -1 };
	char line[1 << 16];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		char copy[sizeof(line)];
		strcpy(copy, line);
		char *words[16];
		int n = 0;
		for (char *w = strtok(copy, " "); w && n < 16; w = strtok(NULL, " "))
			words[n++] = w;
		if (!strcmp(words[0], "session")) {
			/* session NAME VCPUS: a fresh VM for the next calls */
			session_close(&s);
			s.nvcpus = n > 2 ? atoi(words[2]) : 1;
			if (s.nvcpus < 1 || s.nvcpus > MAX_VCPUS)
				die("session %s: %d vCPUs (1..%d)", n > 1 ? words[1] : "?", s.nvcpus, MAX_VCPUS);
			arch_session_open(&s, kvm);
			printf("%s\n", line);
			continue;
		}
		if (s.vm < 0)
			die("call before any session: %s", line);
		answer[0] = 0;
		if (!arch_call(&s, words, n))
			answer_text("unsupported");
		printf("%s => %s\n", line, answer);
	}
	session_close(&s);
	return 0;
}
