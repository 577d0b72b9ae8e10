/*
 * fuzz_blk.c: libFuzzer target for the virtio-blk request path: a hostile driver's queue, chains and
 * requests, served by blk_request() against real image files.
 *
 * Input: fuzz_virtq's layout, a 16-byte header then the contents of guest RAM (missing bytes are zero).
 *   0: queue size, 1 << (byte % 16)      1: features: bit 0 INDIRECT_DESC, bit 1 EVENT_IDX
 *   2: rounds, 1 + byte % 4              3: how far the "driver" moves avail->idx between rounds
 *   4, 6, 8: le16 desc, avail, used: guest address (bit 15 picks the high region) + bits 0-14
 *   10: the disk: bit 0 the read-only image, bit 1 no hole punching (as on a block device)
 *   11, 12: a configuration-space read: offset byte 11 (from the top of 64 bits when byte 12 has
 *           bit 7), width 1 + byte 12 % 8
 * Guest RAM is two regions, 4 KiB at 0 and 8 KiB at 4 GiB, each its own allocation so that ASan
 * catches any access outside. The requests themselves (type, sector, segments) are bytes in guest RAM.
 *
 * The disks: two 256 KiB images in $TMPDIR (or /tmp), made once and unlinked at once, filled with a
 * pattern; one opened read-write, one read-only. A request that may write puts the pattern back after
 * the input, so that each input runs the same way however often it runs.
 *
 * Every answer is checked against what the spec (virtio 1.2, 5.2.6) and blk.h say it must be: the
 * used length and the status byte, the data a read returns and a write leaves on the disk, the
 * serial, zeroed ranges, the image's size, and a configuration-space read.
 *
 * Build: make build/tests/fuzz/fuzz_blk
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base tests/fuzz/fuzz_blk.c \
 *            devices/virtio/blk.c devices/virtio/virtq.c devices/base/mem.c devices/base/log.c -o /tmp/blk-seeds && \
 *         /tmp/blk-seeds tests/fuzz/corpus/blk
 */
#include <errno.h>
#include <limits.h>
#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "fuzz_ram.h"
#include "mem.h"
#include "virtio/blk.h"
#include "virtio/virtq.h"

#define OUTHDR_LEN  16 /* struct virtio_blk_outhdr */
#define SEG_LEN	    16 /* struct virtio_blk_discard_write_zeroes */
#define IMG_SIZE    (256 * 1024)
#define IMG_SECTORS (IMG_SIZE / BLK_SECTOR)
#define DISK_RO	    1 /* header byte 10 */
#define DISK_NOHOLE 2

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the target keeps between inputs: libFuzzer gives it no other place. */
static struct {
	struct blk_disk disk[2]; /* read-write, read-only */
	char path[2][PATH_MAX];	 /* blk_disk keeps the path for its messages */
	uint8_t pattern[IMG_SIZE];
	/* A request's device-readable bytes, as the device will read them (no more than a write can use). */
	uint8_t rd[OUTHDR_LEN + IMG_SIZE];
	uint8_t buf[IMG_SIZE];
	bool dirty; /* the read-write image may differ from the pattern */
} fz;

/* A failed invariant: crash loudly so that libFuzzer keeps the input. */
static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "blk invariant broken: %s\n", what);
		abort();
	}
}

/* Byte (off) of a fresh image: differs between neighbouring bytes and sectors, never all zero. */
static uint8_t pattern_at(uint32_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + 1);
}

/* Creates image (i), read-only when (i) is 1, opens it as a disk and unlinks it: nothing is left behind. */
static void make_disk(int i)
{
	static const char *const serial[2] = { "kvmini-fuzz-disk-rw0", "ro" };
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd, ret;

	snprintf(fz.path[i], sizeof(fz.path[i]), "%s/kvmini-fuzz-blk-XXXXXX", dir);
	fd = mkstemp(fz.path[i]);
	if (fd < 0 || pwrite(fd, fz.pattern, IMG_SIZE, 0) != IMG_SIZE) {
		perror(fz.path[i]);
		abort();
	}
	close(fd);
	ret = blk_open(&fz.disk[i], fz.path[i], i == 1, serial[i]);
	unlink(fz.path[i]);
	if (ret) {
		fprintf(stderr, "%s: %s\n", fz.path[i], strerror(-ret));
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Malformed requests are the point here: keep the once-only warning quiet, as it is reset per input. */
	log_set_level(LOG_ERR);
	for (uint32_t off = 0; off < IMG_SIZE; off++)
		fz.pattern[off] = pattern_at(off);
	make_disk(0);
	make_disk(1);
	return 0;
}

/* Copies the first (max) at most of the chain's device-readable or device-writable bytes to (dst). */
static uint32_t gather(const struct virtq_chain *c, bool writable, uint8_t *dst, uint32_t max)
{
	uint32_t n = 0;

	for (unsigned int i = 0; i < c->nbufs && n < max; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		uint32_t take = b->len < max - n ? b->len : max - n;

		if (b->device_writable != writable)
			continue;
		memcpy(dst + n, b->host, take);
		n += take;
	}
	return n;
}

/* The status byte: the last byte of the chain's device-writable part (virtio 1.2, 5.2.6). */
static uint8_t *status_of(const struct virtq_chain *c)
{
	uint8_t *last = NULL;

	for (unsigned int i = 0; i < c->nbufs; i++)
		if (c->bufs[i].device_writable && c->bufs[i].len)
			last = c->bufs[i].host + c->bufs[i].len - 1;
	return last;
}

static bool in_readable(const struct virtq_chain *c, const uint8_t *p)
{
	for (unsigned int i = 0; i < c->nbufs; i++)
		if (!c->bufs[i].device_writable && p >= c->bufs[i].host &&
		    p < c->bufs[i].host + c->bufs[i].len)
			return true;
	return false;
}

/* Whether no two device-writable buffers share a byte: only then can what lands in them be predicted. */
static bool writable_disjoint(const struct virtq_chain *c)
{
	for (unsigned int i = 0; i < c->nbufs; i++) {
		const struct virtq_buf *a = &c->bufs[i];

		for (unsigned int j = i + 1; a->device_writable && j < c->nbufs; j++) {
			const struct virtq_buf *b = &c->bufs[j];

			if (b->device_writable && a->host < b->host + b->len && b->host < a->host + a->len)
				return false;
		}
	}
	return true;
}

static bool in_disk(uint64_t sector, uint64_t count)
{
	return sector <= IMG_SECTORS && count <= IMG_SECTORS - sector;
}

struct request {
	uint32_t type;
	uint64_t sector;
	uint32_t data_len; /* IN: bytes before the status; OUT: bytes after the header */
	uint32_t nseg;	   /* DISCARD, WRITE_ZEROES: segments, when the request's size is right */
};

/* DISCARD and WRITE_ZEROES: the first segment that fails decides (virtio 1.2, 5.2.6.2). */
static uint8_t expect_discard(const struct blk_disk *d, const struct request *r)
{
	if (d->read_only || !r->nseg)
		return VIRTIO_BLK_S_IOERR;
	for (uint32_t i = 0; i < r->nseg; i++) {
		struct virtio_blk_discard_write_zeroes seg;

		memcpy(&seg, fz.rd + OUTHDR_LEN + i * SEG_LEN, SEG_LEN);
		if (seg.flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
		    (r->type == VIRTIO_BLK_T_DISCARD && seg.flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (!in_disk(seg.sector, seg.num_sectors))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* The status the device must write for request (r) in chain (c), and the used length in (used). */
static uint8_t expect(const struct blk_disk *d, const struct virtq_chain *c, const struct request *r,
		      uint32_t *used)
{
	uint32_t len = r->data_len;

	*used = 1;
	if (c->readable < OUTHDR_LEN)
		return VIRTIO_BLK_S_IOERR;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (len % BLK_SECTOR || !in_disk(r->sector, len / BLK_SECTOR) ||
		    (r->type == VIRTIO_BLK_T_OUT && d->read_only))
			return VIRTIO_BLK_S_IOERR;
		*used += r->type == VIRTIO_BLK_T_IN ? len : 0;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		*used += len < BLK_SERIAL_LEN ? len : BLK_SERIAL_LEN;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return expect_discard(d, r);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Reads the request from the chain as it stands now, before the device sees it. */
static void read_request(const struct virtq_chain *c, struct request *r)
{
	struct virtio_blk_outhdr hdr;
	uint32_t n = gather(c, false, fz.rd, sizeof(fz.rd));

	memset(&hdr, 0, sizeof(hdr));
	memcpy(&hdr, fz.rd, n < OUTHDR_LEN ? n : OUTHDR_LEN);
	r->type = hdr.type;
	r->sector = hdr.sector;
	r->data_len = r->type == VIRTIO_BLK_T_OUT ? c->readable - OUTHDR_LEN : c->writable - 1;
	r->nseg = 0;
	if (c->readable > OUTHDR_LEN && (c->readable - OUTHDR_LEN) % SEG_LEN == 0 &&
	    (c->readable - OUTHDR_LEN) / SEG_LEN <= BLK_MAX_DISCARD_SEG)
		r->nseg = (c->readable - OUTHDR_LEN) / SEG_LEN;
}

static void read_image(const struct blk_disk *d, uint64_t sector, uint32_t len)
{
	check(pread(d->fd, fz.buf, len, (off_t)(sector * BLK_SECTOR)) == (ssize_t)len, "image readable");
}

/* What a successful request left: the data read or written, the serial, the zeroed ranges. */
static void check_data(const struct blk_disk *d, const struct virtq_chain *c, const struct request *r)
{
	static uint8_t got[IMG_SIZE];
	uint32_t len = r->data_len;

	if (r->type == VIRTIO_BLK_T_IN && writable_disjoint(c)) {
		read_image(d, r->sector, len);
		check(gather(c, true, got, len) == len && !memcmp(got, fz.buf, len),
		      "a read returns the disk's data");
	} else if (r->type == VIRTIO_BLK_T_OUT) {
		read_image(d, r->sector, len);
		check(!memcmp(fz.rd + OUTHDR_LEN, fz.buf, len),
		      "a write leaves the driver's data on the disk");
	} else if (r->type == VIRTIO_BLK_T_GET_ID && writable_disjoint(c)) {
		len = len < BLK_SERIAL_LEN ? len : BLK_SERIAL_LEN;
		check(gather(c, true, got, len) == len && !memcmp(got, d->serial, len),
		      "GET_ID returns the serial");
	} else if (r->type == VIRTIO_BLK_T_WRITE_ZEROES) {
		for (uint32_t i = 0; i < r->nseg; i++) {
			struct virtio_blk_discard_write_zeroes seg;

			memcpy(&seg, fz.rd + OUTHDR_LEN + i * SEG_LEN, SEG_LEN);
			read_image(d, seg.sector, seg.num_sectors * BLK_SECTOR);
			for (uint32_t j = 0; j < seg.num_sectors * BLK_SECTOR; j++)
				check(fz.buf[j] == 0, "write-zeroes leaves zeros");
		}
	}
}

/* One chain, as the device loop serves it: the request, then every promise blk.h and the spec make. */
static uint32_t serve(void *ctx, const struct virtq *q, const struct virtq_chain *c)
{
	struct blk_disk *d = ctx;
	uint8_t *status = status_of(c);
	struct request r;
	uint32_t used, used_len = 0;
	uint8_t want;
	struct stat st;
	int ret;

	(void)q; /* one ring: the chain says it all */
	/* A marker no answer has, unless the guest itself reads that byte as part of the request. */
	if (status && !in_readable(c, status))
		*status = 0xff;
	read_request(c, &r);
	want = expect(d, c, &r, &used);
	if (!d->read_only && (r.type == VIRTIO_BLK_T_OUT || r.type == VIRTIO_BLK_T_DISCARD ||
			      r.type == VIRTIO_BLK_T_WRITE_ZEROES))
		fz.dirty = true;
	ret = blk_request(d, c, &used_len);
	check(fstat(d->fd, &st) == 0 && st.st_size == IMG_SIZE, "the image keeps its size");
	if (!status) {
		check(ret == -EINVAL, "no status byte: -EINVAL");
		return 0;
	}
	check(ret == 0 && used_len > 0 && used_len <= c->writable, "used length within the writable bytes");
	check(*status == VIRTIO_BLK_S_OK || *status == VIRTIO_BLK_S_IOERR || *status == VIRTIO_BLK_S_UNSUPP,
	      "status is OK, IOERR or UNSUPP");
	if (*status != want || used_len != used) {
		fprintf(stderr, "type %u sector %llu: status %u used %u, expected %u and %u\n", r.type,
			(unsigned long long)r.sector, *status, used_len, want, used);
		check(false, "the answer the spec requires");
	}
	if (want == VIRTIO_BLK_S_OK)
		check_data(d, c, &r);
	return used_len;
}

/* The guest reads the configuration at any offset and width: a slice of the whole, zeros beyond it. */
static void config_probe(const struct blk_disk *d, const uint8_t *hdr)
{
	struct virtio_blk_config cfg;
	uint64_t off = hdr[12] & 0x80 ? UINT64_MAX - hdr[11] : hdr[11];
	uint32_t len = 1u + hdr[12] % 8;
	uint8_t got[8];

	blk_config_read(d, 0, &cfg, sizeof(cfg));
	check(cfg.capacity == IMG_SECTORS && cfg.blk_size == BLK_SECTOR &&
		      cfg.seg_max <= VIRTQ_CHAIN_MAX - 2 && cfg.max_discard_seg == BLK_MAX_DISCARD_SEG,
	      "configuration: capacity, block size, segment limits");
	check(!(blk_features(d) & 1ULL << VIRTIO_BLK_F_RO) == !d->read_only &&
		      !(blk_features(d) & 1ULL << VIRTIO_BLK_F_DISCARD) == d->read_only,
	      "a read-only disk says so and offers no discard");
	blk_config_read(d, off, got, len);
	for (uint32_t i = 0; i < len; i++) {
		bool inside = off < sizeof(cfg) && i < sizeof(cfg) - off;

		check(got[i] == (inside ? ((const uint8_t *)&cfg)[off + i] : 0),
		      "a configuration read is a slice of the whole, zeros beyond");
	}
}

static void run(const struct gmem *m, const uint8_t *hdr)
{
	static struct virtq_chain c;
	struct blk_disk *d = &fz.disk[hdr[10] & DISK_RO];
	struct virtq q;

	d->punch_hole = !(hdr[10] & DISK_NOHOLE);
	atomic_flag_clear(&d->warned_bad_request);
	check((blk_features(d) & fuzz_ring_features(hdr)) == fuzz_ring_features(hdr),
	      "the disk offers the ring features");
	config_probe(d, hdr);
	if (fuzz_queue_rounds(m, hdr, &q, &c, serve, d) == 1)
		check(q.broken && virtq_pop(&q, &c) < 0, "a broken queue stays broken");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_LEN];
	struct gmem m;

	fuzz_ram_load(data, size, hdr, &m);
	run(&m, hdr);
	if (fz.dirty) {
		check(pwrite(fz.disk[0].fd, fz.pattern, IMG_SIZE, 0) == IMG_SIZE, "image restored");
		fz.dirty = false;
	}
	fuzz_ram_free(&m);
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/*
 * Seed corpus: each request type well formed, so that coverage starts from every path, and a few
 * shapes of chain. All use a 32-entry queue with its rings low; headers, status bytes, indirect
 * tables and discard segments sit in fixed slots of the low region, data in both regions.
 */

#define Q_LOG2	     5 /* 32 entries: the descriptor table fills 512 bytes */
#define DESC_AT	     0x000
#define AVAIL_AT     0x200
#define USED_AT	     0x280
#define OUTHDR_AT(k) (0x400 + 0x10ULL * (k)) /* request k's header */
#define STATUS_AT(k) (0x500 + (uint64_t)(k))
#define TABLE_AT     0x540 /* an indirect table */
#define SEGS_AT	     0x600 /* discard segments, up to 32 */
#define DATA_AT	     0x800 /* 2 KiB of data in the low region, 8 KiB in the high one */
#define W	     VIRTQ_DESC_F_WRITE

/* One buffer of a chain: NEXT is added where another follows. */
struct sbuf {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;
};

/* Chains (b) through descriptors [first, first + n) of the table at (table). */
static void chain(struct seed *s, uint64_t table, uint16_t first, const struct sbuf *b, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		desc(s, table, (uint16_t)(first + i), b[i].gpa, b[i].len,
		     (uint16_t)(b[i].flags | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), (uint16_t)(first + i + 1));
}

/* Header: the queue above with (features), (rounds) and the (disk) flags. */
static void header(struct seed *s, uint8_t features, uint8_t rounds, uint8_t disk)
{
	const uint8_t h[HDR_LEN] = { Q_LOG2,
				     features,
				     rounds,
				     0,
				     DESC_AT & 0xff,
				     DESC_AT >> 8,
				     AVAIL_AT & 0xff,
				     AVAIL_AT >> 8,
				     USED_AT & 0xff,
				     USED_AT >> 8,
				     disk };

	memset(s, 0, sizeof(*s));
	memcpy(s->img, h, HDR_LEN);
	s->len = HDR_LEN;
}

static void outhdr(struct seed *s, unsigned int k, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };

	poke(s, OUTHDR_AT(k), &h, sizeof(h));
}

static void segment(struct seed *s, unsigned int i, uint64_t sector, uint32_t count, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes seg = { .sector = sector,
						       .num_sectors = count,
						       .flags = flags };

	poke(s, SEGS_AT + SEG_LEN * (uint64_t)i, &seg, sizeof(seg));
}

/* One request at head 0: header (type, sector), then (data) buffers, then the status byte. */
static void single(struct seed *s, uint32_t type, uint64_t sector, const struct sbuf *data, uint16_t n)
{
	static const uint16_t head0[] = { 0 };
	struct sbuf b[8];

	b[0] = (struct sbuf){ OUTHDR_AT(0), OUTHDR_LEN, 0 };
	if (n)
		memcpy(b + 1, data, n * sizeof(*data));
	b[n + 1] = (struct sbuf){ STATUS_AT(0), 1, W };
	chain(s, DESC_AT, 0, b, (uint16_t)(n + 2));
	outhdr(s, 0, type, sector);
	offer(s, AVAIL_AT, head0, 1);
}

static void seed_types(const char *dir)
{
	static struct seed s;
	const struct sbuf in[] = { { HIGH_GPA, 1024, W } }, out[] = { { DATA_AT, 512, 0 } },
			  id[] = { { DATA_AT, BLK_SERIAL_LEN, W } },
			  segs3[] = { { SEGS_AT, 3 * SEG_LEN, 0 } },
			  segs2[] = { { SEGS_AT, 2 * SEG_LEN, 0 } };

	header(&s, 0, 1, 0);
	single(&s, VIRTIO_BLK_T_IN, 2, in, 1);
	emit(&s, dir, "in");
	header(&s, 0, 1, 0);
	poke(&s, DATA_AT, "written by the seed", 19);
	single(&s, VIRTIO_BLK_T_OUT, 4, out, 1);
	emit(&s, dir, "out");
	header(&s, 0, 1, 0);
	single(&s, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	emit(&s, dir, "flush");
	header(&s, 0, 1, 0);
	single(&s, VIRTIO_BLK_T_GET_ID, 0, id, 1);
	emit(&s, dir, "get-id");
	header(&s, 0, 1, 0);
	segment(&s, 0, 0, 8, 0);
	segment(&s, 1, 100, 1, 0);
	segment(&s, 2, IMG_SECTORS - 16, 16, 0);
	single(&s, VIRTIO_BLK_T_DISCARD, 0, segs3, 1);
	emit(&s, dir, "discard");
	for (uint8_t disk = 0; disk <= DISK_NOHOLE; disk += DISK_NOHOLE) {
		header(&s, 0, 1, disk);
		segment(&s, 0, 10, 4, 0);
		segment(&s, 1, 30, 64, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		single(&s, VIRTIO_BLK_T_WRITE_ZEROES, 0, segs2, 1);
		emit(&s, dir, disk ? "write-zeroes-nohole" : "write-zeroes");
	}
	header(&s, 0, 1, 0);
	single(&s, VIRTIO_BLK_T_SECURE_ERASE, 0, segs2, 1);
	emit(&s, dir, "unknown-type");
}

/* Reads and writes in pieces of odd sizes across both regions, the last one past the disk's end. */
static void seed_segments(const char *dir)
{
	static struct seed s;
	static const uint16_t heads[] = { 0, 8, 16 };
	const struct sbuf out[] = { { OUTHDR_AT(0), OUTHDR_LEN, 0 }, { DATA_AT, 100, 0 },
				    { HIGH_GPA + 0x1000, 412, 0 },   { DATA_AT + 100, 1024, 0 },
				    { HIGH_GPA + 0x1800, 512, 0 },   { STATUS_AT(0), 1, W } },
			  in[] = { { OUTHDR_AT(1), OUTHDR_LEN, 0 },
				   { HIGH_GPA, 300, W },
				   { HIGH_GPA + 0x400, 724, W },
				   { HIGH_GPA + 0x800, 1024, W },
				   { STATUS_AT(1), 1, W } },
			  past[] = { { OUTHDR_AT(2), OUTHDR_LEN, 0 },
				     { HIGH_GPA, 1024, W },
				     { STATUS_AT(2), 1, W } };

	header(&s, 0, 1, 0);
	for (uint32_t i = 0; i < 0x100; i++)
		poke(&s, HIGH_GPA + 0x1000 + i, &i, 1);
	chain(&s, DESC_AT, 0, out, 6);
	chain(&s, DESC_AT, 8, in, 5);
	chain(&s, DESC_AT, 16, past, 3);
	outhdr(&s, 0, VIRTIO_BLK_T_OUT, 7);
	outhdr(&s, 1, VIRTIO_BLK_T_IN, 7);
	outhdr(&s, 2, VIRTIO_BLK_T_IN, IMG_SECTORS - 1);
	offer(&s, AVAIL_AT, heads, 3);
	emit(&s, dir, "rw-segments");
}

/* A read through an indirect table, data in both regions; then a discard of the most segments. */
static void seed_indirect_discard(const char *dir)
{
	static struct seed s;
	static const uint16_t heads[] = { 0, 1 };
	const struct sbuf table[] = { { OUTHDR_AT(0), OUTHDR_LEN, 0 },
				      { DATA_AT, 512, W },
				      { HIGH_GPA + 0x200, 1024, W },
				      { STATUS_AT(0), 1, W } },
			  discard[] = { { OUTHDR_AT(1), OUTHDR_LEN, 0 },
					{ SEGS_AT, BLK_MAX_DISCARD_SEG * SEG_LEN, 0 },
					{ STATUS_AT(1), 1, W } };

	header(&s, 3, 1, 0);
	desc(&s, DESC_AT, 0, TABLE_AT, 4 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	chain(&s, TABLE_AT, 0, table, 4);
	chain(&s, DESC_AT, 1, discard, 3);
	outhdr(&s, 0, VIRTIO_BLK_T_IN, 9);
	outhdr(&s, 1, VIRTIO_BLK_T_DISCARD, 0);
	for (unsigned int i = 0; i < BLK_MAX_DISCARD_SEG; i++)
		segment(&s, i, 16ULL * i, 8, 0);
	offer(&s, AVAIL_AT, heads, 2);
	emit(&s, dir, "indirect-discard");
}

/* Malformed: no status byte (nothing to answer with), and a header shorter than 16 bytes. */
static void seed_malformed(const char *dir)
{
	static struct seed s;
	static const uint16_t heads[] = { 0, 2 };
	const struct sbuf nostatus[] = { { OUTHDR_AT(0), OUTHDR_LEN, 0 }, { DATA_AT, 512, 0 } },
			  short_hdr[] = { { OUTHDR_AT(1), 8, 0 }, { STATUS_AT(1), 1, W } };

	header(&s, 0, 1, 0);
	chain(&s, DESC_AT, 0, nostatus, 2);
	chain(&s, DESC_AT, 2, short_hdr, 2);
	outhdr(&s, 0, VIRTIO_BLK_T_OUT, 1);
	outhdr(&s, 1, VIRTIO_BLK_T_IN, 1);
	offer(&s, AVAIL_AT, heads, 2);
	emit(&s, dir, "malformed");
}

/* Every type against the read-only disk, over two rounds with the event index. */
static void seed_read_only(const char *dir)
{
	static struct seed s;
	static const uint32_t types[] = { VIRTIO_BLK_T_IN,	VIRTIO_BLK_T_OUT,
					  VIRTIO_BLK_T_FLUSH,	VIRTIO_BLK_T_GET_ID,
					  VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,
					  VIRTIO_BLK_T_SCSI_CMD };
	uint16_t heads[7];

	header(&s, 2, 2, DISK_RO);
	segment(&s, 0, 0, 1, 0);
	for (uint16_t k = 0; k < 7; k++) {
		bool in = types[k] == VIRTIO_BLK_T_IN || types[k] == VIRTIO_BLK_T_GET_ID;
		const struct sbuf b[] = { { OUTHDR_AT(k), OUTHDR_LEN, 0 },
					  { types[k] >= VIRTIO_BLK_T_DISCARD ? SEGS_AT
									     : HIGH_GPA + 0x200ULL * k,
					    types[k] >= VIRTIO_BLK_T_DISCARD ? SEG_LEN : 512, in ? W : 0 },
					  { STATUS_AT(k), 1, W } };

		chain(&s, DESC_AT, (uint16_t)(3 * k), b, 3);
		outhdr(&s, k, types[k], k);
		heads[k] = (uint16_t)(3 * k);
	}
	offer(&s, AVAIL_AT, heads, 7);
	poke16(&s, AVAIL_AT + 4 + 2 * (1 << Q_LOG2), 3); /* used_event */
	emit(&s, dir, "read-only");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	seed_types(argv[1]);
	seed_segments(argv[1]);
	seed_indirect_discard(argv[1]);
	seed_malformed(argv[1]);
	seed_read_only(argv[1]);
	return 0;
}
#endif
