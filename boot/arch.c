/* The x86_64 machine: descriptor tables and exceptions, paging on demand, the 8259 PIC,
 * the local APIC, TSC time calibrated against the PIT, and poweroff (ACPI, isa-debug-exit). */
#include <string.h>
#include "kernel.h"
#include "guest-memory.h"

/* ---- descriptor tables --------------------------------------------------------------- */

struct __attribute__((packed)) tss64 {
  u32 rsv0;
  u64 rsp[3];
  u64 rsv1;
  u64 ist[7];
  u64 rsv2;
  u16 rsv3, iomap_base;
};

struct __attribute__((packed)) idt_entry {
  u16 off_lo, sel;
  u8 ist, type;
  u16 off_mid;
  u32 off_hi, zero;
};

struct frame {
  u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  u64 vector, error, rip, cs, rflags, rsp, ss;
};

extern u64 gdt64[];
extern u8 isr_stubs[];
extern u8 kernel_stack_guard[], kernel_stack_top[];
extern u64 boot_pml4[];

static struct tss64 tss;
static struct idt_entry idt[256] __attribute__((aligned(16)));
static u8 fault_stack[16384] __attribute__((aligned(16)));

void (*irq_handler)(u8 vector);

static void gdt_tss_init(void) {
  u64 base = (u64)(uintptr_t)&tss;
  u64 limit = sizeof(tss) - 1;
  tss.ist[0] = (u64)(uintptr_t)(fault_stack + sizeof(fault_stack));
  tss.iomap_base = sizeof(tss);
  gdt64[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ULL << 40) |
             (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
  gdt64[4] = base >> 32;
  __asm__ volatile("ltr %w0" ::"r"(0x18));
}

static void idt_init(void) {
  for (int v = 0; v < 256; v++) {
    u64 a = (u64)(uintptr_t)(isr_stubs + 16 * v);
    idt[v].off_lo = a & 0xFFFF;
    idt[v].sel = 0x08;
    /* #DF, #PF and #MC run on their own stack, so a kernel stack overflow is reported. */
    idt[v].ist = (v == 8 || v == 14 || v == 18 || v == 2) ? 1 : 0;
    idt[v].type = 0x8E;
    idt[v].off_mid = (a >> 16) & 0xFFFF;
    idt[v].off_hi = a >> 32;
    idt[v].zero = 0;
  }
  struct __attribute__((packed)) { u16 limit; u64 base; } d = { sizeof(idt) - 1, (u64)(uintptr_t)idt };
  __asm__ volatile("lidt %0" ::"m"(d));
}

static void guest_memory_fault(u64 cr2);
static void guest_stack_fault(u64 cr2, u64 rip);

static const char *const exc_names[32] = {
  "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
  "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
  "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
  "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check", "#MC machine check",
  "#XM SIMD floating point", "#VE virtualization", "#CP control protection",
};

static volatile int in_exception;

void isr_dispatch(struct frame *f) {
  if (f->vector >= 32) {
    if (irq_handler) irq_handler((u8)f->vector);
    return;
  }
  if (in_exception++) { /* an exception while reporting one: just stop */
    kputs("\nexception: nested exception while reporting\n");
    machine_poweroff(EXIT_EXCEPTION);
  }
  if (f->vector == 14) { /* a module's access past its memory or its stack: its trap, not an exception */
    u64 cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    guest_memory_fault(cr2);
    guest_stack_fault(cr2, f->rip);
  }
  const char *name = exc_names[f->vector] ? exc_names[f->vector] : "reserved";
  kprintf("\nexception: vector %u (%s) error=0x%lx rip=0x%lx rsp=0x%lx", (unsigned)f->vector, name,
          f->error, f->rip, f->rsp);
  if (f->vector == 14) {
    u64 cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    kprintf(" cr2=0x%lx", cr2);
    if (cr2 >= (u64)(uintptr_t)kernel_stack_guard && cr2 < (u64)(uintptr_t)kernel_stack_guard + 4096)
      kputs(" (kernel stack overflow)");
  }
  kputs("\n");
  kernel_fail(EXIT_EXCEPTION);
}

/* ---- paging ----------------------------------------------------------------------------- */

#define PTE_P 0x1ULL
#define PTE_W 0x2ULL
#define PTE_PWT 0x8ULL
#define PTE_PCD 0x10ULL
#define PTE_PS 0x80ULL
#define PTE_ADDR 0x000FFFFFFFFFF000ULL

static u64 pt_pool[96][512] __attribute__((aligned(4096)));
static int pt_used;

static u64 *pt_alloc(void) {
  if (pt_used >= (int)(sizeof(pt_pool) / sizeof(pt_pool[0]))) return NULL;
  u64 *p = pt_pool[pt_used++];
  memset(p, 0, 4096);
  return p;
}

/* The next-level table under entry e, creating it (or splitting a 2 MiB page into 4 KiB
 * pages with the same attributes) when needed. */
static u64 *pt_next(u64 *e, bool split_ok) {
  if (*e & PTE_P) {
    if (!(*e & PTE_PS)) return (u64 *)(uintptr_t)(*e & PTE_ADDR);
    if (!split_ok) return NULL;
    u64 *t = pt_alloc();
    if (!t) return NULL;
    u64 base = *e & 0x000FFFFFFFE00000ULL, flags = *e & 0x1F;
    for (int i = 0; i < 512; i++) t[i] = (base + (u64)i * 4096) | flags;
    *e = (u64)(uintptr_t)t | PTE_P | PTE_W;
    return t;
  }
  u64 *t = pt_alloc();
  if (!t) return NULL;
  *e = (u64)(uintptr_t)t | PTE_P | PTE_W;
  return t;
}

static void flush_tlb(void) {
  u64 cr3;
  __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3)::"memory");
}

/* Maps [phys, phys + size) at the same virtual address (x86_64's 47-bit lower half holds
 * any physical address QEMU gives a BAR). 2 MiB pages where a whole aligned 2 MiB fits,
 * else 4 KiB pages. Returns the pointer, or NULL when the page-table pool is used up. */
static void *map_with(u64 phys, u64 size, u64 cache_bits) {
  u64 flags = PTE_P | PTE_W | cache_bits;
  u64 a = phys & ~0xFFFULL, end = (phys + size + 0xFFF) & ~0xFFFULL;
  if (end > (1ULL << 47) || end <= a) return NULL;
  /* never into the modules' reservations, where every mapped page is a module's memory */
  if (end > GUEST_VA_BASE && a < GUEST_VA_BASE + (u64)GUEST_VA_SLOTS * GUEST_VA_STRIDE) return NULL;
  while (a < end) {
    u64 *pdpt = pt_next(&boot_pml4[(a >> 39) & 511], false);
    if (!pdpt) return NULL;
    u64 *pd = pt_next(&pdpt[(a >> 30) & 511], false);
    if (!pd) return NULL;
    u64 *pde = &pd[(a >> 21) & 511];
    if ((a & 0x1FFFFF) == 0 && end - a >= 0x200000 && !(*pde & PTE_P)) {
      *pde = a | flags | PTE_PS;
      a += 0x200000;
      continue;
    }
    if ((*pde & PTE_P) && (*pde & PTE_PS) && (*pde & 0x1F) == flags) { /* already right */
      a = (a & ~0x1FFFFFULL) + 0x200000;
      continue;
    }
    u64 *pt = pt_next(pde, true);
    if (!pt) return NULL;
    pt[(a >> 12) & 511] = a | flags;
    a += 0x1000;
  }
  flush_tlb();
  return (void *)(uintptr_t)phys;
}

void *map_identity(u64 phys, u64 size, bool uncached) {
  return map_with(phys, size, uncached ? PTE_PCD | PTE_PWT : 0);
}

/* A framebuffer is written, never read, a glyph's pixels one after another: write-combining makes
 * that fast where uncached memory is one bus write a pixel (Intel SDM vol. 3, 11.12 "Page
 * Attribute Table"). Entry 1 of the PAT (PWT alone; the power-on value is write-through) becomes
 * write-combining; no other mapping of this kernel uses it. Without PAT: uncached. */
#define CPUID_1_EDX_PAT (1u << 16)
#define MSR_PAT 0x277
#define PAT_ENTRY_BITS 8
#define PAT_WRITE_COMBINING 0x01ULL

static bool pat_write_combining(void) {
  static bool done, ok;
  if (done) return ok;
  done = true;
  u32 a = 1, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  if (!(d & CPUID_1_EDX_PAT)) return false;
  u64 pat = rdmsr(MSR_PAT);
  pat = (pat & ~(0xFFULL << PAT_ENTRY_BITS)) | PAT_WRITE_COMBINING << PAT_ENTRY_BITS;
  wrmsr(MSR_PAT, pat);
  flush_tlb();
  ok = true;
  return ok;
}

void *map_framebuffer(u64 phys, u64 size) {
  return map_with(phys, size, pat_write_combining() ? PTE_PWT : PTE_PCD | PTE_PWT);
}

static void unmap_page(u64 va) {
  u64 *pdpt = pt_next(&boot_pml4[(va >> 39) & 511], false);
  u64 *pd = pdpt ? pt_next(&pdpt[(va >> 30) & 511], false) : NULL;
  u64 *pt = pd ? pt_next(&pd[(va >> 21) & 511], true) : NULL;
  if (pt) pt[(va >> 12) & 511] = 0;
  flush_tlb();
}

/* ---- guard-page reservations of the modules' memories (guest-memory.h) ------------------- */

static const char *slot_module[GUEST_VA_SLOTS]; /* the module whose memory a slot maps, once */

/* Maps module memory [phys, phys + bytes) at its slot's reservation, read/write, write-back like
 * the identity mapping of the same arena; the rest of the reservation stays unmapped. 2 MiB pages
 * where both addresses are 2 MiB-aligned and 2 MiB remain, else 4 KiB pages. False if the slot is
 * taken or out of range, the memory is not page-granular or larger than a reservation, or the
 * page-table pool is used up. */
bool map_guest_memory(u32 slot, u64 phys, u64 bytes, const char *module) {
  if (slot >= GUEST_VA_SLOTS || slot_module[slot] || bytes == 0 || bytes > GUEST_VA_STRIDE / 2 ||
      ((phys | bytes) & 0xFFF) != 0)
    return false;
  u64 va = GUEST_VA_BASE + (u64)slot * GUEST_VA_STRIDE, end = va + bytes;
  for (u64 off = 0; va + off < end;) {
    u64 a = va + off, p = phys + off;
    u64 *pdpt = pt_next(&boot_pml4[(a >> 39) & 511], false);
    u64 *pd = pdpt ? pt_next(&pdpt[(a >> 30) & 511], false) : NULL;
    if (!pd) return false;
    u64 *pde = &pd[(a >> 21) & 511];
    if (((a | p) & 0x1FFFFF) == 0 && end - a >= 0x200000 && !(*pde & PTE_P)) {
      *pde = p | PTE_P | PTE_W | PTE_PS;
      off += 0x200000;
      continue;
    }
    u64 *pt = pt_next(pde, false);
    if (!pt) return false;
    pt[(a >> 12) & 511] = p | PTE_P | PTE_W;
    off += 0x1000;
  }
  slot_module[slot] = module;
  flush_tlb();
  return true;
}

/* A page fault inside a module's reservation is an access past its memory (the generated code
 * reaches nothing else there): that module's trap, with the same line and cleanup as wasm2c's
 * own bounds check (runtime.c's wasm_rt_trap). Any other page fault is reported as an exception. */
static void guest_memory_fault(u64 cr2) {
  if (cr2 < GUEST_VA_BASE || cr2 >= GUEST_VA_BASE + (u64)GUEST_VA_SLOTS * GUEST_VA_STRIDE) return;
  u32 slot = (u32)((cr2 - GUEST_VA_BASE) / GUEST_VA_STRIDE);
  if (!slot_module[slot]) return;
  kputs("trap: out of bounds memory access\n");
  kernel_fail(EXIT_TRAP);
}

/* The modules' code compiled with guard pages (guest-memory.h) is in section guest_text, and
 * counts no calls: a fault on the kernel stack's guard page with the instruction there is a
 * module's runaway recursion, reported as wasm2c's counter would (`trap: call stack exhausted`,
 * exit 125, the usual cleanup). At the guard page from kernel code (an import or an interrupt
 * handler called at the deepest point) it stays a kernel stack overflow (exit 126). Weak: a
 * kernel without such code (probe builds of other wasm2c versions) has no section. */
extern const u8 __start_guest_text[] __attribute__((weak));
extern const u8 __stop_guest_text[] __attribute__((weak));

static void guest_stack_fault(u64 cr2, u64 rip) {
  u64 guard = (u64)(uintptr_t)kernel_stack_guard;
  if (cr2 < guard || cr2 >= guard + 4096) return;
  if (rip < (u64)(uintptr_t)__start_guest_text || rip >= (u64)(uintptr_t)__stop_guest_text) return;
  kputs("trap: call stack exhausted\n");
  kernel_fail(EXIT_TRAP);
}

/* ---- 8259 PIC ----------------------------------------------------------------------------- */

static u16 pic_masks = 0xFFFF;

static void pic_write_masks(void) {
  outb(0x21, pic_masks & 0xFF);
  outb(0xA1, pic_masks >> 8);
}
void pic_mask(u8 irq) { pic_masks |= 1u << irq; pic_write_masks(); }
void pic_unmask(u8 irq) {
  pic_masks &= ~(1u << irq);
  if (irq >= 8) pic_masks &= ~(1u << 2); /* cascade */
  pic_write_masks();
}

static void pic_init(void) {
  outb(0x20, 0x11); outb(0xA0, 0x11);   /* ICW1: init, ICW4 follows */
  outb(0x21, 0x20); outb(0xA1, 0x28);   /* vectors 0x20..0x2F */
  outb(0x21, 0x04); outb(0xA1, 0x02);   /* cascade on IRQ2 */
  outb(0x21, 0x01); outb(0xA1, 0x01);   /* 8086 mode */
  pic_write_masks();                    /* all masked; ELCR (level PCI lines) left as the BIOS set it */
}

/* ---- local APIC --------------------------------------------------------------------------- */

static volatile u32 *lapic;

void lapic_enable(void) {
  if (lapic) return;
  u64 base = rdmsr(0x1B);
  wrmsr(0x1B, base | (1 << 11));
  lapic = map_identity(base & 0xFFFFFF000ULL, 4096, true);
  if (!lapic) { kputs("boot: cannot map the local APIC\n"); return; }
  lapic[0x80 / 4] = 0;            /* TPR: accept everything */
  lapic[0xF0 / 4] = 0x100 | 0xFF; /* SVR: software enable, spurious vector 0xFF */
}

u32 lapic_id(void) { return lapic ? lapic[0x20 / 4] >> 24 : 0; }
void lapic_eoi(void) { if (lapic) lapic[0xB0 / 4] = 0; }

/* ---- time: TSC calibrated against PIT channel 2, PIT channel 0 ticks wake hlt ---------- */

static u64 tsc0, tsc_freq, ns_mult; /* ns = ticks * ns_mult >> 32 */

static u64 calibrate_tsc(void) {
  const u32 count = 11932; /* 10 ms at 1.193182 MHz */
  u8 p = inb(0x61);
  outb(0x61, (p & ~0x02) | 0x01); /* speaker off, gate on */
  outb(0x43, 0xB0);               /* channel 2, lobyte/hibyte, mode 0 */
  outb(0x42, count & 0xFF);
  outb(0x42, count >> 8);
  p = inb(0x61) & ~0x01;
  outb(0x61, p);                  /* restart the count with a gate edge */
  outb(0x61, p | 0x01);
  u64 t0 = rdtsc();
  u32 spins = 0;
  while (!(inb(0x61) & 0x20)) { if (++spins > 100000000) break; }
  u64 t1 = rdtsc();
  return (t1 - t0) * 1193182ULL / count;
}

u64 time_ns(void) {
  u64 d = rdtsc() - tsc0;
  return (u64)(((unsigned __int128)d * ns_mult) >> 32);
}
u64 tsc_hz(void) { return tsc_freq; }

void wait_for_interrupt(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
void poll_interrupts(void) { __asm__ volatile("sti; nop; cli" ::: "memory"); }

/* ---- ACPI tables (ACPI 6.4 section 5.2) ------------------------------------------------------ */

#define RSDP_SIG "RSD PTR "
#define RSDP_REVISION 15          /* u8: 0 = ACPI 1.0 (RSDT only), 2+ = XSDT present */
#define RSDP_RSDT 16              /* u32 RSDT address */
#define RSDP_XSDT 24              /* u64 XSDT address (revision 2+) */
#define RSDP_V1_BYTES 20          /* the part the first checksum covers */
#define SDT_LENGTH 4              /* u32 in every table header */
#define SDT_HEADER_BYTES 36
#define SDT_MAX_BYTES (1u << 20)  /* larger is not a table QEMU or a BIOS would build */
#define FADT_PM1A_CNT_BLK 64      /* u32 I/O port of PM1a_CNT (5.2.9) */

static bool sig_eq(const void *p, const char *s, int n) { return memcmp(p, s, n) == 0; }

static bool checksum_ok(const u8 *p, u32 len) {
  u8 sum = 0;
  for (u32 i = 0; i < len; i++) sum += p[i];
  return sum == 0;
}

/* A UEFI firmware has no legacy BIOS areas, and a multiboot v1 loader (GRUB) does not hand over the
 * RSDP's address, so the memory map's ACPI regions are searched too: host.c notes the reclaimable
 * and NVS ones below 4 GiB at boot (acpi_note_region), before anything could overwrite the map.
 * OVMF keeps its RSDP in such a region. At most ACPI_REGIONS_MAX regions, each searched up to
 * ACPI_REGION_SCAN_MAX bytes: the search is bounded whatever the map says. */
#define ACPI_REGIONS_MAX 16
#define ACPI_REGION_SCAN_MAX (16ULL << 20)
static struct { u64 base, bytes; } acpi_regions[ACPI_REGIONS_MAX];
static u32 acpi_region_count;

void acpi_note_region(u64 base, u64 bytes) {
  if (acpi_region_count == ACPI_REGIONS_MAX || bytes == 0 || base >= (1ULL << 32)) return;
  if (bytes > ACPI_REGION_SCAN_MAX) bytes = ACPI_REGION_SCAN_MAX;
  if (base + bytes > (1ULL << 32)) bytes = (1ULL << 32) - base;
  acpi_regions[acpi_region_count].base = base;
  acpi_regions[acpi_region_count].bytes = bytes;
  acpi_region_count++;
}

static const u8 *rsdp_in(const u8 *from, const u8 *to) {
  for (const u8 *p = from; p + RSDP_V1_BYTES <= to; p += 16)
    if (sig_eq(p, RSDP_SIG, 8) && checksum_ok(p, RSDP_V1_BYTES)) return p;
  return NULL;
}

/* The RSDP sits on a 16-byte boundary in the EBDA's first KiB or in 0xE0000..0xFFFFF (5.2.5.1),
 * or, on a UEFI machine, in one of the ACPI regions noted above. */
static const u8 *find_rsdp(void) {
  u16 ebda = *(volatile u16 *)0x40E;
  const u8 *p = rsdp_in((const u8 *)((uintptr_t)ebda << 4), (const u8 *)((uintptr_t)(ebda << 4) + 1024));
  if (!p) p = rsdp_in((const u8 *)0xE0000, (const u8 *)0x100000);
  for (u32 i = 0; !p && i < acpi_region_count; i++) {
    u64 base = acpi_regions[i].base & ~15ULL, bytes = acpi_regions[i].bytes;
    const u8 *r = map_identity(base, bytes, false);
    if (r) p = rsdp_in(r, r + bytes);
  }
  return p;
}

/* Maps a table (cached: it is RAM) and checks its length and checksum. */
static const u8 *map_table(u64 addr) {
  const u8 *h = map_identity(addr, SDT_HEADER_BYTES, false);
  if (!h) return NULL;
  u32 len = *(const u32 *)(h + SDT_LENGTH);
  if (len < SDT_HEADER_BYTES || len > SDT_MAX_BYTES || !map_identity(addr, len, false)) return NULL;
  return checksum_ok(h, len) ? h : NULL;
}

const u8 *acpi_table(const char sig[4]) {
  const u8 *rsdp = find_rsdp();
  if (!rsdp) return NULL;
  bool xsdt = rsdp[RSDP_REVISION] >= 2 && *(const u64 *)(rsdp + RSDP_XSDT) != 0;
  const u8 *root = map_table(xsdt ? *(const u64 *)(rsdp + RSDP_XSDT) : *(const u32 *)(rsdp + RSDP_RSDT));
  if (!root || !sig_eq(root, xsdt ? "XSDT" : "RSDT", 4)) return NULL;
  u32 len = *(const u32 *)(root + SDT_LENGTH), step = xsdt ? 8 : 4;
  for (u32 o = SDT_HEADER_BYTES; o + step <= len; o += step) {
    u64 addr = xsdt ? *(const u64 *)(root + o) : *(const u32 *)(root + o);
    const u8 *t = map_table(addr);
    if (t && sig_eq(t, sig, 4)) return t;
  }
  return NULL;
}

/* ---- poweroff ------------------------------------------------------------------------------ */

static u16 acpi_pm1a_cnt;

static void acpi_find_pm1a(void) {
  const u8 *fadt = acpi_table("FACP");
  if (fadt) acpi_pm1a_cnt = (u16)*(const u32 *)(fadt + FADT_PM1A_CNT_BLK);
}

_Noreturn void machine_poweroff(int code) {
  __asm__ volatile("cli");
  static bool leaving;
  if (!leaving) { /* once: host_at_exit may itself fail and land here again */
    leaving = true;
    host_at_exit();
  }
  if (code == 0) {
    /* ACPI S5: SLP_TYP is 0 in QEMU's \_S5 (pc and q35), SLP_EN is bit 13. */
    outw(acpi_pm1a_cnt ? acpi_pm1a_cnt : 0x604, 0 << 10 | 1 << 13);
    u64 until = rdtsc() + tsc_freq / 5;
    while (rdtsc() < until) cpu_relax();
    kputs("poweroff: ACPI poweroff did not stop the machine\n");
    outl(0xF4, 0); /* QEMU exits 1: not a clean 0, but at least it stops */
  } else {
    u32 v = (code < 1 || code > 127) ? 127 : (u32)code;
    outl(0xF4, v); /* isa-debug-exit: QEMU exits with (v << 1) | 1 */
  }
  kputs("poweroff: halted\n");
  for (;;) __asm__ volatile("cli; hlt");
}

_Noreturn void kernel_fail(int code) {
  host_cleanup();
  machine_poweroff(code);
}

/* ---- set-up -------------------------------------------------------------------------------- */

void arch_init(void) {
  gdt_tss_init();
  idt_init();
  unmap_page((u64)(uintptr_t)kernel_stack_guard);
  pic_init();
  /* Under TCG a measurement can only come out long (the vCPU thread was descheduled while
   * polling), so the smallest of three is the best. */
  tsc_freq = calibrate_tsc();
  for (int i = 0; i < 2; i++) { u64 f = calibrate_tsc(); if (f < tsc_freq) tsc_freq = f; }
  if (tsc_freq < 1000000) tsc_freq = 1000000000ULL; /* nonsense: assume 1 GHz rather than divide by 0 */
  ns_mult = (1000000000ULL << 32) / tsc_freq;
  tsc0 = rdtsc();
  /* PIT channel 0, rate generator at 1 kHz: only there to wake `hlt` in waits. */
  outb(0x43, 0x34);
  outb(0x40, 1193 & 0xFF);
  outb(0x40, 1193 >> 8);
  pic_unmask(0);
  acpi_find_pm1a();
}
