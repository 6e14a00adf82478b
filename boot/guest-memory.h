/* Fixed memories for the generated C (boot/build.sh passes this file with -include when it
 * compiles a module whose memory the host gives it).
 *
 * wasm2c's loads and stores take the module's memory through two pointers, instance->memory and
 * memory->data, and compare every address with memory->size. In the kernel each module's memory
 * is a static arena of a size that never changes (wasm_rt_grow_memory refuses), so build.sh
 * rewrites the generated access functions to use the arena's address and size as constants:
 *   - GUEST_MEMORY_DATA: the arena (host.c's guest_arena, client_arena or decoder_arena), a
 *     link-time address, so an access is one instruction with the arena as its displacement;
 *   - GUEST_MEMCHECK: the same bounds check as wasm2c's RANGE_CHECK against a constant, which
 *     the compiler can prove for accesses whose index is masked (the CRC's table lookups);
 *   - guest_memory_check (runtime.c): when the module is instantiated, the memory the host gave
 *     it must be that arena with that size, or the boot stops with a trap line.
 * Under QEMU's TCG every guest load is a software TLB lookup, so the two pointer loads per access
 * cost more than the access itself; the compiler had to redo them after every store (README,
 * "Figures"). An address outside the memory still traps as `trap: out of bounds memory access`.
 * GUEST_MEMORY (the arena's symbol) and GUEST_MEMORY_BYTES come from build.sh's -D options. */
#ifndef GUEST_MEMORY_H
#define GUEST_MEMORY_H
#include <stdint.h>

extern uint8_t GUEST_MEMORY[];
#define GUEST_MEMORY_DATA GUEST_MEMORY
#define GUEST_MEMCHECK(a, len) \
  if (__builtin_expect((uint64_t)(a) + (uint64_t)(len) > (uint64_t)(GUEST_MEMORY_BYTES), 0)) TRAP(OOB);

/* After each load. The driver's memory is the DMA window: a device writes it while the driver
 * runs, and the driver relies on the order of its loads (a completion entry's phase tag before the
 * rest of the entry, NVMe 4.6). wasm2c's empty asm taking the loaded value keeps clang from moving
 * loads across each other there, as it did before; the other modules' memories change only inside
 * import calls, so they go without it. */
#if GUEST_MEMORY_DMA
#define GUEST_LOAD_ORDER(result) __asm__("" ::"r"(result))
#else
#define GUEST_LOAD_ORDER(result) ((void)0)
#endif

/* m is the module's wasm_rt_memory_t (wasm-rt.h is not included yet where this file is). */
void guest_memory_check(const void *m, const uint8_t *data, uint64_t bytes, const char *module);
#endif
