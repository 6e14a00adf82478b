/* Freestanding assert.h: a failed assert stops the kernel with the expression and place. */
#ifndef BOOT_ASSERT_H
#define BOOT_ASSERT_H
_Noreturn void boot_assert_fail(const char *expr, const char *file, int line);
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : boot_assert_fail(#e, __FILE__, __LINE__))
#endif
#endif
