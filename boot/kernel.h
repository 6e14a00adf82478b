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
 * boot/qemu.sh maps that back to the code). The guest's own poweroff(code) uses 1..123. */
#define EXIT_BOOT 124      /* the machine cannot run the guests (too little memory) */
#define EXIT_TRAP 125      /* wasm trap, abort(), mmio/pci/interrupt/DMA-window misuse */
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
/* Writes the cache line holding p back to memory (for DMA remapping hardware that does not snoop
 * the CPU's caches: VT-d ECAP.C = 0). */
static inline void clflush(const volatile void *p) { __asm__ volatile("clflush %0" : "+m"(*(volatile char *)p)); }
static inline void mfence(void) { __asm__ volatile("mfence" ::: "memory"); }

/* console.c: COM1 and the screen for output, COM1 and the PS/2 keyboard for input */
void console_init(u32 multiboot_magic, u32 multiboot_info); /* first thing at boot */
void console_putc(char c);
void console_write_bytes(const char *s, size_t n);
void kputs(const char *s);
void kprintf(const char *fmt, ...);
int console_getc_nowait(void);                 /* a byte from COM1 or the keyboard, or -1 */
void console_report_loss(void);                /* says once that output was lost, if it was */

/* screen.c: the console on the screen (VGA text, or a framebuffer drawn with a PSF font) */
void screen_init(u32 multiboot_magic, u32 multiboot_info);
void screen_putc(char c);                      /* text, CR, LF, BS, TAB, ESC [ sequences */
void screen_render(bool now);                  /* draw what changed (now, or if it is time) */

/* ps2.c: the PS/2 keyboard (i8042), polled */
int ps2_getc_nowait(void);                     /* a byte typed, or -1 (also without a controller) */

/* arch.c */
void arch_init(void);
u64 time_ns(void);
u64 tsc_hz(void);
void wait_for_interrupt(void);                 /* sti; hlt; cli */
void poll_interrupts(void);                    /* sti; nop; cli */
void *map_identity(u64 phys, u64 size, bool uncached); /* NULL when out of page tables */
bool map_guest_memory(u32 slot, u64 phys, u64 bytes, const char *module); /* guest-memory.h */
void *map_framebuffer(u64 phys, u64 size);     /* write-combining where the CPU has PAT, else uncached */
void lapic_enable(void);
u32 lapic_id(void);
void pic_mask(u8 irq);
void pic_unmask(u8 irq);
extern void (*irq_handler)(u8 vector);         /* set by host.c */
_Noreturn void machine_poweroff(int code);    /* calls host_at_exit first */
_Noreturn void kernel_fail(int code);          /* cleanup (host_cleanup) and poweroff */
const u8 *acpi_table(const char sig[4]);       /* an ACPI table by signature, checksum checked; or NULL */
void acpi_note_region(u64 base, u64 bytes);     /* an ACPI region of the memory map, searched for the RSDP */
void lapic_eoi(void);

/* host.c */
void host_cleanup(void);                       /* clear bus mastering the guest enabled */
void host_at_exit(void);                       /* last words before poweroff: faults, bait page */
void fmt_bdf(char b[8], u32 bdf);              /* "bb:dd.f", as lspci prints it */

/* iommu.c: Intel VT-d DMA remapping, the devices' only view of memory when present */
#define IOMMU_FAULT_VECTOR 0x3E                /* the fault event interrupt (below the MSI lines) */
void iommu_init(u64 window, u64 window_bytes); /* before any guest code runs */
void iommu_attach(u32 bdf);                    /* a function the guest claimed: may DMA to the window */
void iommu_fault_event(void);                  /* from the interrupt handler: faults are waiting */
void iommu_poll(void);                         /* report recorded faults, if any (thread context) */
bool iommu_active(void);

/* PCI configuration mechanism #1. */
u32 pci_cfg_read(u32 bdf, u32 off);
void pci_cfg_write(u32 bdf, u32 off, u32 v);

#endif
