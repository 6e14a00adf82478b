/* nvme-wasm bare-metal host: what the kernel's C files share. The kernel only adapts the
 * machine to the guest ABI (docs/abi.md); everything a driver decides lives in the guest. */
#ifndef BOOT_KERNEL_H
#define BOOT_KERNEL_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;

/* Exit codes the kernel itself uses (QEMU exits with (code << 1) | 1 via isa-debug-exit,
 * boot/qemu.sh maps that back to the code). The guest's own poweroff(code) uses 1..124. */
#define EXIT_TRAP 125      /* wasm trap, abort(), mmio/pci misuse */
#define EXIT_EXCEPTION 126 /* CPU exception in the kernel or the guest code */

/* Port and CPU primitives. */
static inline void outb(u16 p, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p)); }
static inline void outw(u16 p, u16 v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(p)); }
static inline void outl(u16 p, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p)); }
static inline u8 inb(u16 p) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u32 inl(u16 p) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }
static inline u64 rdmsr(u32 m) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(m)); return ((u64)hi << 32) | lo; }
static inline void wrmsr(u32 m, u64 v) { __asm__ volatile("wrmsr" ::"c"(m), "a"((u32)v), "d"((u32)(v >> 32))); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

/* console.c */
void serial_init(void);
void console_putc(char c);
void console_write_bytes(const char *s, size_t n);
void kputs(const char *s);
void kprintf(const char *fmt, ...);
int serial_getc_nowait(void);

/* arch.c */
void arch_init(void);
u64 time_ns(void);
u64 tsc_hz(void);
void wait_for_interrupt(void);                 /* sti; hlt; cli */
void poll_interrupts(void);                    /* sti; nop; cli */
void *map_identity(u64 phys, u64 size, bool uncached); /* NULL when out of page tables */
void lapic_enable(void);
u32 lapic_id(void);
void pic_mask(u8 irq);
void pic_unmask(u8 irq);
extern void (*irq_handler)(u8 vector);         /* set by host.c */
_Noreturn void machine_poweroff(int code);
_Noreturn void kernel_fail(int code);          /* cleanup (host_cleanup) and poweroff */

/* host.c */
void host_init(u32 mb_magic, u32 mb_info);
void host_cleanup(void);                       /* clear bus mastering the guest enabled */
_Noreturn void host_run(void);

/* PCI configuration mechanism #1. */
u32 pci_cfg_read(u32 bdf, u32 off);
void pci_cfg_write(u32 bdf, u32 off, u32 v);

#endif
