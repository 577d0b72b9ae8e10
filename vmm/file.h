/* file.h: reading the user's image files, with the checks every loader needs. */
#ifndef KVMINI_FILE_H
#define KVMINI_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gmem;

/*
 * file_open_sized: open regular file (path) read-only; its size, at most (max), in (*size).
 * Returns the descriptor, or -EISDIR, -EINVAL (not a regular file), -EFBIG (over max) or -errno.
 */
int file_open_sized(const char *path, uint64_t max, uint64_t *size);
/* file_read_exact: read (len) bytes from (fd) into (dst), through short reads and EINTR. Returns 0, -EIO (the file ended) or -errno. */
int file_read_exact(int fd, void *dst, uint64_t len);
/*
 * file_read_guest: (len) bytes of (fd), from its offset, straight into guest RAM at (gpa) of (m): no
 * bounce buffer for a large image. Returns 0, -EFAULT when the range is not RAM, or as file_read_exact.
 */
int file_read_guest(int fd, const struct gmem *m, uint64_t gpa, uint64_t len);
/*
 * file_read_all: all of regular file (path), at most (max) bytes, into a malloc'd (*buf) of
 * (*len) bytes. Returns 0, -EISDIR, -EINVAL (not a regular file), -EFBIG (over max), -EIO
 * (shorter than it said), -ENOMEM or another -errno.
 */
int file_read_all(const char *path, uint64_t max, uint8_t **buf, size_t *len);
/* file_strerror: (err) from file_read_all as words for a message. */
const char *file_strerror(int err);
/*
 * file_pread_text: the text of open file (fd) from its start, up to (len) - 1 bytes, into (buf),
 * NUL-terminated: a /proc or cgroup file read whole. Returns the bytes read, or -errno.
 * file_read_text: the same for small file (path), relative to (dirfd) (AT_FDCWD: as open() takes it).
 */
ssize_t file_pread_text(int fd, char *buf, size_t len);
ssize_t file_read_text(int dirfd, const char *path, char *buf, size_t len);

#endif
