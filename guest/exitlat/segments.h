/* segments.h: the flat GDT that entry.S builds, shared by the BSP, the AP trampoline and the IDT. */
#ifndef EXITLAT_SEGMENTS_H
#define EXITLAT_SEGMENTS_H

#define CODE_SEL  0x08	      /* flat 4 GiB, 32-bit code, ring 0 */
#define DATA_SEL  0x10	      /* flat 4 GiB, data */
#define GDT_LIMIT (3 * 8 - 1) /* null, code, data */

#endif
