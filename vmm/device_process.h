/*
 * device_process.h: kvmini's side of a device process (devices/devproc): started for one device in
 * namespaces of its own, connected by a socketpair that carries the vhost-user protocol, watched
 * through a pidfd, and heard from when its syscall filter refuses a call (a pipe of refusal records).
 */
#ifndef KVMINI_DEVICE_PROCESS_H
#define KVMINI_DEVICE_PROCESS_H

#include <stddef.h>
#include <sys/types.h>

/* kvmini's exit status when a device process fails (dies, or its syscall filter stops it). */
#define VM_EXIT_DEVICE 12

struct device_process {
	char name[32]; /* for messages: "virtio-blk vda" */
	pid_t pid;     /* 0: none */
	int pidfd;
	int report_fd; /* kvmini's end of the refusal pipe */
	int sock;      /* kvmini's end of the vhost-user channel, until the front end takes it */
};

/*
 * device_process_spawn: start `kvmini ARGS...` (ARGS: "device", "blk", ..., NULL; "--fd N" and
 * "--report-fd N" are added) for device (name), in new namespaces where the host allows them, handing
 * it descriptor (pass) (-1: none; a tap: ARGS name its number). Returns 0 with (p)->sock connected to
 * the device process, or -errno (logged).
 */
int device_process_spawn(struct device_process *p, const char *name, const char *const *args, int pass);
/*
 * device_process_why: the device process hung up: reap it (waiting up to a second) and describe, in
 * (buf), why it ended: a refused syscall (by name and number), a signal, or its exit status. The caller
 * says what follows (it is started again, or the VM stops).
 */
void device_process_why(struct device_process *p, char *buf, size_t len);
/* device_process_end: wait up to 2 s for the process to exit (its front end has hung up), then kill it. */
void device_process_end(struct device_process *p);

#endif
