/* test_blk.c: virtio-blk requests, built here by hand as chains, against temporary raw image files. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/blk.h"

#define IMAGE_SECTORS 512 /* 256 KiB */
#define IMAGE_SIZE    (IMAGE_SECTORS * BLK_SECTOR)
#define NOBODY	      65534
#define SEG_LEN	      sizeof(struct virtio_blk_discard_write_zeroes)

static char path[] = "/tmp/kvmini-test-blk-XXXXXX";
static uid_t euid; /* the test's own, restored after a test that drops it */
static struct blk_disk disk, disk2;
static struct virtq_chain c;
static struct virtio_blk_outhdr hdr;
static uint8_t status;
static int saved_stderr = -1;
static FILE *captured;

static void setup(void)
{
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0, "mkstemp %s: %s", path, strerror(errno));
	close(fd);
	euid = geteuid();
	disk.fd = -1;
	disk2.fd = -1;
}

static void teardown(void)
{
	if (geteuid() != euid && seteuid(euid) != 0)
		perror("seteuid");
	if (saved_stderr >= 0) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
	}
	blk_close(&disk);
	blk_close(&disk2);
	unlink(path);
}

TestSuite(blk, .init = setup, .fini = teardown);

/* Make the image file (size) bytes long. */
static void make_image(off_t size)
{
	cr_assert_eq(truncate(path, size), 0, "truncate %s: %s", path, strerror(errno));
}

/* A (size)-byte image opened read-write as (disk). */
static void open_image(off_t size)
{
	make_image(size);
	cr_assert_eq(blk_open(&disk, path, false, NULL), 0);
}

/* Collect what is written to stderr until stderr_end(), which returns it. */
static void stderr_begin(void)
{
	captured = tmpfile();
	cr_assert_not_null(captured);
	saved_stderr = dup(STDERR_FILENO);
	cr_assert_geq(saved_stderr, 0);
	fflush(stderr);
	cr_assert_eq(dup2(fileno(captured), STDERR_FILENO), STDERR_FILENO);
}

static const char *stderr_end(void)
{
	static char text[4096];
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	rewind(captured);
	n = fread(text, 1, sizeof(text) - 1, captured);
	text[n] = '\0';
	fclose(captured);
	return text;
}

static unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

/* The image's bytes at (off), read past the device model. */
static void file_read(off_t off, void *buf, size_t len)
{
	FILE *f = fopen(path, "rb");

	cr_assert_not_null(f);
	cr_assert_eq(fseeko(f, off, SEEK_SET), 0);
	cr_assert_eq(fread(buf, 1, len, f), len);
	fclose(f);
}

static void file_write(off_t off, const void *buf, size_t len)
{
	FILE *f = fopen(path, "r+b");

	cr_assert_not_null(f);
	cr_assert_eq(fseeko(f, off, SEEK_SET), 0);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fflush(f), 0);
	cr_assert_eq(fsync(fileno(f)), 0);
	fclose(f);
}

/* Chains, as a driver lays them out: device-readable buffers first. */

static void chain_reset(void)
{
	memset(&c, 0, sizeof(c));
}

static void chain_add(void *p, uint32_t len, bool writable)
{
	cr_assert_lt(c.nbufs, VIRTQ_CHAIN_MAX);
	cr_assert(writable || c.writable == 0, "the test put a readable buffer after a writable one");
	c.bufs[c.nbufs++] = (struct virtq_buf){ .host = p, .len = len, .device_writable = writable };
	if (writable)
		c.writable += len;
	else
		c.readable += len;
}

/* A new chain holding only the header for (type) at (sector). */
static void start_request(uint32_t type, uint64_t sector)
{
	chain_reset();
	hdr = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	chain_add(&hdr, sizeof(hdr), false);
}

/* The status byte in a buffer of its own, set to a value no status has. */
static void add_status(void)
{
	status = 0xff;
	chain_add(&status, 1, true);
}

/* The chain built so far, served: the used length, or blk_request's -errno. */
static int64_t request(void)
{
	uint32_t used = 0;
	int ret = blk_request(&disk, &c, &used);

	return ret < 0 ? ret : (int64_t)used;
}

/* A request of (type) at (sector) with (len) bytes of data at (data) that the device reads or writes. */
static int64_t simple_request(uint32_t type, uint64_t sector, void *data, uint32_t len)
{
	start_request(type, sector);
	if (len)
		chain_add(data, len, type != VIRTIO_BLK_T_OUT);
	add_status();
	return request();
}

static void write_sectors(uint64_t sector, void *data, uint32_t len)
{
	cr_assert_eq(simple_request(VIRTIO_BLK_T_OUT, sector, data, len), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
}

static void read_sectors(uint64_t sector, void *data, uint32_t len)
{
	cr_assert_eq(simple_request(VIRTIO_BLK_T_IN, sector, data, len), (int)len + 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
}

/* A discard or write-zeroes request of (n) segments; returns its status byte. */
static uint8_t zero_request(uint32_t type, struct virtio_blk_discard_write_zeroes *segs, unsigned int n)
{
	start_request(type, 0);
	if (n)
		chain_add(segs, n * (uint32_t)SEG_LEN, false);
	add_status();
	cr_assert_eq(request(), 1);
	return status;
}

static uint8_t zero_one(uint32_t type, uint64_t sector, uint32_t num_sectors, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes seg = { .sector = sector,
						       .num_sectors = num_sectors,
						       .flags = flags };

	return zero_request(type, &seg, 1);
}

/* A 256 KiB image opened read-write and full of a pattern that the device wrote: its blocks are allocated. */
static uint8_t *open_patterned_image(void)
{
	static uint8_t image[IMAGE_SIZE];

	open_image(IMAGE_SIZE);
	fill(image, sizeof(image), 0x5a);
	write_sectors(0, image, sizeof(image));
	cr_assert_eq(fsync(disk.fd), 0);
	return image;
}

/* The range [sector, sector + n) reads back as zeros and the rest of the image as (image). */
static void assert_zeroed_only(const uint8_t *image, uint64_t sector, uint32_t n)
{
	static uint8_t now[IMAGE_SIZE];
	size_t start = sector * BLK_SECTOR, len = (size_t)n * BLK_SECTOR;

	read_sectors(0, now, sizeof(now));
	cr_assert(all_zero(now + start, len), "the range does not read back as zeros");
	cr_assert_arr_eq(now, image, start, "bytes before the range changed");
	cr_assert_arr_eq(now + start + len, image + start + len, sizeof(now) - start - len,
			 "bytes after the range changed");
}

/* blk_open */

Test(blk, open_missing_file_returns_enoent)
{
	int ret;

	unlink(path);
	stderr_begin();
	ret = blk_open(&disk, path, false, NULL);
	stderr_end();
	cr_assert_eq(ret, -ENOENT, "returned %d (%s)", ret, strerror(-ret));
}

Test(blk, open_missing_file_logs_one_line_naming_it)
{
	const char *msg;

	unlink(path);
	stderr_begin();
	blk_open(&disk, path, false, NULL);
	msg = stderr_end();
	cr_assert_eq(count_lines(msg), 1, "logged: %s", msg);
	cr_assert_not_null(strstr(msg, path), "logged: %s", msg);
}

Test(blk, open_empty_file_returns_einval)
{
	cr_assert_eq(blk_open(&disk, path, false, NULL), -EINVAL);
}

Test(blk, open_size_not_multiple_of_512_returns_einval)
{
	make_image(IMAGE_SIZE + 100);
	cr_assert_eq(blk_open(&disk, path, false, NULL), -EINVAL);
}

Test(blk, open_directory_returns_einval)
{
	cr_assert_eq(blk_open(&disk, "/tmp", true, NULL), -EINVAL);
}

Test(blk, open_read_write_while_another_holds_it_returns_ebusy)
{
	open_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk2, path, false, NULL), -EBUSY);
}

Test(blk, open_read_only_while_a_writer_holds_it_returns_ebusy)
{
	open_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk2, path, true, NULL), -EBUSY);
}

Test(blk, open_read_write_while_a_reader_holds_it_returns_ebusy)
{
	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, true, NULL), 0);
	cr_assert_eq(blk_open(&disk2, path, false, NULL), -EBUSY);
}

Test(blk, two_read_only_opens_share_the_image)
{
	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, true, NULL), 0);
	cr_assert_eq(blk_open(&disk2, path, true, NULL), 0);
}

Test(blk, close_releases_the_lock)
{
	open_image(IMAGE_SIZE);
	blk_close(&disk);
	cr_assert_eq(blk_open(&disk2, path, false, NULL), 0);
}

Test(blk, close_after_failed_open_is_harmless)
{
	cr_assert_eq(blk_open(&disk, path, false, NULL), -EINVAL);
	cr_assert_lt(disk.fd, 0);
	blk_close(&disk);
	blk_close(&disk);
}

Test(blk, open_read_only_file_without_ro_returns_eacces)
{
	int ret;

	make_image(IMAGE_SIZE);
	cr_assert_eq(chmod(path, 0444), 0);
	/* Root may write a 0444 file: act as nobody (access() still checks the real user, root). */
	if (geteuid() == 0 && seteuid(NOBODY) != 0)
		cr_skip_test("running as root, who may write a 0444 file, and seteuid() failed");
	stderr_begin();
	ret = blk_open(&disk, path, false, NULL);
	stderr_end();
	cr_assert_eq(ret, -EACCES, "returned %d (%s)", ret, strerror(-ret));
}

Test(blk, open_read_only_file_without_ro_suggests_ro)
{
	const char *msg;

	make_image(IMAGE_SIZE);
	cr_assert_eq(chmod(path, 0444), 0);
	if (geteuid() == 0 && seteuid(NOBODY) != 0)
		cr_skip_test("running as root, who may write a 0444 file, and seteuid() failed");
	stderr_begin();
	blk_open(&disk, path, false, NULL);
	msg = stderr_end();
	cr_assert_eq(count_lines(msg), 1, "logged: %s", msg);
	cr_assert_not_null(strstr(msg, "',ro'"), "logged: %s", msg);
}

Test(blk, open_read_only_file_with_ro_succeeds)
{
	make_image(IMAGE_SIZE);
	cr_assert_eq(chmod(path, 0444), 0);
	cr_assert_eq(blk_open(&disk, path, true, NULL), 0);
	cr_assert(disk.read_only);
}

Test(blk, open_counts_sectors)
{
	open_image(IMAGE_SIZE);
	cr_assert_eq(disk.sectors, IMAGE_SECTORS);
}

/* blk_features */

Test(blk, features_read_only_offer_ro_and_no_discard_or_write_zeroes)
{
	uint64_t f;

	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, true, NULL), 0);
	f = blk_features(&disk);
	cr_assert(f & (1ULL << VIRTIO_BLK_F_RO));
	cr_assert_not(f & (1ULL << VIRTIO_BLK_F_DISCARD));
	cr_assert_not(f & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
}

Test(blk, features_read_write_offer_discard_and_write_zeroes_and_no_ro)
{
	uint64_t f;

	open_image(IMAGE_SIZE);
	f = blk_features(&disk);
	cr_assert_not(f & (1ULL << VIRTIO_BLK_F_RO));
	cr_assert(f & (1ULL << VIRTIO_BLK_F_DISCARD));
	cr_assert(f & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
}

Test(blk, features_always_offer_version_1_flush_seg_max_blk_size_and_ring_features)
{
	uint64_t want = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_BLK_F_FLUSH) |
			(1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			(1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX);

	open_image(IMAGE_SIZE);
	cr_assert_eq(blk_features(&disk) & want, want);
	blk_close(&disk);
	cr_assert_eq(blk_open(&disk, path, true, NULL), 0);
	cr_assert_eq(blk_features(&disk) & want, want);
}

/* blk_config_read */

Test(blk, config_capacity_is_in_sectors)
{
	uint64_t cap;

	open_image(IMAGE_SIZE);
	blk_config_read(&disk, offsetof(struct virtio_blk_config, capacity), &cap, sizeof(cap));
	cr_assert_eq(cap, IMAGE_SECTORS);
}

Test(blk, config_seg_max_and_blk_size)
{
	struct virtio_blk_config cfg;

	open_image(IMAGE_SIZE);
	blk_config_read(&disk, 0, &cfg, sizeof(cfg));
	cr_assert_eq(cfg.seg_max, BLK_SEG_MAX);
	cr_assert_leq(cfg.seg_max + 2, VIRTQ_CHAIN_MAX);
	cr_assert_eq(cfg.blk_size, BLK_SECTOR);
}

Test(blk, config_discard_and_write_zeroes_limits)
{
	struct virtio_blk_config cfg;

	open_image(IMAGE_SIZE);
	blk_config_read(&disk, 0, &cfg, sizeof(cfg));
	cr_assert_eq(cfg.max_discard_seg, BLK_MAX_DISCARD_SEG);
	cr_assert_eq(cfg.max_discard_sectors, BLK_MAX_DISCARD_SECTORS);
	cr_assert_eq(cfg.max_write_zeroes_seg, BLK_MAX_DISCARD_SEG);
	cr_assert_eq(cfg.max_write_zeroes_sectors, BLK_MAX_DISCARD_SECTORS);
	cr_assert_neq(cfg.discard_sector_alignment, 0);
}

Test(blk, config_partial_read_at_offset_returns_those_bytes)
{
	struct virtio_blk_config cfg;
	uint8_t part[3];

	make_image(0x12345ULL * BLK_SECTOR);
	cr_assert_eq(blk_open(&disk, path, false, NULL), 0);
	blk_config_read(&disk, 0, &cfg, sizeof(cfg));
	blk_config_read(&disk, 1, part, sizeof(part));
	cr_assert_arr_eq(part, (uint8_t *)&cfg + 1, sizeof(part));
	cr_assert_eq(part[0], 0x23);
	cr_assert_eq(part[1], 0x01);
	blk_config_read(&disk, offsetof(struct virtio_blk_config, blk_size) + 1, part, 1);
	cr_assert_eq(part[0], BLK_SECTOR >> 8);
}

Test(blk, config_read_beyond_struct_returns_zeros)
{
	uint8_t buf[8];

	open_image(IMAGE_SIZE);
	memset(buf, 0xaa, sizeof(buf));
	blk_config_read(&disk, sizeof(struct virtio_blk_config), buf, sizeof(buf));
	cr_assert(all_zero(buf, sizeof(buf)));
	memset(buf, 0xaa, sizeof(buf));
	blk_config_read(&disk, 0x1000, buf, sizeof(buf));
	cr_assert(all_zero(buf, sizeof(buf)));
}

Test(blk, config_read_straddling_the_end_zero_fills_the_rest)
{
	struct virtio_blk_config cfg;
	uint8_t buf[8];

	open_image(IMAGE_SIZE);
	blk_config_read(&disk, 0, &cfg, sizeof(cfg));
	memset(buf, 0xaa, sizeof(buf));
	blk_config_read(&disk, sizeof(cfg) - 2, buf, sizeof(buf));
	cr_assert_arr_eq(buf, (uint8_t *)&cfg + sizeof(cfg) - 2, 2);
	cr_assert(all_zero(buf + 2, sizeof(buf) - 2));
}

/* Reads and writes */

Test(blk, out_then_in_round_trips_with_split_header_and_data)
{
	enum {
		N = 7,
		LEN = 3 * BLK_SECTOR
	};
	static uint8_t out[LEN], in[LEN + 1], before[BLK_SECTOR], after[BLK_SECTOR];
	uint8_t *h = (uint8_t *)&hdr;

	open_image(IMAGE_SIZE);
	fill(out, sizeof(out), 1);
	/* OUT: the header in 5 + 11 bytes, the data in 100 + 700 + 736. */
	chain_reset();
	hdr = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_OUT, .sector = N };
	chain_add(h, 5, false);
	chain_add(h + 5, sizeof(hdr) - 5, false);
	chain_add(out, 100, false);
	chain_add(out + 100, 700, false);
	chain_add(out + 800, LEN - 800, false);
	add_status();
	cr_assert_eq(request(), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	/* IN: the header in 1 + 15, the data in 511 + 2 + 1023, the status sharing the last buffer. */
	memset(in, 0xee, sizeof(in));
	chain_reset();
	hdr = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = N };
	chain_add(h, 1, false);
	chain_add(h + 1, sizeof(hdr) - 1, false);
	chain_add(in, 511, true);
	chain_add(in + 511, 2, true);
	chain_add(in + 513, LEN + 1 - 513, true);
	cr_assert_eq(request(), LEN + 1);
	cr_assert_eq(in[LEN], VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(in, out, LEN);
	/* On the image: at N * 512 exactly, the neighbouring sectors untouched. */
	file_read((off_t)N * BLK_SECTOR, in, LEN);
	cr_assert_arr_eq(in, out, LEN);
	file_read((off_t)(N - 1) * BLK_SECTOR, before, sizeof(before));
	file_read((off_t)(N + 3) * BLK_SECTOR, after, sizeof(after));
	cr_assert(all_zero(before, sizeof(before)) && all_zero(after, sizeof(after)));
}

Test(blk, in_returns_data_length_plus_one_and_status_ok)
{
	static uint8_t image[IMAGE_SIZE], buf[2 * BLK_SECTOR];

	open_image(IMAGE_SIZE);
	fill(image, sizeof(image), 9);
	file_write(0, image, sizeof(image));
	cr_assert_eq(simple_request(VIRTIO_BLK_T_IN, 3, buf, sizeof(buf)), (int)sizeof(buf) + 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(buf, image + 3 * BLK_SECTOR, sizeof(buf));
}

Test(blk, in_of_the_last_sector_succeeds)
{
	uint8_t buf[BLK_SECTOR];

	open_image(IMAGE_SIZE);
	read_sectors(IMAGE_SECTORS - 1, buf, sizeof(buf));
}

Test(blk, out_returns_used_length_1)
{
	uint8_t buf[BLK_SECTOR] = { 1 };

	open_image(IMAGE_SIZE);
	cr_assert_eq(simple_request(VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
}

Test(blk, out_on_read_only_disk_returns_ioerr_and_writes_nothing)
{
	uint8_t buf[BLK_SECTOR], now[BLK_SECTOR];

	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, true, NULL), 0);
	memset(buf, 0x77, sizeof(buf));
	cr_assert_eq(simple_request(VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	file_read(0, now, sizeof(now));
	cr_assert(all_zero(now, sizeof(now)));
}

Test(blk, in_on_read_only_disk_succeeds)
{
	uint8_t buf[BLK_SECTOR];

	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, true, NULL), 0);
	read_sectors(0, buf, sizeof(buf));
}

Test(blk, in_beyond_the_end_returns_ioerr)
{
	uint8_t buf[BLK_SECTOR];

	open_image(IMAGE_SIZE);
	cr_assert_eq(simple_request(VIRTIO_BLK_T_IN, IMAGE_SECTORS, buf, sizeof(buf)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
}

Test(blk, out_straddling_the_end_returns_ioerr_and_writes_nothing)
{
	uint8_t buf[2 * BLK_SECTOR], now[BLK_SECTOR];

	open_image(IMAGE_SIZE);
	memset(buf, 0x77, sizeof(buf));
	cr_assert_eq(simple_request(VIRTIO_BLK_T_OUT, IMAGE_SECTORS - 1, buf, sizeof(buf)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	file_read(IMAGE_SIZE - BLK_SECTOR, now, sizeof(now));
	cr_assert(all_zero(now, sizeof(now)));
}

Test(blk, in_whose_byte_offset_overflows_returns_ioerr)
{
	uint8_t buf[BLK_SECTOR];

	open_image(IMAGE_SIZE);
	/* sector * 512 wraps to 0 */
	cr_assert_eq(simple_request(VIRTIO_BLK_T_IN, 1ULL << 55, buf, sizeof(buf)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
}

Test(blk, out_not_a_multiple_of_512_returns_ioerr)
{
	uint8_t buf[BLK_SECTOR + 1] = { 0 };

	open_image(IMAGE_SIZE);
	cr_assert_eq(simple_request(VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
}

Test(blk, in_not_a_multiple_of_512_returns_ioerr)
{
	uint8_t buf[BLK_SECTOR - 1];

	open_image(IMAGE_SIZE);
	cr_assert_eq(simple_request(VIRTIO_BLK_T_IN, 0, buf, sizeof(buf)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
}

/* Other requests */

Test(blk, flush_returns_ok)
{
	open_image(IMAGE_SIZE);
	cr_assert_eq(simple_request(VIRTIO_BLK_T_FLUSH, 0, NULL, 0), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
}

Test(blk, get_id_returns_the_serial_in_20_bytes)
{
	uint8_t id[BLK_SERIAL_LEN], want[BLK_SERIAL_LEN] = "kvmini-disk0";

	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, false, "kvmini-disk0"), 0);
	memset(id, 0xaa, sizeof(id));
	cr_assert_eq(simple_request(VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id)), BLK_SERIAL_LEN + 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(id, want, sizeof(id));
}

Test(blk, get_id_of_20_characters_has_no_nul)
{
	const char *serial = "ABCDEFGHIJKLMNOPQRST";
	uint8_t id[BLK_SERIAL_LEN];

	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, false, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 0);
	cr_assert_eq(simple_request(VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id)), BLK_SERIAL_LEN + 1);
	cr_assert_arr_eq(id, serial, sizeof(id));
}

Test(blk, get_id_into_a_smaller_buffer_writes_what_fits)
{
	uint8_t id[8 + 1];

	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, false, "ABCDEFGHIJKLMNOPQRST"), 0);
	memset(id, 0xaa, sizeof(id));
	cr_assert_eq(simple_request(VIRTIO_BLK_T_GET_ID, 0, id, 8), 8 + 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(id, "ABCDEFGH", 8);
	cr_assert_eq(id[8], 0xaa, "wrote past the buffer");
}

Test(blk, get_id_into_a_larger_buffer_writes_20_bytes)
{
	uint8_t id[64];

	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, false, "ABCDEFGHIJKLMNOPQRST"), 0);
	memset(id, 0xaa, sizeof(id));
	cr_assert_eq(simple_request(VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id)), BLK_SERIAL_LEN + 1);
	cr_assert_arr_eq(id, "ABCDEFGHIJKLMNOPQRST", BLK_SERIAL_LEN);
	cr_assert_eq(id[BLK_SERIAL_LEN], 0xaa);
}

Test(blk, get_id_without_serial_returns_zeros)
{
	uint8_t id[BLK_SERIAL_LEN];

	open_image(IMAGE_SIZE);
	memset(id, 0xaa, sizeof(id));
	cr_assert_eq(simple_request(VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id)), BLK_SERIAL_LEN + 1);
	cr_assert(all_zero(id, sizeof(id)));
}

Test(blk, unknown_type_returns_unsupp)
{
	open_image(IMAGE_SIZE);
	cr_assert_eq(simple_request(0x7f, 0, NULL, 0), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_UNSUPP);
}

/* Malformed chains */

Test(blk, header_shorter_than_16_readable_bytes_returns_ioerr)
{
	open_image(IMAGE_SIZE);
	chain_reset();
	hdr = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_FLUSH };
	chain_add(&hdr, sizeof(hdr) - 1, false);
	add_status();
	cr_assert_eq(request(), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
}

Test(blk, header_in_writable_buffers_is_not_read)
{
	uint8_t tail[8 + 1];

	open_image(IMAGE_SIZE);
	chain_reset();
	hdr = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_FLUSH };
	chain_add(&hdr, 8, false);
	memcpy(tail, (uint8_t *)&hdr + 8, 8);
	chain_add(tail, sizeof(tail), true);
	cr_assert_eq(request(), 1);
	cr_assert_eq(tail[8], VIRTIO_BLK_S_IOERR);
}

Test(blk, no_writable_byte_returns_einval)
{
	open_image(IMAGE_SIZE);
	start_request(VIRTIO_BLK_T_FLUSH, 0);
	cr_assert_eq(request(), -EINVAL);
}

Test(blk, only_empty_writable_buffers_returns_einval)
{
	open_image(IMAGE_SIZE);
	start_request(VIRTIO_BLK_T_FLUSH, 0);
	chain_add(&status, 0, true);
	cr_assert_eq(request(), -EINVAL);
}

Test(blk, status_goes_in_the_last_writable_byte_before_empty_buffers)
{
	uint8_t two[2] = { 0xaa, 0xff };

	open_image(IMAGE_SIZE);
	start_request(VIRTIO_BLK_T_FLUSH, 0);
	chain_add(two, 2, true);
	chain_add(&status, 0, true);
	cr_assert_eq(request(), 1);
	cr_assert_eq(two[1], VIRTIO_BLK_S_OK);
	cr_assert_eq(two[0], 0xaa);
}

Test(blk, malformed_requests_are_logged_once)
{
	uint8_t buf[BLK_SECTOR + 1] = { 0 };
	const char *msg;

	open_image(IMAGE_SIZE);
	stderr_begin();
	simple_request(VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf));
	simple_request(VIRTIO_BLK_T_IN, IMAGE_SECTORS, buf, BLK_SECTOR);
	start_request(VIRTIO_BLK_T_IN, 0);
	request();
	msg = stderr_end();
	cr_assert_eq(count_lines(msg), 1, "logged: %s", msg);
	cr_assert_not_null(strstr(msg, path), "logged: %s", msg);
}

/* Discard and write zeroes */

Test(blk, discard_returns_ok_and_frees_blocks_that_read_back_as_zeros)
{
	uint8_t *image = open_patterned_image();
	struct stat before, after;

	cr_assert_eq(fstat(disk.fd, &before), 0);
	cr_assert_eq(zero_one(VIRTIO_BLK_T_DISCARD, 64, 128, 0), VIRTIO_BLK_S_OK);
	cr_assert_eq(fstat(disk.fd, &after), 0);
	if (after.st_blocks >= before.st_blocks)
		cr_skip_test("the file system under %s does not punch holes", path);
	assert_zeroed_only(image, 64, 128);
}

Test(blk, discard_on_read_only_disk_returns_ioerr)
{
	make_image(IMAGE_SIZE);
	cr_assert_eq(blk_open(&disk, path, true, NULL), 0);
	cr_assert_eq(zero_one(VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_IOERR);
}

/* virtio 1.2, 5.2.6.2: "MUST set the status byte to VIRTIO_BLK_S_UNSUPP for discard commands if the unmap flag is set" */
Test(blk, discard_with_unmap_flag_returns_unsupp)
{
	uint8_t *image = open_patterned_image();

	cr_assert_eq(zero_one(VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		     VIRTIO_BLK_S_UNSUPP);
	assert_zeroed_only(image, 0, 0);
}

/* ibid.: "... for discard and write zeroes commands if any unknown flag is set" */
Test(blk, discard_with_unknown_flag_returns_unsupp)
{
	open_image(IMAGE_SIZE);
	cr_assert_eq(zero_one(VIRTIO_BLK_T_DISCARD, 0, 8, 2), VIRTIO_BLK_S_UNSUPP);
}

Test(blk, write_zeroes_with_unknown_flag_returns_unsupp)
{
	uint8_t *image = open_patterned_image();

	cr_assert_eq(zero_one(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2 | VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		     VIRTIO_BLK_S_UNSUPP);
	assert_zeroed_only(image, 0, 0);
}

Test(blk, write_zeroes_returns_ok_and_reads_back_zeros)
{
	uint8_t *image = open_patterned_image();

	cr_assert_eq(zero_one(VIRTIO_BLK_T_WRITE_ZEROES, 3, 5, 0), VIRTIO_BLK_S_OK);
	assert_zeroed_only(image, 3, 5);
}

Test(blk, write_zeroes_with_unmap_returns_ok_and_reads_back_zeros)
{
	uint8_t *image = open_patterned_image();

	cr_assert_eq(zero_one(VIRTIO_BLK_T_WRITE_ZEROES, 3, 100, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		     VIRTIO_BLK_S_OK);
	assert_zeroed_only(image, 3, 100);
}

Test(blk, write_zeroes_of_segments_split_across_buffers_zeroes_each)
{
	static uint8_t want[IMAGE_SIZE];
	uint8_t *image = open_patterned_image();
	struct virtio_blk_discard_write_zeroes segs[2] = {
		{ .sector = 1, .num_sectors = 2 },
		{ .sector = 10, .num_sectors = 1, .flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP },
	};
	uint8_t *p = (uint8_t *)segs, now[IMAGE_SIZE];

	start_request(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	chain_add(p, 7, false);
	chain_add(p + 7, 20, false);
	chain_add(p + 27, 5, false);
	add_status();
	cr_assert_eq(request(), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	memcpy(want, image, sizeof(want));
	memset(want + 1 * BLK_SECTOR, 0, 2 * BLK_SECTOR);
	memset(want + 10 * BLK_SECTOR, 0, BLK_SECTOR);
	read_sectors(0, now, sizeof(now));
	cr_assert_arr_eq(now, want, sizeof(want));
}

Test(blk, write_zeroes_with_no_segment_returns_ioerr)
{
	open_image(IMAGE_SIZE);
	cr_assert_eq(zero_request(VIRTIO_BLK_T_WRITE_ZEROES, NULL, 0), VIRTIO_BLK_S_IOERR);
}

Test(blk, write_zeroes_not_a_multiple_of_16_bytes_returns_ioerr)
{
	uint8_t *image = open_patterned_image();
	struct virtio_blk_discard_write_zeroes seg = { .sector = 0, .num_sectors = 1 };

	start_request(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	chain_add(&seg, SEG_LEN - 1, false);
	add_status();
	cr_assert_eq(request(), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	assert_zeroed_only(image, 0, 0);
}

Test(blk, discard_segment_beyond_the_end_returns_ioerr)
{
	open_image(IMAGE_SIZE);
	cr_assert_eq(zero_one(VIRTIO_BLK_T_DISCARD, IMAGE_SECTORS - 1, 2, 0), VIRTIO_BLK_S_IOERR);
}

Test(blk, write_zeroes_segment_beyond_the_end_returns_ioerr)
{
	open_image(IMAGE_SIZE);
	cr_assert_eq(zero_one(VIRTIO_BLK_T_WRITE_ZEROES, IMAGE_SECTORS, 1, 0), VIRTIO_BLK_S_IOERR);
}

Test(blk, write_zeroes_segment_over_max_sectors_returns_ioerr)
{
	/* Sparse: 4 GiB of holes, so the segment is in range and only its length is wrong. */
	make_image(4LL << 30);
	cr_assert_eq(blk_open(&disk, path, false, NULL), 0);
	cr_assert_eq(zero_one(VIRTIO_BLK_T_WRITE_ZEROES, 0, BLK_MAX_DISCARD_SECTORS + 1, 0),
		     VIRTIO_BLK_S_IOERR);
}

Test(blk, discard_of_max_segments_returns_ok)
{
	struct virtio_blk_discard_write_zeroes segs[BLK_MAX_DISCARD_SEG];

	open_image(IMAGE_SIZE);
	for (unsigned int i = 0; i < BLK_MAX_DISCARD_SEG; i++)
		segs[i] = (struct virtio_blk_discard_write_zeroes){ .sector = 8 * i, .num_sectors = 8 };
	cr_assert_eq(zero_request(VIRTIO_BLK_T_DISCARD, segs, BLK_MAX_DISCARD_SEG), VIRTIO_BLK_S_OK);
}

Test(blk, discard_of_more_than_max_segments_returns_ioerr)
{
	struct virtio_blk_discard_write_zeroes segs[BLK_MAX_DISCARD_SEG + 1];

	open_image(IMAGE_SIZE);
	for (unsigned int i = 0; i <= BLK_MAX_DISCARD_SEG; i++)
		segs[i] = (struct virtio_blk_discard_write_zeroes){ .sector = 8 * i, .num_sectors = 8 };
	cr_assert_eq(zero_request(VIRTIO_BLK_T_DISCARD, segs, BLK_MAX_DISCARD_SEG + 1), VIRTIO_BLK_S_IOERR);
}

Test(blk, bad_segment_after_good_ones_returns_ioerr)
{
	struct virtio_blk_discard_write_zeroes segs[2] = {
		{ .sector = 0, .num_sectors = 1 },
		{ .sector = IMAGE_SECTORS, .num_sectors = 1 },
	};

	open_image(IMAGE_SIZE);
	cr_assert_eq(zero_request(VIRTIO_BLK_T_WRITE_ZEROES, segs, 2), VIRTIO_BLK_S_IOERR);
}

/* The used length is a u32: a read of more than 2 GiB once turned negative and broke the queue. */
Test(blk, read_of_more_than_2_gib_reports_its_whole_used_length)
{
	const uint64_t len = (2ULL << 30) + 4096; /* sparse image: the kernel reads zeros */
	uint8_t *buf =
		mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	cr_assert_neq(buf, MAP_FAILED);
	make_image((off_t)len);
	cr_assert_eq(blk_open(&disk, path, true, NULL), 0);
	start_request(VIRTIO_BLK_T_IN, 0);
	chain_add(buf, (uint32_t)len, true);
	add_status();
	cr_assert_eq(request(), (int64_t)len + 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	munmap(buf, len);
}
