/*
 * fuzz_push.h: for the targets linked with -Wl,--wrap=virtq_push,--wrap=virtq_push_n (the Makefile's
 * FUZZ_LDFLAGS_*): each chain the device returns is checked as it is pushed. Read back from guest RAM,
 * a used entry could be the guest's own writing: a hostile driver may lay its buffers over its used ring.
 * Every push returns only chains the device took; the target's push_check() checks the rest. Include it
 * once, from a target that defines check() and push_check().
 */
#ifndef KVMINI_FUZZ_PUSH_H
#define KVMINI_FUZZ_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

static void check(bool ok, const char *what);
static void push_check(const struct virtq *q, const uint16_t *heads, const uint32_t *written, uint16_t n);

int __real_virtq_push_n(struct virtq *q, const uint16_t *heads, const uint32_t *written, uint16_t n);
int __wrap_virtq_push_n(struct virtq *q, const uint16_t *heads, const uint32_t *written, uint16_t n);
int __wrap_virtq_push(struct virtq *q, uint16_t head, uint32_t written);

int __wrap_virtq_push_n(struct virtq *q, const uint16_t *heads, const uint32_t *written, uint16_t n)
{
	check(q->in_flight >= n, "only chains taken are returned");
	push_check(q, heads, written, n);
	return __real_virtq_push_n(q, heads, written, n);
}

int __wrap_virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	return __wrap_virtq_push_n(q, &head, &written, 1);
}

#endif
