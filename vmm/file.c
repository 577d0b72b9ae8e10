/* file.c: reading the user's image files, with the checks every loader needs. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../devices/base/mem.h"

int file_open_sized(const char *path, uint64_t max, uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		ret = -errno;
	else if (S_ISDIR(st.st_mode))
		ret = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		ret = -EINVAL;
	else if ((uint64_t)st.st_size > max)
		ret = -EFBIG;
	if (ret) {
		close(fd);
		return ret;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int file_read_exact(int fd, void *dst, uint64_t len)
{
	uint8_t *p = dst;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (uint64_t)n;
	}
	return 0;
}

int file_read_guest(int fd, const struct gmem *m, uint64_t gpa, uint64_t len)
{
	void *dst = gmem_ptr(m, gpa, len);

	return dst ? file_read_exact(fd, dst, len) : -EFAULT;
}

int file_read_all(const char *path, uint64_t max, uint8_t **buf, size_t *len)
{
	uint64_t size = 0;
	int fd = file_open_sized(path, max, &size), ret;

	if (fd < 0)
		return fd;
	*buf = malloc(size ? size : 1);
	ret = *buf ? file_read_exact(fd, *buf, size) : -ENOMEM;
	close(fd);
	if (ret) {
		free(*buf);
		*buf = NULL;
		return ret;
	}
	*len = (size_t)size;
	return 0;
}

const char *file_strerror(int err)
{
	switch (err) {
	case -EINVAL:
		return "not a regular file";
	case -EFBIG:
		return "too large to be an image kvmini boots";
	case -EIO:
		return "shorter than its size (changed while reading?)";
	case -EFAULT:
		return "does not fit in guest RAM where it goes: give more --mem";
	default:
		return strerror(-err);
	}
}

ssize_t file_pread_text(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len - 1) {
		ssize_t n = pread(fd, buf + got, len - 1 - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return buf[got] = '\0', -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

ssize_t file_read_text(int dirfd, const char *path, char *buf, size_t len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return buf[0] = '\0', -errno;
	n = file_pread_text(fd, buf, len);
	close(fd);
	return n;
}
