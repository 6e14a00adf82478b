/* Fixed memories for the generated C, and the guard-page reservations behind them.
 *
 * wasm2c's loads and stores take the module's memory through two pointers, instance->memory and
 * memory->data, and compare every address with memory->size. Under QEMU's TCG every guest load is
 * a software-TLB lookup and every compare-and-branch ends a translated block, so these cost more
 * than the access itself (README, "Figures"). In the kernel each module's memory is a static arena
 * of a size that never changes (wasm_rt_grow_memory refuses), so boot/build.sh compiles the modules
 * whose memory host.c gives them (driver, shell, trace decoder, fs.wasm) with this file (-include) and
 * rewrites wasm2c's access functions to use GUEST_MEMORY_DATA and GUEST_MEMCHECK:
 *
 *   - Guard pages (GUEST_MEMORY_GUARD=1, the default). Module k's memory is also mapped at the
 *     virtual address GUEST_VA_BASE + k * GUEST_VA_STRIDE, a reservation of GUEST_VA_STRIDE bytes
 *     where nothing but the memory's own pages is mapped. A wasm address is a 32-bit index plus a
 *     32-bit offset, below 8 GiB, so every access lands inside the reservation: an access past the
 *     memory is a page fault there, which arch.c turns into the module's trap
 *     (`trap: out of bounds memory access`, the same line and cleanup as wasm2c's own check). The
 *     generated code has no check and no pointer to load: base + address, one instruction.
 *     Calls are not counted either: the kernel stack's guard page stops a runaway recursion.
 *   - Constant checks (GUEST_MEMORY_GUARD=0). The arena's link-time address, and wasm2c's check
 *     against the arena's size as a constant (which clang can prove for masked indexes).
 *
 * guest_memory_check (runtime.c), called by the generated code when the module is instantiated,
 * checks that the memory the host gave it is the arena and size its code was built for, and maps
 * the reservation; the boot stops with a trap line otherwise. Host code (host.c's copies, wasm2c's
 * bulk memory operations and data segments) keeps using the arena at its physical address: both
 * addresses reach the same memory.
 * build.sh's -D options: GUEST_MEMORY (the arena's symbol), GUEST_MEMORY_BYTES, GUEST_MEMORY_SLOT
 * (k), GUEST_MEMORY_DMA (1 for the driver). */
#ifndef GUEST_MEMORY_H
#define GUEST_MEMORY_H
#include <stdint.h>

#define GUEST_VA_BASE 0x400000000000ULL    /* 64 TiB: far above any RAM or BAR QEMU places */
#define GUEST_VA_STRIDE 0x1000000000ULL    /* 64 GiB a module: more than 8 GiB of addresses */
#define GUEST_VA_SLOTS 4u

#ifdef GUEST_MEMORY
#ifndef GUEST_MEMORY_GUARD
#define GUEST_MEMORY_GUARD 1
#endif
extern uint8_t GUEST_MEMORY[];
#define GUEST_MEMORY_VA (GUEST_VA_BASE + (uint64_t)(GUEST_MEMORY_SLOT) * GUEST_VA_STRIDE)
#if GUEST_MEMORY_GUARD
#define GUEST_MEMORY_DATA ((uint8_t *)GUEST_MEMORY_VA)
#define GUEST_MEMCHECK(a, len)
/* No call-depth counter either (a load, a store and a branch at every call and return, 16 % of the
 * guest's instructions on a QD1 read): the kernel stack's guard page ends a runaway recursion, and
 * the module's code lives in the section guest_text, so arch.c knows a fault on the guard page
 * from there is the module's `trap: call stack exhausted`. */
#undef WASM_RT_USE_STACK_DEPTH_COUNT
#define WASM_RT_USE_STACK_DEPTH_COUNT 0
#pragma clang section text = "guest_text"
#else
#define GUEST_MEMORY_DATA GUEST_MEMORY
#define GUEST_MEMCHECK(a, len) \
  if (__builtin_expect((uint64_t)(a) + (uint64_t)(len) > (uint64_t)(GUEST_MEMORY_BYTES), 0)) TRAP(OOB);
#endif

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
void guest_memory_check(const void *m, const uint8_t *data, uint64_t bytes, uint32_t slot, int guard, const char *module);
#define GUEST_MEMORY_CHECK(m, module) \
  guest_memory_check(m, GUEST_MEMORY, GUEST_MEMORY_BYTES, GUEST_MEMORY_SLOT, GUEST_MEMORY_GUARD, module)
#endif /* GUEST_MEMORY */
#endif
