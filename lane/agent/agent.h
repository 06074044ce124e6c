/*
 * The lane's kernel agent: a static program inside a cross-architecture nested host that runs the
 * calls of replay sessions (dev.panavirt.replay.remote.CallLog) against the host's KVM and answers
 * each one on a line of its own. See lane/agent/README.md for the text protocol.
 */
#ifndef LANE_AGENT_H
#define LANE_AGENT_H

#include <stddef.h>
#include <stdint.h>

#define MAX_VCPUS 8

/* One session: a fresh VM and its vCPUs. */
struct session {
	int vm;
	int nvcpus;
	int vcpu[MAX_VCPUS + 1];	/* one more: an architecture's helper vCPU, not the script's */
	void *run[MAX_VCPUS + 1];
	int loaded[MAX_VCPUS + 1];
	uint8_t *ram;
};

/* Answer buffer of one call. */
extern char answer[];
extern size_t answer_cap;

/* Writes "E<NAME>" for errno e into the answer. */
void answer_errno(int e);
void answer_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void answer_bytes(const uint8_t *b, size_t n);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Architecture part. */
void arch_probe(int kvm);                           /* prints the host's facts before any session */
void arch_session_open(struct session *s, int kvm); /* creates VM, memory, vCPUs */
/* Runs one call (words[0] is the operation); returns 0 when the architecture does not know it. */
int arch_call(struct session *s, char **words, int n);

#endif
