/* reset_vector.h: what sits at the x86 reset vector, where a reset or a real-mode restart lands. */
#ifndef KVMINI_RESET_VECTOR_H
#define KVMINI_RESET_VECTOR_H

#include <stdint.h>

#define RESET_VECTOR_STUB_LEN 16

/*
 * reset_vector_build: the (RESET_VECTOR_STUB_LEN) bytes placed at f000:fff0. A guest that jumps
 * there (Linux's machine_real_restart(), the last resort of its reboot on a machine with no EFI
 * and no BIOS) finds real-mode code that writes (value) to reset control (port), which kvmini
 * takes as a reboot, then halts. Without it the vCPU would run whatever zeros lie there forever.
 */
void reset_vector_build(uint8_t stub[RESET_VECTOR_STUB_LEN], uint16_t port, uint8_t value);

#endif
