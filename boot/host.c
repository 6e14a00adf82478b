/* The guest's imports (docs/abi.md) on bare metal, and kmain, which instantiates the
 * wasm2c-translated guest and calls its main(). Generated names differ between wabt
 * releases: Z_envZ_<name> up to 1.0.32, w2c_env_<name> from 1.0.33 (build.sh passes
 * -DW2C_NEW_NAMES=1 then). */
#include <string.h>
#include "kernel.h"
#include "nvme.h"

#if W2C_NEW_NAMES
#define IMPORT(name) w2c_env_##name
#define ENV_TAG w2c_env
typedef w2c_nvme guest_t;
#define GUEST_INSTANTIATE(g, e) wasm2c_nvme_instantiate(g, e)
#define GUEST_MAIN(g) w2c_nvme_main(g)
#else
#define IMPORT(name) Z_envZ_##name
#define ENV_TAG Z_env_instance_t
typedef Z_nvme_instance_t guest_t;
#define GUEST_INSTANTIATE(g, e) (Z_nvme_init_module(), Z_nvme_instantiate(g, e))
#define GUEST_MAIN(g) Z_nvmeZ_main(g)
#endif

#define ARENA_SIZE (256u * 65536u)

/* The guest's linear memory: one static, 4 KiB-aligned arena inside the identity-mapped
 * low gigabyte, so its physical address is its address and DMA can point straight at it. */
u8 guest_arena[ARENA_SIZE] __attribute__((aligned(4096)));

/* wasm2c hands every import this instance pointer; ours holds the imported memory. */
struct ENV_TAG { wasm_rt_memory_t memory; };
typedef struct ENV_TAG env_t;

static env_t env;
static guest_t guest;

wasm_rt_memory_t *IMPORT(memory)(env_t *e) { return &e->memory; }

/* ---- traps ----------------------------------------------------------------------------- */

_Noreturn static void host_trap(const char *what) {
  kprintf("trap: %s\n", what);
  kernel_fail(EXIT_TRAP);
}

static u8 *guest_range(u32 ptr, u64 len, const char *who) {
  if ((u64)ptr + len > env.memory.size) {
    kprintf("trap: out of bounds memory access (%s: ptr=0x%x len=%lu)\n", who, ptr, len);
    kernel_fail(EXIT_TRAP);
  }
  return env.memory.data + ptr;
}

/* ---- boot command line ------------------------------------------------------------------- */

static char boot_cmdline[4096];
static u32 boot_cmdline_len;

static u32 mem_upper_kib;

static void save_cmdline(u32 magic, u32 info) {
  if (magic != 0x2BADB002) return;
  const u32 *mbi = (const u32 *)(uintptr_t)info;
  if (mbi[0] & 1) mem_upper_kib = mbi[2];
  if (!(mbi[0] & (1 << 2)) || !mbi[4]) return;
  const char *s = (const char *)(uintptr_t)mbi[4];
  /* QEMU passes "<kernel path> <-append text>", as GRUB does: drop the first word. */
  while (*s && *s != ' ') s++;
  if (*s == ' ') s++;
  u32 n = 0;
  while (s[n] && n < sizeof(boot_cmdline) - 1) { boot_cmdline[n] = s[n]; n++; }
  boot_cmdline_len = n;
}

/* ---- console ------------------------------------------------------------------------------ */

void IMPORT(console_write)(env_t *e, u32 ptr, u32 len) {
  (void)e;
  const u8 *p = guest_range(ptr, len, "console_write");
  console_write_bytes((const char *)p, len);
}

static u64 deadline_after(u64 timeout_ns) {
  u64 now = time_ns();
  return timeout_ns > ~0ULL - now ? ~0ULL : now + timeout_ns;
}

u32 IMPORT(console_read)(env_t *e, u32 ptr, u32 cap, u64 timeout_ns) {
  (void)e;
  u8 *p = guest_range(ptr, cap, "console_read");
  u64 deadline = deadline_after(timeout_ns);
  for (;;) {
    u32 n = 0;
    int c;
    while (n < cap && (c = serial_getc_nowait()) >= 0) p[n++] = (u8)c;
    if (n || cap == 0) return n;
    if (time_ns() >= deadline) return 0;
    wait_for_interrupt(); /* the 1 kHz PIT tick wakes us to poll again */
  }
}

u32 IMPORT(cmdline)(env_t *e, u32 ptr, u32 cap) {
  (void)e;
  u8 *p = guest_range(ptr, cap, "cmdline");
  memcpy(p, boot_cmdline, cap < boot_cmdline_len ? cap : boot_cmdline_len);
  return boot_cmdline_len;
}

/* ---- time ---------------------------------------------------------------------------------- */

u64 IMPORT(now_ns)(env_t *e) { (void)e; return time_ns(); }
void IMPORT(relax)(env_t *e) { (void)e; cpu_relax(); }

/* ---- PCI ----------------------------------------------------------------------------------- */

u32 pci_cfg_read(u32 bdf, u32 off) {
  outl(0xCF8, 0x80000000u | (bdf << 8) | (off & 0xFC));
  return inl(0xCFC);
}
void pci_cfg_write(u32 bdf, u32 off, u32 v) {
  outl(0xCF8, 0x80000000u | (bdf << 8) | (off & 0xFC));
  outl(0xCFC, v);
}

static u8 claimed[65536 / 8];     /* functions the guest has read: it may write to those */
static u8 bus_master[65536 / 8];  /* functions where the guest set Bus Master Enable */
static bool bit(const u8 *m, u32 i) { return m[i >> 3] & (1u << (i & 7)); }
static void set_bit(u8 *m, u32 i) { m[i >> 3] |= 1u << (i & 7); }

static void check_cfg(u32 bdf, u32 off, const char *who) {
  if (bdf > 0xFFFF || off > 252 || (off & 3)) {
    kprintf("trap: pci: %s bdf=0x%x off=0x%x: bdf must be < 0x10000, off dword-aligned and < 256\n", who, bdf, off);
    kernel_fail(EXIT_TRAP);
  }
}

static void fmt_bdf(char *b, u32 bdf) {
  const char *h = "0123456789abcdef";
  u32 bus = bdf >> 8, dev = (bdf >> 3) & 31, fn = bdf & 7;
  b[0] = h[bus >> 4]; b[1] = h[bus & 15]; b[2] = ':'; b[3] = h[dev >> 4]; b[4] = h[dev & 15];
  b[5] = '.'; b[6] = h[fn]; b[7] = 0;
}

u32 IMPORT(pci_read32)(env_t *e, u32 bdf, u32 off) {
  (void)e;
  check_cfg(bdf, off, "pci_read32");
  set_bit(claimed, bdf);
  return pci_cfg_read(bdf, off);
}

static bool is_bar_offset(u32 bdf, u32 off) {
  u32 type = (pci_cfg_read(bdf, 0x0C) >> 16) & 0x7F;
  if (type == 0) return (off >= 0x10 && off <= 0x24) || off == 0x30;
  if (type == 1) return off == 0x10 || off == 0x14 || off == 0x38;
  return false;
}

void IMPORT(pci_write32)(env_t *e, u32 bdf, u32 off, u32 v) {
  (void)e;
  check_cfg(bdf, off, "pci_write32");
  if (!bit(claimed, bdf)) return;        /* not a function the guest enumerated */
  if (is_bar_offset(bdf, off)) return;   /* BARs stay where the firmware put them */
  if (off == 0x04 && (v & 0x4)) set_bit(bus_master, bdf);
  pci_cfg_write(bdf, off, v);
}

void host_cleanup(void) {
  for (u32 bdf = 0; bdf < 65536; bdf++) {
    if (!bit(bus_master, bdf)) continue;
    u32 cmd = pci_cfg_read(bdf, 0x04) & 0xFFFF;
    if (!(cmd & 0x4)) continue;
    pci_cfg_write(bdf, 0x04, cmd & ~0x4u);
    char b[8];
    fmt_bdf(b, bdf);
    kprintf("host: bus mastering cleared on %s\n", b);
  }
}

/* ---- MMIO ---------------------------------------------------------------------------------- */

struct mapping { u32 bdf, bar; u64 phys, size; volatile u8 *virt; };
static struct mapping maps[32];
static int nmaps;

u32 IMPORT(mmio_map)(env_t *e, u32 bdf, u32 bar) {
  (void)e;
  if (bdf > 0xFFFF || bar > 5) return (u32)-1;
  for (int i = 0; i < nmaps; i++)
    if (maps[i].bdf == bdf && maps[i].bar == bar) return i + 1;
  if ((pci_cfg_read(bdf, 0) & 0xFFFF) == 0xFFFF) return (u32)-1;
  u32 type = (pci_cfg_read(bdf, 0x0C) >> 16) & 0x7F;
  if ((type == 0 && bar > 5) || (type == 1 && bar > 1) || type > 1) return (u32)-2;
  u32 off = 0x10 + 4 * bar;
  u32 lo = pci_cfg_read(bdf, off);
  if (lo & 1) return (u32)-2; /* an I/O BAR */
  bool is64 = ((lo >> 1) & 3) == 2;
  if (is64 && bar == (type == 0 ? 5u : 1u)) return (u32)-2;
  /* Size it with decoding off, then put everything back. */
  u32 cmd = pci_cfg_read(bdf, 0x04);
  pci_cfg_write(bdf, 0x04, cmd & ~0x3u & 0xFFFF);
  pci_cfg_write(bdf, off, 0xFFFFFFFF);
  u32 szlo = pci_cfg_read(bdf, off);
  pci_cfg_write(bdf, off, lo);
  u32 hi = 0, szhi = 0xFFFFFFFF;
  if (is64) {
    hi = pci_cfg_read(bdf, off + 4);
    pci_cfg_write(bdf, off + 4, 0xFFFFFFFF);
    szhi = pci_cfg_read(bdf, off + 4);
    pci_cfg_write(bdf, off + 4, hi);
  }
  pci_cfg_write(bdf, 0x04, cmd & 0xFFFF);
  u64 base = ((u64)hi << 32) | (lo & ~0xFu);
  u64 mask = ((u64)szhi << 32) | (szlo & ~0xFu);
  u64 size = ~mask + 1;
  if (base == 0 || (szlo & ~0xFu) == 0 || size == 0) return (u32)-2;
  if (nmaps == (int)(sizeof(maps) / sizeof(maps[0]))) return (u32)-3;
  void *v = map_identity(base, size, true);
  if (!v) return (u32)-3;
  maps[nmaps] = (struct mapping){ bdf, bar, base, size, v };
  return ++nmaps;
}

static struct mapping *mapping_of(u32 h, const char *who) {
  if (h < 1 || h > (u32)nmaps) {
    kprintf("trap: mmio: %s: bad handle %d\n", who, (s32)h);
    kernel_fail(EXIT_TRAP);
  }
  return &maps[h - 1];
}

u32 IMPORT(mmio_size)(env_t *e, u32 h) {
  (void)e;
  struct mapping *m = mapping_of(h, "mmio_size");
  return m->size > 0x80000000ULL ? 0x80000000u : (u32)m->size;
}

static volatile u32 *mmio_reg(u32 h, u32 off, const char *who) {
  struct mapping *m = mapping_of(h, who);
  if ((off & 3) || (u64)off + 4 > m->size) {
    char b[8];
    fmt_bdf(b, m->bdf);
    kprintf("trap: mmio: %s offset 0x%x %s BAR%u of %s (size 0x%lx)\n", who, off,
            (off & 3) ? "is not dword-aligned in" : "is outside", m->bar, b, m->size);
    kernel_fail(EXIT_TRAP);
  }
  return (volatile u32 *)(m->virt + off);
}

u32 IMPORT(mmio_read32)(env_t *e, u32 h, u32 off) { (void)e; return *mmio_reg(h, off, "mmio_read32"); }
void IMPORT(mmio_write32)(env_t *e, u32 h, u32 off, u32 v) { (void)e; *mmio_reg(h, off, "mmio_write32") = v; }

u64 IMPORT(dma_address)(env_t *e, u32 ptr, u32 len) {
  (void)e;
  if ((u64)ptr + len > env.memory.size) return 0;
  return (u64)(uintptr_t)env.memory.data + ptr;
}

/* ---- interrupts ---------------------------------------------------------------------------- */

#define MSI_VECTOR_BASE 0x40
struct line { bool used; u32 mode, bdf; u8 irq, vector; };
static struct line lines[32];
static volatile u32 irq_pending;
void lapic_eoi(void);

static void on_irq(u8 vector) {
  if (vector >= 0x20 && vector < 0x30) {
    u8 irq = vector - 0x20;
    if (irq == 7 || irq == 15) { /* spurious? check the in-service register */
      u16 port = irq == 7 ? 0x20 : 0xA0;
      outb(port, 0x0B);
      if (!(inb(port) & 0x80)) { if (irq == 15) outb(0x20, 0x20); return; }
    }
    bool ours = false;
    for (int i = 0; i < 32; i++)
      if (lines[i].used && lines[i].mode == 0 && lines[i].irq == irq) { irq_pending |= 1u << i; ours = true; }
    if (ours) pic_mask(irq); /* level-triggered INTx: masked until irq_ack */
    if (irq >= 8) outb(0xA0, 0x20);
    outb(0x20, 0x20);
    return;
  }
  if (vector >= MSI_VECTOR_BASE && vector < MSI_VECTOR_BASE + 32) {
    irq_pending |= 1u << (vector - MSI_VECTOR_BASE);
    lapic_eoi();
  }
  /* 0xFF: the APIC's spurious vector, no EOI. */
}

u32 IMPORT(irq_attach)(env_t *e, u32 bdf, u32 mode) {
  (void)e;
  if (bdf > 0xFFFF || (pci_cfg_read(bdf, 0) & 0xFFFF) == 0xFFFF || mode > 1) return (u32)-1;
  for (int i = 0; i < 32; i++)
    if (lines[i].used && lines[i].bdf == bdf && lines[i].mode == mode) return (u32)i;
  int i = 0;
  while (i < 32 && lines[i].used) i++;
  if (i == 32) return (u32)-1;
  if (mode == 0) {
    u32 r = pci_cfg_read(bdf, 0x3C);
    u8 irq = r & 0xFF, pin = (r >> 8) & 0xFF;
    if (pin == 0 || irq == 0 || irq >= 16 || irq == 2) return (u32)-1;
    lines[i] = (struct line){ true, 0, bdf, irq, 0x20 + irq };
    pic_unmask(irq);
  } else {
    lapic_enable();
    lines[i] = (struct line){ true, 1, bdf, 0, (u8)(MSI_VECTOR_BASE + i) };
  }
  return (u32)i;
}

u64 IMPORT(irq_msi_address)(env_t *e, u32 line) {
  (void)e;
  if (line >= 32 || !lines[line].used || lines[line].mode != 1) return 0;
  return 0xFEE00000ULL | ((u64)lapic_id() << 12);
}

u32 IMPORT(irq_msi_data)(env_t *e, u32 line) {
  (void)e;
  if (line >= 32 || !lines[line].used || lines[line].mode != 1) return 0;
  return lines[line].vector; /* fixed delivery, edge */
}

u32 IMPORT(irq_wait)(env_t *e, u64 timeout_ns) {
  (void)e;
  u64 deadline = deadline_after(timeout_ns);
  for (;;) {
    poll_interrupts();
    u32 p = irq_pending;
    if (p) { irq_pending = 0; return p; }
    if (time_ns() >= deadline) return 0;
    wait_for_interrupt();
  }
}

void IMPORT(irq_ack)(env_t *e, u32 line) {
  (void)e;
  if (line >= 32 || !lines[line].used) return;
  if (lines[line].mode == 0) pic_unmask(lines[line].irq);
}

/* ---- the end ------------------------------------------------------------------------------- */

void IMPORT(poweroff)(env_t *e, u32 code) {
  (void)e;
  if (code != 0) host_cleanup();
  machine_poweroff((s32)code);
}

static void print_utf16(u32 ptr) {
  if (ptr < 4 || ptr > env.memory.size) { kputs("(null)"); return; }
  u32 bytes = *(const u32 *)(env.memory.data + ptr - 4);
  if ((u64)ptr + bytes > env.memory.size) { kputs("(bad string)"); return; }
  const u8 *p = env.memory.data + ptr;
  for (u32 i = 0; i + 1 < bytes; i += 2) {
    u16 c = p[i] | (p[i + 1] << 8);
    console_putc(c >= 0x20 && c < 0x7F ? (char)c : '?');
  }
}

void IMPORT(abort)(env_t *e, u32 msg, u32 file, u32 line, u32 col) {
  (void)e;
  kputs("trap: abort: ");
  print_utf16(msg);
  kputs(" at ");
  print_utf16(file);
  kprintf(":%u:%u\n", line, col);
  kernel_fail(EXIT_TRAP);
}

/* ---- self-test hooks: `-append "boot.fault=pf|ud|stack"` makes the kernel fault on purpose,
 * so test/qemu/kernel.test.js can check that CPU exceptions are reported, not triple faults. */

static volatile u64 sink;
__attribute__((noinline)) static u64 recurse(u64 n) {
  volatile u8 pad[256];
  pad[0] = (u8)n;
  if (n == ~0ULL) return 0;
  return recurse(n + 1) + pad[0];
}

static void self_test_fault(void) {
  const char *p = "boot.fault=";
  if (boot_cmdline_len < 11 || memcmp(boot_cmdline, p, 11) != 0) return;
  const char *what = boot_cmdline + 11;
  kprintf("boot: deliberate fault: %s\n", what);
  if (!memcmp(what, "pf", 2)) sink = *(volatile u64 *)(uintptr_t)0x7FFF00000000ULL;
  if (!memcmp(what, "ud", 2)) __asm__ volatile("ud2");
  if (!memcmp(what, "stack", 5)) sink = recurse(0);
  if (!memcmp(what, "reset", 5)) { /* a triple fault: no IDT at all, then a fault */
    struct __attribute__((packed)) { u16 limit; u64 base; } none = { 0, 0 };
    __asm__ volatile("lidt %0; ud2" ::"m"(none));
  }
}

/* A triple fault resets the machine and QEMU boots us again, forever (and -no-reboot would
 * make it exit 0, like a success). RAM survives a reset and the loader re-copies only the
 * image, so a marker outside it tells a second boot of the same QEMU run from a first. */
#define REBOOT_MARKER_ADDR 0x3F00000ULL /* 63 MiB: beyond the image and the multiboot data */
#define REBOOT_MARKER 0x6E766D657761736DULL

static void check_reboot(void) {
  if ((u64)mem_upper_kib * 1024 + 0x100000 < REBOOT_MARKER_ADDR + 4096) return; /* not enough RAM */
  volatile u64 *m = (volatile u64 *)(uintptr_t)REBOOT_MARKER_ADDR;
  if (*m == REBOOT_MARKER) {
    kputs("boot: this QEMU run booted the kernel a second time: the first ended in a reset (triple fault?)\n");
    machine_poweroff(EXIT_EXCEPTION);
  }
  *m = REBOOT_MARKER;
}

/* ---- kmain --------------------------------------------------------------------------------- */

void kmain(u32 magic, u32 info) {
  serial_init();
  save_cmdline(magic, info); /* before anything else could overwrite the multiboot info */
  arch_init();
  check_reboot();
  irq_handler = on_irq;
  memset(guest_arena, 0, sizeof(guest_arena));
  env.memory = (wasm_rt_memory_t){ .data = guest_arena, .pages = 256, .max_pages = 256, .size = ARENA_SIZE };
  kprintf("boot: nvme-wasm bare-metal host, tsc %lu MHz, memory at 0x%lx\n", tsc_hz() / 1000000,
          (u64)(uintptr_t)guest_arena);
  self_test_fault();
  wasm_rt_init();
  GUEST_INSTANTIATE(&guest, &env);
  u32 code = GUEST_MAIN(&guest);
  kprintf("boot: main returned %u without poweroff\n", code);
  if (code) host_cleanup();
  machine_poweroff((int)code);
}
