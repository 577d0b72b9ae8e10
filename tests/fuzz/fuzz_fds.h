/* fuzz_fds.h: how fuzz targets see that no input leaves a file descriptor open. */
#ifndef KVMINI_FUZZ_FDS_H
#define KVMINI_FUZZ_FDS_H

#include <fcntl.h>

#define FUZZ_FD_SCAN 1024

/* fuzz_open_fds: how many of descriptors 0 to FUZZ_FD_SCAN - 1 are open. */
static inline unsigned int fuzz_open_fds(void)
{
	unsigned int n = 0;

	for (int fd = 0; fd < FUZZ_FD_SCAN; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

#endif
