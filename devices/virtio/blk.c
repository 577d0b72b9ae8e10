/* blk.c: virtio-blk requests against a raw image file (virtio 1.2, 5.2). */
#include "blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../base/log.h"

#define HDR_LEN 16 /* struct virtio_blk_outhdr: type, ioprio, sector */

static int open_image(struct blk_disk *d)
{
	int fd = open(d->path, (d->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	int err = errno; /* before logging, which may change errno */

	if (fd >= 0)
		return fd;
	if (!d->read_only && (err == EACCES || err == EROFS || err == EPERM) && access(d->path, R_OK) == 0)
		log_err("disk %s is read-only here: add ',ro' to its --disk option", d->path);
	else
		log_err("disk %s: %s", d->path, strerror(err));
	return -err;
}

static int check_image(struct blk_disk *d)
{
	struct stat st;

	if (fstat(d->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		log_err("disk %s is neither a regular file nor a block device", d->path);
		return -EINVAL;
	}
	if (S_ISREG(st.st_mode) && (st.st_size == 0 || st.st_size % BLK_SECTOR)) {
		log_err("disk %s is %s: a disk image holds whole 512-byte sectors (truncate -s SIZE to fix)",
			d->path, st.st_size ? "not a multiple of 512 bytes" : "empty");
		return -EINVAL;
	}
	d->st_dev = st.st_dev;
	d->st_ino = st.st_ino;
	d->sectors = (uint64_t)lseek(d->fd, 0, SEEK_END) / BLK_SECTOR;
	d->punch_hole = S_ISREG(st.st_mode);
	return 0;
}

int blk_open(struct blk_disk *d, const char *path, bool read_only, const char *serial)
{
	int ret;

	memset(d, 0, sizeof(*d));
	atomic_flag_clear(&d->warned_bad_request);
	d->path = path;
	d->read_only = read_only;
	if (serial)
		memcpy(d->serial, serial, strnlen(serial, sizeof(d->serial))); /* 20 bytes: no NUL then */
	d->fd = open_image(d);
	if (d->fd < 0)
		return d->fd;
	ret = check_image(d);
	/* Two writers would corrupt the image: a shared lock for readers, exclusive for a writer. */
	if (!ret && flock(d->fd, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		log_err("disk %s is in use by another program (locked): stop it or use a copy", path);
		ret = -EBUSY;
	}
	if (ret) {
		close(d->fd);
		d->fd = -1;
	}
	return ret;
}

void blk_close(struct blk_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

uint64_t blk_features(const struct blk_disk *d)
{
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
		     (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |
		     (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_FLUSH);

	if (d->read_only)
		return f | (1ULL << VIRTIO_BLK_F_RO);
	return f | (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
}

void blk_config_read(const struct blk_disk *d, uint64_t off, void *data, uint32_t len)
{
	struct virtio_blk_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = d->sectors;
	cfg.seg_max = BLK_SEG_MAX;
	cfg.blk_size = BLK_SECTOR;
	cfg.max_discard_sectors = BLK_MAX_DISCARD_SECTORS;
	cfg.max_discard_seg = BLK_MAX_DISCARD_SEG;
	cfg.discard_sector_alignment = 1;
	cfg.max_write_zeroes_sectors = BLK_MAX_DISCARD_SECTORS;
	cfg.max_write_zeroes_seg = BLK_MAX_DISCARD_SEG;
	cfg.write_zeroes_may_unmap = 1;
	cfg.num_queues = d->nr_queues ? d->nr_queues : 1;
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, (const uint8_t *)&cfg + off, len < sizeof(cfg) - off ? len : sizeof(cfg) - off);
}

static void pci_config_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	blk_config_read(opaque, off, data, len);
}

static int pci_handle(void *opaque, unsigned int qi, const struct virtq_chain *c, uint32_t *used)
{
	(void)qi;
	return blk_request(opaque, c, used);
}

void blk_device(struct blk_disk *d, const char *name, unsigned int nr_queues, struct virtio_device *c)
{
	d->nr_queues = (uint16_t)nr_queues;
	*c = (struct virtio_device){
		.name = name,
		.device_id = VIRTIO_ID_BLOCK,
		.features = blk_features(d) | (nr_queues > 1 ? 1ULL << VIRTIO_BLK_F_MQ : 0),
		.nr_queues = nr_queues,
		.worker_per_queue = true,
		.queue_max = BLK_QUEUE_SIZE,
		.config_len = sizeof(struct virtio_blk_config),
		.config_read = pci_config_read,
		.model = { .name = name, .handle = pci_handle, .opaque = d },
	};
}

/* The status byte: the last device-writable byte of the chain, or NULL when there is none. */
static uint8_t *status_byte(const struct virtq_chain *c)
{
	for (unsigned int i = c->nbufs; i-- > 0;)
		if (c->bufs[i].device_writable && c->bufs[i].len)
			return c->bufs[i].host + c->bufs[i].len - 1;
	return NULL;
}

static void warn_once(struct blk_disk *d, const char *what)
{
	if (!atomic_flag_test_and_set(&d->warned_bad_request))
		log_warn("disk %s: the guest sent a malformed request (%s): answered with an error; "
			 "further ones are not logged",
			 d->path, what);
}

static bool in_range(const struct blk_disk *d, uint64_t sector, uint64_t count)
{
	return sector <= d->sectors && count <= d->sectors - sector;
}

/* Moves all of (iov) to or from the image at (pos), through short transfers and EINTR. */
static int transfer(int fd, struct iovec *iov, int n, uint64_t pos, bool write)
{
	while (n > 0) {
		ssize_t done = write ? pwritev(fd, iov, n, (off_t)pos) : preadv(fd, iov, n, (off_t)pos);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return -1;
		pos += (uint64_t)done;
		while (n > 0 && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	return 0;
}

static uint8_t do_rw(struct blk_disk *d, const struct virtq_chain *c, uint64_t sector, bool write,
		     uint32_t *written)
{
	struct iovec iov[VIRTQ_CHAIN_MAX];
	uint32_t len = write ? c->readable - HDR_LEN : c->writable - 1;
	int n;

	if (len % BLK_SECTOR || !in_range(d, sector, len / BLK_SECTOR)) {
		warn_once(d, len % BLK_SECTOR ? "data not a whole number of sectors"
					      : "sectors beyond the disk");
		return VIRTIO_BLK_S_IOERR;
	}
	if (write && d->read_only)
		return VIRTIO_BLK_S_IOERR;
	/* A write's data is what the driver gave us to read, a read's what it gave us to write. */
	n = virtq_chain_iov(c, !write, write ? HDR_LEN : 0, len, iov);
	if (n < 0 || transfer(d->fd, iov, n, sector * BLK_SECTOR, write) < 0)
		return VIRTIO_BLK_S_IOERR;
	*written = write ? 0 : len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t get_id(const struct blk_disk *d, const struct virtq_chain *c, uint32_t *written)
{
	uint32_t len = c->writable - 1 < BLK_SERIAL_LEN ? c->writable - 1 : BLK_SERIAL_LEN;

	virtq_chain_write(c, 0, d->serial, len); /* (len) leaves the status byte alone: it cannot fail */
	*written = len;
	return VIRTIO_BLK_S_OK;
}

/* Zeroes [pos, pos + len) by writing, where the file system cannot do it for us. */
static int write_zeroes(int fd, uint64_t pos, uint64_t len)
{
	static const uint8_t zeros[65536];

	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t done = pwrite(fd, zeros, n, (off_t)pos);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return -1;
		pos += (uint64_t)done;
		len -= (uint64_t)done;
	}
	return 0;
}

static uint8_t discard_one(struct blk_disk *d, uint32_t type,
			   const struct virtio_blk_discard_write_zeroes *seg)
{
	uint64_t pos = seg->sector * BLK_SECTOR, len = (uint64_t)seg->num_sectors * BLK_SECTOR;
	bool unmap = seg->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

	/* Unknown flags, or unmap on a discard, are "unsupported" (virtio 1.2, 5.2.6.2), not an I/O error. */
	if ((seg->flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
	    (type == VIRTIO_BLK_T_DISCARD && seg->flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (!in_range(d, seg->sector, seg->num_sectors) || seg->num_sectors > BLK_MAX_DISCARD_SECTORS) {
		warn_once(d, "a discard or write-zeroes segment beyond the disk or too long");
		return VIRTIO_BLK_S_IOERR;
	}
	if (type == VIRTIO_BLK_T_DISCARD || unmap) {
		/* A punched hole reads back as zeros: it serves discard and an unmapping write-zeroes. */
		if (d->punch_hole &&
		    fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)pos, (off_t)len) == 0)
			return VIRTIO_BLK_S_OK;
		if (type == VIRTIO_BLK_T_DISCARD)
			return VIRTIO_BLK_S_OK; /* discard is a hint: nothing freed is still correct */
	}
	if (d->punch_hole &&
	    fallocate(d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)pos, (off_t)len) == 0)
		return VIRTIO_BLK_S_OK;
	return write_zeroes(d->fd, pos, len) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static uint8_t do_discard(struct blk_disk *d, const struct virtq_chain *c, uint32_t type)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint32_t bytes = c->readable - HDR_LEN, nseg = bytes / sizeof(seg);

	if (d->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (bytes % sizeof(seg) || nseg == 0 || nseg > BLK_MAX_DISCARD_SEG) {
		warn_once(d, "a discard or write-zeroes request of the wrong size");
		return VIRTIO_BLK_S_IOERR;
	}
	for (uint32_t i = 0; i < nseg; i++) {
		uint8_t st;

		/* Each segment is copied out once, then checked: the guest may change it meanwhile. */
		if (virtq_chain_read(c, HDR_LEN + i * (uint32_t)sizeof(seg), &seg, sizeof(seg)) < 0)
			return VIRTIO_BLK_S_IOERR;
		st = discard_one(d, type, &seg);
		if (st != VIRTIO_BLK_S_OK)
			return st;
	}
	return VIRTIO_BLK_S_OK;
}

int blk_request(struct blk_disk *d, const struct virtq_chain *c, uint32_t *used)
{
	struct virtio_blk_outhdr hdr;
	uint8_t *status = status_byte(c);
	uint32_t written = 0;
	uint8_t st;

	if (!status) {
		warn_once(d, "no room for a status byte");
		return -EINVAL;
	}
	if (virtq_chain_read(c, 0, &hdr, HDR_LEN) < 0) {
		warn_once(d, "a header shorter than 16 device-readable bytes");
		*status = VIRTIO_BLK_S_IOERR;
		*used = 1;
		return 0;
	}
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		st = do_rw(d, c, hdr.sector, hdr.type == VIRTIO_BLK_T_OUT, &written);
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* What the guest wrote before the flush is on stable storage before we say OK. */
		st = fdatasync(d->fd) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID:
		st = get_id(d, c, &written);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = do_discard(d, c, hdr.type);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	*status = st;
	*used = written + 1; /* written < c->writable: no wrap */
	return 0;
}
