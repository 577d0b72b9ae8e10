/*
 * devproc/devproc.h: `kvmini device KIND ...`: a device process. One virtio device model, served as a
 * vhost-user back end (vhu_backend.h) on a socket, locked down (sandbox.h) before it reads the first
 * byte of guest data: what kvmini runs for each device by default, and what other VMMs can use.
 */
#ifndef KVMINI_DEVPROC_H
#define KVMINI_DEVPROC_H

/* Exit status: 0 the front end hung up, 1 the protocol broke or serving failed, 2 bad usage or setup. */
int devproc_main(int argc, char **argv);

#endif
