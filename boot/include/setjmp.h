/* setjmp/longjmp for wasm2c's exception and trap paths; implemented in boot/entry.S.
 * jmp_buf holds rbx rbp r12 r13 r14 r15 rsp rip. */
#ifndef BOOT_SETJMP_H
#define BOOT_SETJMP_H
typedef unsigned long jmp_buf[8];
int setjmp(jmp_buf env) __attribute__((returns_twice));
_Noreturn void longjmp(jmp_buf env, int val);
#endif
