/* reset_vector.c: what sits at the x86 reset vector, where a reset or a real-mode restart lands. */
#include "reset_vector.h"

#include <string.h>

void reset_vector_build(uint8_t stub[RESET_VECTOR_STUB_LEN], uint16_t port, uint8_t value)
{
	const uint8_t code[] = {
		0xba, (uint8_t)port, (uint8_t)(port >> 8), /* mov dx, port */
		0xb0, value,				   /* mov al, value */
		0xee,					   /* out dx, al */
		0xfa,					   /* 1: cli */
		0xf4,					   /* hlt */
		0xeb, 0xfc,				   /* jmp 1b */
	};

	memset(stub, 0x90, RESET_VECTOR_STUB_LEN); /* nop: the CPU never runs past the loop */
	memcpy(stub, code, sizeof(code));
}
