/*
 * fuzz_ops.h: the stream of register accesses that fuzz_pci and fuzz_virtio_pci read from their input,
 * as a guest's vCPUs would make them: each access one op, in input order, until the input ends.
 *
 * An op is a byte, then an argument of (arg_len) bytes, little-endian (where the access goes; each
 * target says how it reads it), then, for a write only, (width) bytes of value:
 *   bits 0-2: width - 1 (1 to 8 bytes: the bus passes any width a vCPU exit gives, odd ones too)
 *   bit 3: a write (else a read)
 *   bits 4-7: the target, modulo the number of targets the harness has
 * An op cut short by the end of the input is dropped.
 */
#ifndef KVMINI_FUZZ_OPS_H
#define KVMINI_FUZZ_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OP_WRITE  0x08
#define OP_TARGET 4 /* the target's shift */

struct fuzz_op {
	unsigned int target;
	bool write;
	uint32_t len;
	uint32_t arg;
	uint8_t val[8]; /* the value written, zeros beyond (len) */
};

/* fuzz_op_next: the next op of (*p, *left) into (op), moving past it; false at the end of the input. */
static inline bool fuzz_op_next(const uint8_t **p, size_t *left, size_t arg_len, unsigned int nr_targets,
				struct fuzz_op *op)
{
	const uint8_t *q = *p;
	size_t need;

	if (*left < 1 + arg_len)
		return false;
	*op = (struct fuzz_op){
		.target = (q[0] >> OP_TARGET) % nr_targets,
		.write = q[0] & OP_WRITE,
		.len = (q[0] & 7u) + 1,
	};
	for (size_t i = 0; i < arg_len; i++)
		op->arg |= (uint32_t)q[1 + i] << (8 * i);
	need = 1 + arg_len + (op->write ? op->len : 0);
	if (*left < need)
		return false;
	if (op->write)
		memcpy(op->val, q + 1 + arg_len, op->len);
	*p += need;
	*left -= need;
	return true;
}

#ifdef FUZZ_SEED_MAIN
/* Seed writers: an input built op by op. */
#include <stdio.h>
#include <stdlib.h>

#define OPS_SEED_MAX 12304 /* the Makefile's FUZZ_MAX_LEN */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ops_seed {
	uint8_t buf[OPS_SEED_MAX];
	size_t len;
	size_t arg_len;
};

/* op: append an access of (len) bytes to (target) at (arg); (v) is the value of a write. */
static inline void op(struct ops_seed *s, unsigned int target, bool write, uint32_t len, uint32_t arg,
		      uint64_t v)
{
	size_t need = 1 + s->arg_len + (write ? len : 0);

	if (len < 1 || len > 8 || s->len + need > OPS_SEED_MAX)
		abort();
	s->buf[s->len++] = (uint8_t)(target << OP_TARGET | (write ? OP_WRITE : 0) | (len - 1));
	for (size_t i = 0; i < s->arg_len; i++)
		s->buf[s->len++] = (uint8_t)(arg >> (8 * i));
	for (uint32_t i = 0; write && i < len; i++)
		s->buf[s->len++] = (uint8_t)(v >> (8 * i));
}

/* emit: write the seed to (dir)/(name), then run it once: every seed must run clean. */
static inline void emit_ops(const struct ops_seed *s, const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f)) {
		perror(path);
		exit(1);
	}
	LLVMFuzzerTestOneInput(s->buf, s->len);
}
#endif

#endif
