/* The wasm2c runtime for a kernel, and the little libc wasm2c's output needs. A module whose
 * memory the host gives it reaches that memory through its guard-page reservation, and its calls
 * are not counted: an access past the memory or a runaway recursion is a page fault that arch.c
 * turns into the module's trap (guest-memory.h). Other modules (a memory of their own, another
 * wasm2c's output, GUARD_PAGES=0) keep bounds checks in the generated code
 * (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0) and depth-counted calls (WASM_RT_MAX_CALL_STACK_DEPTH, see
 * build.sh). A trap prints `trap: <kind>`, stops the guest's devices and powers off with a failure. */
#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include "kernel.h"
#include "wasm-rt.h"

/* ---- libc ---------------------------------------------------------------------------------- */

/* Eight bytes at a time, in plain loops. Under TCG each iteration of a `rep movsb`/`rep stosb`
 * is a separate trip through the translator's dispatch loop, so a 64-byte memset cost 64 of
 * them; a loop of 8-byte moves is one translated block for many bytes. `no_builtin` keeps clang
 * from turning these loops back into calls to themselves. */
typedef u64 __attribute__((may_alias, aligned(1))) unaligned_u64;

__attribute__((no_builtin("memcpy"))) void *memcpy(void *dst, const void *src, size_t n) {
  u8 *d = dst;
  const u8 *s = src;
  for (; n >= 32; n -= 32, d += 32, s += 32) {
    u64 a = ((const unaligned_u64 *)s)[0], b = ((const unaligned_u64 *)s)[1];
    u64 c = ((const unaligned_u64 *)s)[2], e = ((const unaligned_u64 *)s)[3];
    ((unaligned_u64 *)d)[0] = a; ((unaligned_u64 *)d)[1] = b;
    ((unaligned_u64 *)d)[2] = c; ((unaligned_u64 *)d)[3] = e;
  }
  for (; n >= 8; n -= 8, d += 8, s += 8) *(unaligned_u64 *)d = *(const unaligned_u64 *)s;
  for (; n; n--) *d++ = *s++;
  return dst;
}

/* Overlapping ranges: forwards when the destination is below the source, else backwards. */
__attribute__((no_builtin("memmove", "memcpy"))) void *memmove(void *dst, const void *src, size_t n) {
  if ((uintptr_t)dst <= (uintptr_t)src || (uintptr_t)dst >= (uintptr_t)src + n) return memcpy(dst, src, n);
  u8 *d = (u8 *)dst + n;
  const u8 *s = (const u8 *)src + n;
  for (; n >= 8; n -= 8) { d -= 8; s -= 8; *(unaligned_u64 *)d = *(const unaligned_u64 *)s; }
  for (; n; n--) *--d = *--s;
  return dst;
}

__attribute__((no_builtin("memset"))) void *memset(void *dst, int c, size_t n) {
  u8 *d = dst;
  u64 w = 0x0101010101010101ULL * (u8)c;
  for (; n >= 32; n -= 32, d += 32) {
    ((unaligned_u64 *)d)[0] = w; ((unaligned_u64 *)d)[1] = w;
    ((unaligned_u64 *)d)[2] = w; ((unaligned_u64 *)d)[3] = w;
  }
  for (; n >= 8; n -= 8, d += 8) *(unaligned_u64 *)d = w;
  for (; n; n--) *d++ = (u8)c;
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const u8 *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

_Noreturn void abort(void) {
  kputs("trap: abort() in the kernel\n");
  kernel_fail(EXIT_TRAP);
}

_Noreturn void boot_assert_fail(const char *expr, const char *file, int line) {
  kprintf("trap: assertion failed: %s at %s:%d\n", expr, file, line);
  kernel_fail(EXIT_TRAP);
}

/* ---- wasm2c runtime -------------------------------------------------------------------------- */

uint32_t wasm_rt_call_stack_depth;
static bool rt_initialized;

void wasm_rt_init(void) { rt_initialized = true; }
bool wasm_rt_is_initialized(void) { return rt_initialized; }
void wasm_rt_free(void) {}

const char *wasm_rt_strerror(wasm_rt_trap_t trap) {
  switch (trap) {
  case WASM_RT_TRAP_NONE: return "no error";
  case WASM_RT_TRAP_OOB: return "out of bounds memory access";
  case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
  case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
  case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
  case WASM_RT_TRAP_UNREACHABLE: return "unreachable";
  case WASM_RT_TRAP_CALL_INDIRECT: return "indirect call type mismatch";
  case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
#if !WASM_RT_MERGED_OOB_AND_EXHAUSTION_TRAPS
  case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
#endif
  default: return "unknown trap";
  }
}

_Noreturn void wasm_rt_trap(wasm_rt_trap_t trap) {
  kprintf("trap: %s\n", wasm_rt_strerror(trap));
  kernel_fail(EXIT_TRAP);
}

/* Function types, compared by index in call_indirect: equal signatures get equal indices. */
#define MAX_FUNC_TYPES 128
#define MAX_TYPE_ARITY 24
static struct { u32 params, results; u8 types[MAX_TYPE_ARITY]; } func_types[MAX_FUNC_TYPES];
static u32 nfunc_types;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  u8 types[MAX_TYPE_ARITY];
  if (params + results > MAX_TYPE_ARITY) {
    kputs("trap: wasm_rt_register_func_type: signature too long for the kernel's table\n");
    kernel_fail(EXIT_TRAP);
  }
  va_list ap;
  va_start(ap, results);
  for (u32 i = 0; i < params + results; i++) types[i] = (u8)va_arg(ap, int);
  va_end(ap);
  for (u32 t = 0; t < nfunc_types; t++)
    if (func_types[t].params == params && func_types[t].results == results &&
        memcmp(func_types[t].types, types, params + results) == 0)
      return t + 1;
  if (nfunc_types == MAX_FUNC_TYPES) {
    kputs("trap: wasm_rt_register_func_type: too many function types\n");
    kernel_fail(EXIT_TRAP);
  }
  func_types[nfunc_types].params = params;
  func_types[nfunc_types].results = results;
  memcpy(func_types[nfunc_types].types, types, params + results);
  return ++nfunc_types;
}

/* Linear memory: the guest imports it (host.c hands out the arena); a module that
 * defines its own memory gets the arena too, once. */
extern u8 guest_arena[];
static bool arena_taken;

void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial_pages, uint32_t max_pages) {
  if (arena_taken || initial_pages > 256) {
    kprintf("trap: wasm_rt_allocate_memory: %u pages requested, the kernel has one 256-page arena\n", initial_pages);
    kernel_fail(EXIT_TRAP);
  }
  arena_taken = true;
  m->data = guest_arena;
  m->pages = initial_pages;
  m->max_pages = max_pages > 256 ? 256 : max_pages;
  m->size = initial_pages * 65536u;
}

/* A module compiled with a fixed memory (guest-memory.h, build.sh) checks at instantiation that the
 * memory the host gave it is the arena and size its code was compiled for: its loads and stores use
 * those constants and never look at m again. With guard pages its reservation is mapped here. */
void guest_memory_check(const void *memory, const u8 *data, u64 bytes, u32 slot, int guard, const char *module) {
  const wasm_rt_memory_t *m = memory;
  if (m->data != data || (u64)m->size != bytes) {
    kprintf("trap: %s: its memory is %lu bytes at %p, but its code was built for %lu bytes at %p (boot/build.sh)\n",
            module, (u64)m->size, (void *)m->data, bytes, (const void *)data);
    kernel_fail(EXIT_TRAP);
  }
  if (guard && !map_guest_memory(slot, (u64)(uintptr_t)data, bytes, module)) {
    kprintf("trap: %s: cannot map its memory at slot %u of the guard-page reservations\n", module, slot);
    kernel_fail(EXIT_TRAP);
  }
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta) {
  (void)m; (void)delta;
  return (uint32_t)-1; /* the DMA window never moves or grows */
}

void wasm_rt_free_memory(wasm_rt_memory_t *m) { (void)m; }

/* Tables come from a small static pool. */
static wasm_rt_funcref_t funcref_pool[4096];
static u32 funcref_used;
static wasm_rt_externref_t externref_pool[256];
static u32 externref_used;

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t elements, uint32_t max_elements) {
  if (elements > sizeof(funcref_pool) / sizeof(funcref_pool[0]) - funcref_used) {
    kprintf("trap: funcref table of %u elements does not fit the kernel's pool\n", elements);
    kernel_fail(EXIT_TRAP);
  }
  t->data = funcref_pool + funcref_used;
  funcref_used += elements;
  for (u32 i = 0; i < elements; i++) t->data[i] = wasm_rt_funcref_null_value;
  t->size = elements;
  t->max_size = elements; /* no growth */
  (void)max_elements;
}

void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *t, uint32_t elements, uint32_t max_elements) {
  if (elements > sizeof(externref_pool) / sizeof(externref_pool[0]) - externref_used) {
    kprintf("trap: externref table of %u elements does not fit the kernel's pool\n", elements);
    kernel_fail(EXIT_TRAP);
  }
  t->data = externref_pool + externref_used;
  externref_used += elements;
  for (u32 i = 0; i < elements; i++) t->data[i] = wasm_rt_externref_null_value;
  t->size = elements;
  t->max_size = elements;
  (void)max_elements;
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t) { (void)t; }
void wasm_rt_free_externref_table(wasm_rt_externref_table_t *t) { (void)t; }
uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t d, wasm_rt_funcref_t init) {
  (void)t; (void)d; (void)init;
  return (uint32_t)-1;
}
uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t *t, uint32_t d, wasm_rt_externref_t init) {
  (void)t; (void)d; (void)init;
  return (uint32_t)-1;
}
