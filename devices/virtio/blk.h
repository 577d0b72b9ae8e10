/* blk.h: virtio-blk requests against a raw image file (virtio 1.2, 5.2). */
#ifndef KVMINI_VIRTIO_BLK_H
#define KVMINI_VIRTIO_BLK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "device.h"
#include "virtq.h"

#define BLK_SECTOR		512
#define BLK_SERIAL_LEN		20		      /* VIRTIO_BLK_ID_BYTES */
#define BLK_SEG_MAX		(VIRTQ_CHAIN_MAX - 2) /* data segments beside header and status */
#define BLK_MAX_DISCARD_SEG	32
#define BLK_MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB a segment */
#define BLK_QUEUE_SIZE		256	   /* a chain can use every descriptor: seg_max + 2 */

struct blk_disk {
	const char *path;
	int fd;
	bool read_only;
	dev_t st_dev; /* the image's identity, to refuse one file given twice */
	ino_t st_ino;
	uint64_t sectors;
	uint16_t nr_queues; /* what the configuration's num_queues says */
	char serial[BLK_SERIAL_LEN];
	bool punch_hole;		/* the file system frees blocks on discard */
	atomic_flag warned_bad_request; /* malformed requests are logged once */
};

/*
 * blk_open: open image (path) for a disk, read-only when (read_only), with (serial) (NULL: none).
 * Locks it against a second writer. Errors are logged as one line naming the file and the fix
 * (missing, unreadable, read-only without ",ro", empty, not a multiple of 512 bytes, in use).
 * Returns 0 or -errno.
 */
int blk_open(struct blk_disk *d, const char *path, bool read_only, const char *serial);
/* blk_close: close (d)'s image. */
void blk_close(struct blk_disk *d);
/* blk_features: the virtio-blk feature bits (d) offers, VIRTIO_F_VERSION_1 and the ring's included. */
uint64_t blk_features(const struct blk_disk *d);
/* blk_config_read: (len) bytes of struct virtio_blk_config at (off) into (data); beyond it reads zero. */
void blk_config_read(const struct blk_disk *d, uint64_t off, void *data, uint32_t len);
/*
 * blk_device: describe disk (d), called (name), to any transport and back end: device type,
 * features, (nr_queues) request queues (1 to VIRTIO_MAX_QUEUES; more than one offers VIRTIO_BLK_F_MQ),
 * each served by a thread of its own, its configuration, and blk_request as what serves the queues.
 */
void blk_device(struct blk_disk *d, const char *name, unsigned int nr_queues, struct virtio_device *c);
/*
 * blk_request: carry out the request in chain (c) and write its status byte. Returns 0 with the bytes
 * written into the chain's device-writable buffers (the used length, status byte included) in (*used),
 * or -EINVAL when the chain has no room for a status byte (nothing can be reported; logged once).
 */
int blk_request(struct blk_disk *d, const struct virtq_chain *c, uint32_t *used);

#endif
