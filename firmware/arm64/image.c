/* image.c: loading an arm64 Linux Image, or a gzip'd Image.gz, by the arm64 boot protocol. */
#include "image.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define ZLIB_CONST /* next_in points into the caller's const buffer */
#include <zlib.h>

#include "../../vmm/file.h"
#include "../../devices/base/log.h"

#define MIB		  UINT64_C(0x100000)
#define GIB		  UINT64_C(0x40000000)
#define PHYS_LIMIT	  (UINT64_C(1) << 52) /* arm64's largest physical address space */
#define TEXT_OFFSET_ALIGN 0x1000	      /* what head.S of kernels with a text offset required */
#define DTB_WINDOW	  (512 * MIB)	      /* kernels before 4.2 map the DTB within this of their base */
#define INITRD_WINDOW	  (32 * GIB)	      /* a 1 GiB aligned window holding the kernel and the initrd */
#define INITRD_ALIGN	  UINT64_C(0x10000)   /* 64 KiB: arm64's largest page */
#define ZLIB_CHUNK	  GIB		      /* zlib counts in uInt: at most this much a call */
#define PROBE_LEN	  1024		      /* inflated before placing: an x86 kernel shows at 0x202 */

/* Offsets in the Image header. */
#define HDR_TEXT_OFFSET 8
#define HDR_IMAGE_SIZE	16
#define HDR_FLAGS	24
#define HDR_MAGIC	56

/* EFI zboot (CONFIG_EFI_ZBOOT): an EFI program carrying the compressed Image (zboot-header.S). */
#define ZBOOT_TYPE	     4 /* "zimg" */
#define ZBOOT_PAYLOAD_OFFSET 8
#define ZBOOT_PAYLOAD_SIZE   12
#define ZBOOT_COMP_TYPE	     24 /* NUL-terminated: "gzip", "zstd22", "xzkern", ... */
#define ZBOOT_COMP_TYPE_MAX  32

static uint64_t get_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

static uint64_t mib_up(uint64_t v)
{
	return (v + MIB - 1) / MIB;
}

/* Words for what (img, len) is when it is not an arm64 Image: the mistakes users make. */
static const char *identify(const uint8_t *img, size_t len)
{
	static const struct {
		size_t off, len;
		const char *magic, *why;
	} known[] = {
		{ 0x202, 4, "HdrS",
		  "is an x86 kernel (a bzImage): kvmini for arm64 boots arm64 Images (Image or Image.gz)" },
		{ 0, 4,
		  "\x7f"
		  "ELF",
		  "is an ELF file (a vmlinux?): boot the Image or Image.gz the kernel build makes from it (arch/arm64/boot/)" },
		{ 0x24, 4, "\x18\x28\x6f\x01",
		  "is a 32-bit ARM zImage: kvmini for arm64 boots 64-bit arm64 Images" },
		{ 0, 2, "\x1f\x8b", "is gzip data again (compressed twice?): gunzip it once and give that" },
		{ 0, 3, "BZh", "is bzip2 data: kvmini inflates gzip only: bunzip2 it, or gzip the Image" },
		{ 0, 6,
		  "\xfd"
		  "7zXZ\0",
		  "is xz data: kvmini inflates gzip only: unxz it, or gzip the Image" },
		{ 0, 4, "\x28\xb5\x2f\xfd",
		  "is zstd data: kvmini inflates gzip only: unzstd it, or gzip the Image" },
		{ 0, 4, "\x02\x21\x4c\x18",
		  "is lz4 data: kvmini inflates gzip only: unlz4 it, or gzip the Image" },
		{ 0, 4, "\x89LZO", "is lzo data: kvmini inflates gzip only: lzop -d it, or gzip the Image" },
		{ 0, 3, "\x5d\0\0", "is lzma data: kvmini inflates gzip only: unlzma it, or gzip the Image" },
		{ 0, 6, "070701", "is a cpio archive, not a kernel: an initrd given as --kernel?" },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (len >= known[i].off + known[i].len &&
		    memcmp(img + known[i].off, known[i].magic, known[i].len) == 0)
			return known[i].why;
	if (len < ARM64_IMAGE_HDR_LEN)
		return "is too short to be an arm64 Image: its 64-byte header is cut off (a truncated file?)";
	return "is not an arm64 Image (no \"ARM\\x64\" magic at offset 56): give --kernel an arm64 Image or Image.gz";
}

int arm64_image_parse(const uint8_t *img, size_t len, struct arm64_image *h, const char **why)
{
	static const unsigned int page_kib[] = { 0, 4, 16, 64 };

	memset(h, 0, sizeof(*h));
	if (len < ARM64_IMAGE_HDR_LEN || get_le(img + HDR_MAGIC, 4) != ARM64_IMAGE_MAGIC) {
		*why = identify(img, len);
		return -EINVAL;
	}
	h->image_size = get_le(img + HDR_IMAGE_SIZE, 8);
	/* Before 3.17 the header had no flags and text_offset in the kernel's endianness: 0x80000. */
	if (!h->image_size) {
		h->text_offset = ARM64_OLD_TEXT_OFFSET;
		return 0;
	}
	h->text_offset = get_le(img + HDR_TEXT_OFFSET, 8);
	h->flags = get_le(img + HDR_FLAGS, 8);
	h->page_kib = page_kib[(h->flags >> 1) & 3];
	if (h->flags & ARM64_IMAGE_FLAG_BE) {
		*why = "is a big-endian arm64 Image (flags bit 0): kvmini boots little-endian kernels: build one without CONFIG_CPU_BIG_ENDIAN";
		return -EINVAL;
	}
	/* Kernels that had a text offset refused at build time one unaligned or of 2 MiB or more. */
	if (h->text_offset % TEXT_OFFSET_ALIGN || h->text_offset >= ARM64_KERNEL_ALIGN) {
		*why = "has a text_offset that is not a multiple of 4 KiB below 2 MiB, as every arm64 kernel's is: a corrupt header?";
		return -EINVAL;
	}
	return 0;
}

/* Where things go in RAM. */
struct layout {
	uint64_t base;	 /* the kernel's 2 MiB aligned base */
	uint64_t load;	 /* base + text_offset */
	uint64_t room;	 /* bytes the kernel may have from load: up to the DTB, or the initrd below it */
	uint64_t dtb;	 /* its 2 MiB block */
	uint64_t initrd; /* 0: none */
};

/* One load: what every step needs. */
struct loader {
	const struct gmem *m;
	const struct boot_arm64_args *a;
	uint64_t ram_end;
	uint64_t initrd_size;
	const char *form; /* how the file became the Image, for messages: "", ", once inflated," */
	struct layout lay;
	struct boot_arm64 *out;
};

/* The initrd's place: at the top of its window above the DTB, else just below the DTB. */
static int place_initrd(const struct loader *ld, uint64_t kend, struct layout *l)
{
	uint64_t size = ld->initrd_size;
	uint64_t hi = min64(ld->ram_end, align_down(l->base, GIB) + INITRD_WINDOW);
	uint64_t above = l->dtb + ARM64_DTB_MAX;

	if (hi > above && hi - above >= size && align_down(hi - size, INITRD_ALIGN) >= above) {
		l->initrd = align_down(hi - size, INITRD_ALIGN);
		return 0;
	}
	if (l->dtb < size || align_down(l->dtb - size, INITRD_ALIGN) < kend ||
	    align_down(l->dtb - size, INITRD_ALIGN) + size > hi)
		return -ENOMEM;
	l->initrd = align_down(l->dtb - size, INITRD_ALIGN);
	l->room = l->initrd - l->load;
	return 0;
}

/*
 * place: lay out a kernel of (text_offset) needing (need) bytes from its load address (an old kernel
 * still being inflated: what is in hand) and, with (initrd), the initrd. Returns 0 or -ENOMEM.
 */
static int place(const struct loader *ld, uint64_t text_offset, uint64_t need, bool initrd, struct layout *l)
{
	uint64_t kend, dtb_top;

	memset(l, 0, sizeof(*l));
	l->base = align_up(ld->a->ram_base, ARM64_KERNEL_ALIGN);
	l->load = l->base + text_offset;
	if (l->load >= ld->ram_end || need > ld->ram_end - l->load)
		return -ENOMEM;
	kend = l->load + need;
	/* The DTB's block: the highest in RAM within 512 MiB of the base, but above the kernel. */
	dtb_top = min64(ld->ram_end,
			max64(l->base + DTB_WINDOW, align_up(kend, ARM64_KERNEL_ALIGN) + ARM64_DTB_MAX));
	dtb_top = align_down(dtb_top, ARM64_KERNEL_ALIGN);
	if (dtb_top < align_up(kend, ARM64_KERNEL_ALIGN) + ARM64_DTB_MAX ||
	    dtb_top - ARM64_DTB_MAX <= l->load)
		return -ENOMEM;
	l->dtb = dtb_top - ARM64_DTB_MAX;
	l->room = l->dtb - l->load;
	return initrd ? place_initrd(ld, kend, l) : 0;
}

/* Place a kernel needing (need) bytes and the initrd, or say what --mem would do. */
static int place_all(struct loader *ld, uint64_t need)
{
	const char *path = ld->a->kernel_path;
	uint64_t text_offset = ld->out->hdr.text_offset;
	uint64_t load = align_up(ld->a->ram_base, ARM64_KERNEL_ALIGN) + text_offset;
	uint64_t mem;

	if (need >= PHYS_LIMIT) {
		log_err("kernel %s%s has an image_size of %" PRIu64
			" bytes, more than any RAM: a corrupt header?",
			path, ld->form, need);
		return -EINVAL;
	}
	/* What --mem would hold the kernel, its DTB block and the initrd below it. */
	mem = align_up(load + need - ld->a->ram_base, ARM64_KERNEL_ALIGN) + ARM64_DTB_MAX;
	if (place(ld, text_offset, need, false, &ld->lay)) {
		log_err("kernel %s%s needs %" PRIu64 " MiB of guest RAM from 0x%" PRIx64
			" (%s) and 2 MiB for the device tree: give --mem %" PRIu64 "M or more",
			path, ld->form, mib_up(need), load,
			ld->out->hdr.image_size ? "image_size, bss included" : "an old kernel's length",
			mib_up(mem));
		return -ENOMEM;
	}
	if (ld->initrd_size && place(ld, text_offset, need, true, &ld->lay)) {
		log_err("initrd %s (%" PRIu64
			" MiB) does not fit in guest RAM beside kernel %s and the device tree: give --mem %" PRIu64
			"M or more",
			ld->a->initrd_path, mib_up(ld->initrd_size), path,
			mib_up(mem + align_up(ld->initrd_size, ARM64_KERNEL_ALIGN)));
		return -ENOMEM;
	}
	return 0;
}

/* RAM was checked whole at the start: a place in it that is not mapped is kvmini's bug. */
static int ram_bug(const struct loader *ld, uint64_t gpa)
{
	log_err("kernel %s: guest RAM at 0x%" PRIx64
		" is not mapped: kvmini's arm64 memory layout is wrong (a bug)",
		ld->a->kernel_path, gpa);
	return -EFAULT;
}

static int ram_write(const struct loader *ld, uint64_t gpa, const void *src, uint64_t len)
{
	return gmem_write(ld->m, gpa, src, len) ? ram_bug(ld, gpa) : 0;
}

/*
 * start_kernel: the kernel's first (head_len) bytes are in hand, (total) of them in all (0: not known
 * yet): check the header, place everything and write them at the load address.
 */
static int start_kernel(struct loader *ld, const uint8_t *head, size_t head_len, uint64_t total)
{
	struct arm64_image *h = &ld->out->hdr;
	const char *why;
	int ret = arm64_image_parse(head, head_len, h, &why);

	if (ret) {
		log_err("kernel %s%s %s", ld->a->kernel_path, ld->form, why);
		return ret;
	}
	if (h->image_size && max64(head_len, total) > h->image_size) {
		log_err("kernel %s%s is longer than the image_size its header declares (%" PRIu64
			" bytes): a corrupt image?",
			ld->a->kernel_path, ld->form, h->image_size);
		return -EINVAL;
	}
	/* An old kernel still being inflated needs at least what is in hand. */
	ret = place_all(ld, h->image_size ? h->image_size : max64(total, head_len));
	if (ret)
		return ret;
	ld->out->image_len = head_len;
	return ram_write(ld, ld->lay.load, head, head_len);
}

/* A gzip stream being inflated: zlib's state and what messages name. */
struct gz {
	z_stream z;
	const uint8_t *in, *end; /* the compressed bytes */
	const char *path;
	uint64_t out; /* bytes inflated so far */
	bool ended;   /* the last member's trailer (CRC and length) checked out */
};

/* The end of a gzip member: another may follow (as gzip(1) reads them), nothing else may. */
static int gz_member_end(struct gz *g)
{
	size_t left = (size_t)(g->end - g->z.next_in);

	if (!left) {
		g->ended = true;
		return 0;
	}
	if (left >= 2 && g->z.next_in[0] == 0x1f && g->z.next_in[1] == 0x8b && inflateReset(&g->z) == Z_OK)
		return 0;
	log_err("kernel %s has %zu bytes after its gzip data that are not gzip: a damaged file? copy or build it again",
		g->path, left);
	return -EINVAL;
}

/* gz_read: inflate up to (cap) bytes into (dst), (*got) of them. Returns 0, or -EINVAL logged. */
static int gz_read(struct gz *g, uint8_t *dst, uint64_t cap, uint64_t *got)
{
	int ret = 0;

	*got = 0;
	while (*got < cap && !g->ended && !ret) {
		uInt want = (uInt)min64(cap - *got, ZLIB_CHUNK);
		int z;

		g->z.next_out = dst + *got;
		g->z.avail_out = want;
		g->z.avail_in = (uInt)min64((uint64_t)(g->end - g->z.next_in), ZLIB_CHUNK);
		z = inflate(&g->z, Z_NO_FLUSH);
		*got += want - g->z.avail_out;
		if (z == Z_STREAM_END) {
			ret = gz_member_end(g);
		} else if (z == Z_BUF_ERROR && g->z.next_in == g->end) {
			log_err("kernel %s: its gzip data ends early, after %" PRIu64
				" bytes inflated (zlib: unexpected end of stream; a truncated file?): copy or build it again",
				g->path, g->out + *got);
			ret = -EINVAL;
		} else if (z != Z_OK) {
			log_err("kernel %s: its gzip data is corrupt at byte %zu of %zu (zlib: %s): copy or build it again",
				g->path, (size_t)(g->z.next_in - g->in), (size_t)(g->end - g->in),
				g->z.msg ? g->z.msg : zError(z));
			ret = -EINVAL;
		}
	}
	g->out += *got;
	return ret;
}

/* The rest of the stream after the first (done) bytes, into the kernel's room, and not one byte more. */
static int inflate_rest(struct loader *ld, struct gz *g, uint64_t done)
{
	const struct arm64_image *h = &ld->out->hdr;
	uint64_t limit = h->image_size ? h->image_size : ld->lay.room;
	uint8_t *dst = gmem_ptr(ld->m, ld->lay.load + done, limit - done);
	uint8_t probe;
	uint64_t got = 0, more = 0;
	int ret;

	if (!dst)
		return ram_bug(ld, ld->lay.load + done);
	ret = gz_read(g, dst, limit - done, &got);
	/* The room is full: the stream must end here, without one byte more. */
	if (!ret && !g->ended)
		ret = gz_read(g, &probe, 1, &more);
	if (ret)
		return ret;
	ld->out->image_len = done + got;
	if (!more)
		return 0;
	if (h->image_size) {
		log_err("kernel %s inflates to more than the image_size its header declares (%" PRIu64
			" bytes): a corrupt image?",
			ld->a->kernel_path, h->image_size);
		return -EINVAL;
	}
	log_err("kernel %s inflates to more than the %" PRIu64
		" MiB of guest RAM it may use (a gzip bomb?): give more --mem than %" PRIu64
		"M, or check the file",
		ld->a->kernel_path, limit / MIB, ld->a->ram_size / MIB);
	return -ENOMEM;
}

/* An Image.gz (in, len): the first bytes into a buffer to check and place, the rest into guest RAM. */
static int load_gzip(struct loader *ld, const uint8_t *in, size_t len)
{
	struct gz g = { .in = in, .end = in + len, .path = ld->a->kernel_path };
	uint8_t head[PROBE_LEN];
	uint64_t got = 0;
	int ret;

	g.z.next_in = in;
	if (inflateInit2(&g.z, 16 + MAX_WBITS) != Z_OK) {
		log_err("kernel %s: zlib cannot start inflating (out of memory?)", ld->a->kernel_path);
		return -ENOMEM;
	}
	ld->out->inflated = true;
	ret = gz_read(&g, head, sizeof(head), &got);
	if (!ret)
		ret = start_kernel(ld, head, (size_t)got, g.ended ? got : 0);
	if (!ret && !g.ended)
		ret = inflate_rest(ld, &g, got);
	inflateEnd(&g.z);
	return ret;
}

/* An EFI zboot image: its payload, if gzip (the kernel's CONFIG_KERNEL_GZIP), inflated as an Image.gz. */
static int load_zboot(struct loader *ld, const uint8_t *img, size_t len)
{
	uint64_t off = get_le(img + ZBOOT_PAYLOAD_OFFSET, 4), size = get_le(img + ZBOOT_PAYLOAD_SIZE, 4);
	const char *comp = (const char *)img + ZBOOT_COMP_TYPE;

	if (strnlen(comp, ZBOOT_COMP_TYPE_MAX) == ZBOOT_COMP_TYPE_MAX || off > len || size > len - off) {
		log_err("kernel %s is an EFI zboot image whose header is damaged (payload past the file's end?): a truncated file?",
			ld->a->kernel_path);
		return -EINVAL;
	}
	if (strcmp(comp, "gzip") != 0) {
		log_err("kernel %s is an EFI zboot image compressed with %s: kvmini inflates gzip only: boot that build's arch/arm64/boot/Image, or build with CONFIG_KERNEL_GZIP",
			ld->a->kernel_path, comp);
		return -EINVAL;
	}
	ld->form = "'s EFI zboot payload, once inflated,";
	return load_gzip(ld, img + off, (size_t)size);
}

/* A plain Image: all of it is in hand, so its length counts where image_size is 0. */
static int load_raw(struct loader *ld, const uint8_t *img, size_t len)
{
	int ret = start_kernel(ld, img, len < PROBE_LEN ? len : PROBE_LEN, len);

	if (!ret && len > PROBE_LEN)
		ret = ram_write(ld, ld->lay.load + PROBE_LEN, img + PROBE_LEN, len - PROBE_LEN);
	if (!ret)
		ld->out->image_len = len;
	return ret;
}

static int load_kernel(struct loader *ld, const uint8_t *img, size_t len)
{
	if (len >= 2 && img[0] == 0x1f && img[1] == 0x8b) {
		ld->form = ", once inflated,";
		return load_gzip(ld, img, len);
	}
	if (len >= ARM64_IMAGE_HDR_LEN && memcmp(img, "MZ", 2) == 0 &&
	    memcmp(img + ZBOOT_TYPE, "zimg", 4) == 0)
		return load_zboot(ld, img, len);
	return load_raw(ld, img, len);
}

/* The initrd's size, before anything is placed; the descriptor in (*fd), -1 without one. */
static int open_initrd(struct loader *ld, int *fd)
{
	const char *path = ld->a->initrd_path;

	*fd = -1;
	if (!path)
		return 0;
	*fd = file_open_sized(path, ld->a->ram_size, &ld->initrd_size);
	if (*fd >= 0 && ld->initrd_size)
		return 0;
	if (*fd == -EFBIG) {
		log_err("initrd %s is larger than guest RAM (--mem %" PRIu64 "M): give more --mem", path,
			ld->a->ram_size / MIB);
	} else if (*fd < 0) {
		log_err("initrd %s: %s", path, file_strerror(*fd));
	} else {
		log_err("initrd %s is empty: give an initramfs (a cpio archive, perhaps gzip'd)", path);
		close(*fd);
	}
	*fd = -1;
	return -EINVAL;
}

static int check_ram(const struct loader *ld)
{
	const struct boot_arm64_args *a = ld->a;

	if (a->ram_size && a->ram_base < PHYS_LIMIT && a->ram_size <= PHYS_LIMIT - a->ram_base &&
	    gmem_ptr(ld->m, a->ram_base, a->ram_size))
		return 0;
	log_err("kernel %s: guest RAM [0x%" PRIx64 ", +0x%" PRIx64
		") is not one mapped range: kvmini's arm64 memory layout is wrong (a bug)",
		a->kernel_path, a->ram_base, a->ram_size);
	return -EINVAL;
}

int boot_arm64_load(const struct gmem *m, const struct boot_arm64_args *a, const uint8_t *img, size_t len,
		    struct boot_arm64 *out)
{
	struct loader ld = { .m = m, .a = a, .ram_end = a->ram_base + a->ram_size, .form = "", .out = out };
	int fd = -1, ret;

	memset(out, 0, sizeof(*out));
	ret = check_ram(&ld);
	if (!ret)
		ret = open_initrd(&ld, &fd);
	if (!ret)
		ret = load_kernel(&ld, img, len);
	if (!ret && fd >= 0) {
		ret = file_read_guest(fd, m, ld.lay.initrd, ld.initrd_size);
		if (ret) {
			log_err("initrd %s: %s", a->initrd_path, file_strerror(ret));
			ret = -EINVAL;
		}
	}
	if (fd >= 0)
		close(fd);
	if (ret)
		return ret;
	out->entry = ld.lay.load;
	out->dtb = ld.lay.dtb;
	out->kernel_end = ld.lay.load + (out->hdr.image_size ? out->hdr.image_size : out->image_len);
	out->initrd = ld.lay.initrd;
	out->initrd_size = ld.initrd_size;
	return 0;
}
