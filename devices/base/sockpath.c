/* sockpath.c: a listening Unix socket's place in the file system (sockpath.h). */
#include "sockpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

void sockpath_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash)
		snprintf(dir, len, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	else
		snprintf(dir, len, ".");
}

int sockpath_dir_open(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;

	sockpath_dir(path, dir, sizeof(dir));
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

const char *sockpath_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int sockpath_replace_stale(const char *what, const char *path, const struct stat *st)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	if (!S_ISSOCK(st->st_mode)) {
		log_err("%s %s exists and is not a socket: remove it or pick another path", what, path);
		return -EEXIST;
	}
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* Refused: a socket file whose listener is gone (a kvmini that was killed). */
	err = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 ? 0 : errno;
	close(fd);
	if (err == ECONNREFUSED)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	if (err == 0 || err == EAGAIN) {
		log_err("%s %s is in use by a listening program (another kvmini?): stop it, remove the file, or "
			"pick another path",
			what, path);
		return -EADDRINUSE;
	}
	log_err("%s %s: cannot tell whether it is in use: %s", what, path, strerror(err));
	return -err;
}
