/* Freestanding stdlib.h: wasm-rt.h includes it; the kernel has no heap. abort() stops the
 * machine with a message (boot/runtime.c). */
#ifndef BOOT_STDLIB_H
#define BOOT_STDLIB_H
#include <stddef.h>
_Noreturn void abort(void);
#endif
