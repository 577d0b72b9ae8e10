/* file.c: reading the user's image files, with the checks every loader needs. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_size(int fd, uint64_t max, size_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	*size = (size_t)st.st_size;
	return 0;
}

int file_read_all(const char *path, uint64_t max, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t size = 0, done = 0;
	int ret;

	if (fd < 0)
		return -errno;
	ret = check_size(fd, max, &size);
	*buf = ret ? NULL : malloc(size ? size : 1);
	if (!ret && !*buf)
		ret = -ENOMEM;
	while (!ret && done < size) {
		ssize_t n = read(fd, *buf + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ret = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	close(fd);
	if (ret) {
		free(*buf);
		*buf = NULL;
		return ret;
	}
	*len = done;
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
	default:
		return strerror(-err);
	}
}
