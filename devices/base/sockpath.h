/*
 * sockpath.h: where a Unix socket kvmini listens on lives in the file system (vsock's host side, the API
 * socket): its directory, held open so that a syscall filter can pin the socket's removal to it, its name
 * there, and a socket someone left behind, replaced when nobody listens on it any more.
 */
#ifndef KVMINI_SOCKPATH_H
#define KVMINI_SOCKPATH_H

#include <stddef.h>
#include <sys/stat.h>

/* sockpath_dir: the directory (path) names a file in ("." for a bare name) into (dir) of (len) bytes. */
void sockpath_dir(const char *path, char *dir, size_t len);
/* sockpath_dir_open: an O_PATH descriptor of (path)'s directory, or -errno. */
int sockpath_dir_open(const char *path);
/* sockpath_name: the last component of (path): the socket's name in its directory. */
const char *sockpath_name(const char *path);
/*
 * sockpath_replace_stale: something (st) is at (path) already: a socket nobody listens on is removed;
 * anything else is refused, logged as (what) ("API socket path") with what to do. Returns 0, -EEXIST
 * (not a socket), -EADDRINUSE (a program listens on it) or -errno.
 */
int sockpath_replace_stale(const char *what, const char *path, const struct stat *st);

#endif
