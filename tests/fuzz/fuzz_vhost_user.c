/*
 * fuzz_vhost_user.c: libFuzzer target for the vhost-user receive path: a hostile front end's byte stream,
 * with file descriptors riding on it, as a back end reads it with vhu_recv(), and every memory table it
 * accepts mapped with vhu_mem_map().
 *
 * Input: chunks, each [ctl][len lo][len hi][len bytes]. The chunk's bytes go into one end of a socketpair
 * in one sendmsg() carrying (ctl >> 2) & 15 fds when ctl & 3 is nonzero: 1 a 64 KiB memfd, 2 an eventfd,
 * 3 both in turn (past 8 the receiver must refuse them all). The writer stops when the socket is full,
 * then closes its end; the reader loops on vhu_recv() until the end of the stream or an error that
 * leaves it out of step.
 *
 * Checked: nothing crashes; an accepted message has at most VHU_MAX_FDS fds and a size within the
 * payload; a SET_MEM_TABLE (or ADD_MEM_REG, as a table of one) vhu_recv() accepted is handed to
 * vhu_mem_map(): when it maps, each region's first and last byte are written through vhu_mem_gpa_ptr()
 * and its user address translates back to its gpa; after each input, no fd is left open that was not
 * open before (fds 0 to 1023 are counted).
 *
 * Build: make build/tests/fuzz/fuzz_vhost_user
 * Seeds:  cc -std=c11 -D_GNU_SOURCE -DFUZZ_SEED_MAIN -Ivmm -Idevices -Idevices/base tests/fuzz/fuzz_vhost_user.c \
 *            devices/vhost_user.c devices/base/mem.c devices/base/log.c -o /tmp/vhu-seeds && /tmp/vhu-seeds tests/fuzz/corpus/vhost_user
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_fds.h"
#include "log.h"
#include "vhost_user.h"

#define MEMFD_SIZE    (64 * 1024)
#define MAX_CHUNK_FDS 15

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "vhost-user invariant broken: %s\n", what);
		abort();
	}
}

/* Send one chunk with its fds; false when the socket is full (the stream ends there). */
static bool send_chunk(int sock, const uint8_t *bytes, size_t len, uint8_t ctl, int memfd, int evfd)
{
	union {
		char buf[CMSG_SPACE(MAX_CHUNK_FDS * sizeof(int))];
		struct cmsghdr align;
	} c;
	unsigned int kind = ctl & 3, n = kind ? (ctl >> 2) & 15 : 0;
	struct iovec iov = { (void *)bytes, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[MAX_CHUNK_FDS];

	if (!len)
		return true; /* fds need at least a byte to ride on */
	for (unsigned int i = 0; i < n; i++)
		fds[i] = kind == 1 ? memfd : kind == 2 ? evfd : (i & 1) ? evfd : memfd;
	if (vhu_attach_fds(&mh, c.buf, sizeof(c.buf), fds, n) < 0)
		return false;
	return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len;
}

/* A table that vhu_recv() accepted: map it as a back end would, touch it, unmap it. */
static void map_table(const struct vhu_memory *t, int *fds, unsigned int nfds)
{
	struct vhu_mem m;
	const char *why = NULL;

	if (vhu_mem_map(&m, t, fds, nfds, &why) < 0)
		return;
	check(m.nr_regions == t->nregions, "mapped region count");
	for (unsigned int i = 0; i < m.nr_regions; i++) {
		const struct vhu_mem_region *r = &m.regions[i];
		uint8_t *first = vhu_mem_gpa_ptr(&m, r->gpa, 1),
			*last = vhu_mem_gpa_ptr(&m, r->gpa + r->size - 1, 1);
		uint64_t gpa = 0;

		check(first == r->host && last == r->host + r->size - 1, "gpa_ptr of a region's ends");
		*first = 1;
		*last = 2;
		check(vhu_mem_va_to_gpa(&m, r->user_addr, r->size, &gpa) == 0 && gpa == r->gpa, "va_to_gpa");
		check(!vhu_mem_gpa_ptr(&m, r->gpa, r->size + 1) || r->size == UINT64_MAX,
		      "gpa_ptr past the end");
	}
	vhu_mem_unmap(&m);
}

static void handle(struct vhu_msg *m, int *fds, unsigned int nfds)
{
	check(nfds <= VHU_MAX_FDS, "fd count");
	check(m->hdr.size <= sizeof(m->payload), "payload size");
	if (m->hdr.request == VHU_SET_MEM_TABLE && !(m->hdr.flags & VHU_F_REPLY)) {
		map_table(&m->payload.memory, fds, nfds);
		return;
	}
	if (m->hdr.request == VHU_ADD_MEM_REG && !(m->hdr.flags & VHU_F_REPLY)) {
		struct vhu_memory one = { .nregions = 1, .regions = { m->payload.region.region } };

		map_table(&one, fds, nfds);
		return;
	}
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
}

static void read_all(int sock)
{
	struct vhu_msg m;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
	const char *why;

	for (;;) {
		int ret = vhu_recv(sock, &m, fds, &nfds, &why);

		if (ret == 0) {
			handle(&m, fds, nfds);
			continue;
		}
		check(nfds == 0, "fds left after an error");
		if (ret == -EPROTO)
			check(why != NULL, "-EPROTO without a reason");
		if (ret != -EPROTO)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int memfd = -1, evfd = -1;
	static unsigned int baseline;
	int sv[2];
	size_t pos = 0;

	if (memfd < 0) {
		log_set_level(LOG_ERR);
		memfd = memfd_create("fuzz-vhu", MFD_CLOEXEC);
		evfd = eventfd(0, EFD_CLOEXEC);
		check(memfd >= 0 && evfd >= 0 && ftruncate(memfd, MEMFD_SIZE) == 0, "set-up");
		baseline = fuzz_open_fds();
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* A read on an empty socket whose writer is gone returns 0, never blocks: the stream ends. */
	while (pos + 3 <= size) {
		uint8_t ctl = data[pos];
		size_t len = data[pos + 1] | (size_t)data[pos + 2] << 8;

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		if (!send_chunk(sv[0], data + pos, len, ctl, memfd, evfd))
			break;
		pos += len;
	}
	close(sv[0]);
	read_all(sv[1]);
	close(sv[1]);
	check(fuzz_open_fds() == baseline, "an fd leaked");
	return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed corpus: well-formed streams of messages with their fds, each a small file. */
struct seed {
	uint8_t buf[4096];
	size_t len;
};

/* One message as one chunk: (fd_ctl) as the chunk's ctl byte. */
static void put(struct seed *s, uint8_t fd_ctl, uint32_t req, uint32_t size, const void *payload)
{
	uint32_t hdr[3] = { req, VHU_VERSION, size };
	size_t len = sizeof(hdr) + size;

	s->buf[s->len++] = fd_ctl;
	s->buf[s->len++] = len & 0xff;
	s->buf[s->len++] = len >> 8;
	memcpy(s->buf + s->len, hdr, sizeof(hdr));
	memcpy(s->buf + s->len + sizeof(hdr), payload, size);
	s->len += len;
}

#define FDS(kind, n) ((uint8_t)((kind) | (n) << 2))

static void write_seed(const char *dir, const char *name, const struct seed *s)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct seed s;
	uint64_t u64;
	struct vhu_vring_state st = { 0, 256 };
	struct vhu_vring_addr addr = { 0, 0, 0x7f0000001000, 0x7f0000003000, 0x7f0000002000, 0 };
	struct vhu_memory mem = { .nregions = 2 };
	struct vhu_memory_single one = { 0, { 0x100000, 0x4000, 0x7f0000100000, 0x8000 } };
	struct vhu_config cfg = { .offset = 0, .size = 8 };

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	mem.regions[0] = (struct vhu_mem_region_desc){ 0, 0x8000, 0x7f0000000000, 0 };
	mem.regions[1] = (struct vhu_mem_region_desc){ 0x100000, 0x4000, 0x7f0000100000, 0x8000 };

	memset(&s, 0, sizeof(s));
	put(&s, 0, VHU_SET_OWNER, 0, NULL);
	put(&s, 0, VHU_GET_FEATURES, 0, NULL);
	u64 = 1ULL << VHU_F_PROTOCOL_FEATURES;
	put(&s, 0, VHU_SET_FEATURES, 8, &u64);
	u64 = 1ULL << VHU_PROTOCOL_F_REPLY_ACK | 1ULL << VHU_PROTOCOL_F_CONFIG;
	put(&s, 0, VHU_SET_PROTOCOL_FEATURES, 8, &u64);
	write_seed(argv[1], "negotiate", &s);

	memset(&s, 0, sizeof(s));
	put(&s, FDS(1, 2), VHU_SET_MEM_TABLE, 8 + 2 * 32, &mem);
	write_seed(argv[1], "mem-table", &s);

	memset(&s, 0, sizeof(s));
	put(&s, FDS(1, 1), VHU_ADD_MEM_REG, sizeof(one), &one);
	put(&s, 0, VHU_REM_MEM_REG, sizeof(one), &one);
	write_seed(argv[1], "add-rem-region", &s);

	memset(&s, 0, sizeof(s));
	put(&s, 0, VHU_SET_VRING_NUM, sizeof(st), &st);
	put(&s, 0, VHU_SET_VRING_ADDR, sizeof(addr), &addr);
	put(&s, 0, VHU_SET_VRING_BASE, sizeof(st), &st);
	u64 = 0;
	put(&s, FDS(2, 1), VHU_SET_VRING_KICK, 8, &u64);
	put(&s, FDS(2, 1), VHU_SET_VRING_CALL, 8, &u64);
	u64 = VHU_VRING_NOFD;
	put(&s, 0, VHU_SET_VRING_ERR, 8, &u64);
	st.num = 1;
	put(&s, 0, VHU_SET_VRING_ENABLE, sizeof(st), &st);
	write_seed(argv[1], "vring", &s);

	memset(&s, 0, sizeof(s));
	put(&s, 0, VHU_GET_CONFIG, VHU_CONFIG_HDR_SIZE + 8, &cfg);
	put(&s, 0, VHU_SET_CONFIG, VHU_CONFIG_HDR_SIZE + 8, &cfg);
	put(&s, FDS(3, 9), VHU_SET_OWNER, 0, NULL); /* refused: nine fds, and on a request that takes none */
	put(&s, 0, VHU_GET_STATUS, 0, NULL);
	write_seed(argv[1], "config-and-refusal", &s);
	return 0;
}
#endif
