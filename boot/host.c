/* The bare-metal host of the guest modules: their `env` imports (docs/abi.md), the `blk` client
 * interface that links shell.wasm to the driver (docs/block-interface.md, the same as
 * host/block-link.js does under Node), and kmain.
 *
 * Two modules run here, each with its own memory: the driver (build/nvme.wasm, wasm2c -n nvme),
 * which owns the hardware, and a client (build/shell.wasm, wasm2c -n shell), which reaches it only
 * through `blk`. wasm2c hands every import the env instance of the module calling it, and each
 * instance holds that module's memory, so one C function serves both modules.
 *
 * Probe mode (build.sh passes -DGUEST_HAS_MAIN=1): a single module that exports main() itself
 * (test/qemu/kernel.test.js's probes) runs alone with the driver's imports; there is no client.
 *
 * Generated names differ between wabt releases (Z_envZ_<name> up to 1.0.32, w2c_env_<name> from
 * 1.0.33, -DW2C_NEW_NAMES=1): nvme_wasm.h maps them. */
#include <string.h>
#include "kernel.h"
#include "nvme_wasm.h"
#include "nvme.h"

#ifndef GUEST_HAS_MAIN
#define GUEST_HAS_MAIN 0
#endif
#if !GUEST_HAS_MAIN
#include "shell.h"
#endif

#define IMPORT(name) NVME_ENV(name)
#define BLK(name) NVME_BLK(name)
#if W2C_NEW_NAMES
#define PROBE_MAIN(g) w2c_nvme_main(g)
#define SHELL_TYPE w2c_shell
#define SHELL_INSTANTIATE(s, b, e) wasm2c_shell_instantiate(s, b, e)
#define SHELL_MAIN(s) w2c_shell_main(s)
#else
#define PROBE_MAIN(g) Z_nvmeZ_main(g)
#define SHELL_TYPE Z_shell_instance_t
#define SHELL_INSTANTIATE(s, b, e) (Z_shell_init_module(), Z_shell_instantiate(s, b, e))
#define SHELL_MAIN(s) Z_shellZ_main(s)
#endif

#define PAGE_BYTES 65536u
#define DRIVER_PAGES 256u                        /* the driver's memory, the DMA window: 16 MiB */
#define CLIENT_PAGES 32u                         /* the shell's memory: 2 MiB */
#define ARENA_SIZE (DRIVER_PAGES * PAGE_BYTES)
#define CLIENT_ARENA_SIZE (CLIENT_PAGES * PAGE_BYTES)
#define BUFFER_BYTES (8u << 20)                  /* the driver's buffer memory, all the shell's share */

/* The driver's linear memory: one static, 4 KiB-aligned arena inside the identity-mapped low
 * gigabyte, so its physical address is its address and DMA can point straight at it. */
u8 guest_arena[ARENA_SIZE] __attribute__((aligned(4096)));
/* The client's memory: no device ever sees it, any static array will do. */
static u8 client_arena[CLIENT_ARENA_SIZE] __attribute__((aligned(4096)));

/* What wasm2c hands every import: the calling module's memory and, for messages, its name. */
struct NVME_ENV_STRUCT { wasm_rt_memory_t memory; const char *module; };
typedef struct NVME_ENV_STRUCT env_t;

static env_t driver_env;  /* the driver's, or in probe mode the probe's */
static env_t client_env;
static nvme_instance_t driver;

wasm_rt_memory_t *IMPORT(memory)(env_t *e) { return &e->memory; }

/* Zero-filled, as asconfig.json's zeroFilledMemory promises the modules. */
static void env_init(env_t *e, const char *module, u8 *arena, u32 pages) {
  memset(arena, 0, (size_t)pages * PAGE_BYTES);
  e->memory = (wasm_rt_memory_t){ .data = arena, .pages = pages, .max_pages = pages, .size = (u64)pages * PAGE_BYTES };
  e->module = module;
}

/* ---- traps ----------------------------------------------------------------------------- */

_Noreturn static void host_trap(const char *what) {
  kprintf("trap: %s\n", what);
  kernel_fail(EXIT_TRAP);
}

static bool in_memory(const env_t *e, u32 ptr, u64 len) { return (u64)ptr + len <= e->memory.size; }

static u8 *guest_range(env_t *e, u32 ptr, u64 len, const char *who) {
  if (!in_memory(e, ptr, len)) {
    kprintf("trap: out of bounds memory access (%s %s: ptr=0x%x len=%lu)\n", e->module, who, ptr, len);
    kernel_fail(EXIT_TRAP);
  }
  return e->memory.data + ptr;
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
  const u8 *p = guest_range(e, ptr, len, "console_write");
  console_write_bytes((const char *)p, len);
}

static u64 deadline_after(u64 timeout_ns) {
  u64 now = time_ns();
  return timeout_ns > ~0ULL - now ? ~0ULL : now + timeout_ns;
}

u32 IMPORT(console_read)(env_t *e, u32 ptr, u32 cap, u64 timeout_ns) {
  u8 *p = guest_range(e, ptr, cap, "console_read");
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
  u8 *p = guest_range(e, ptr, cap, "cmdline");
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
  if (!in_memory(e, ptr, len)) return 0;
  return (u64)(uintptr_t)e->memory.data + ptr;
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

/* Sleeps until a line fires or the timeout passes; returns the lines that fired. Bounded by the
 * deadline: the 1 kHz PIT tick ends every hlt. */
static u32 wait_lines(u64 timeout_ns) {
  u64 deadline = deadline_after(timeout_ns);
  for (;;) {
    poll_interrupts();
    u32 p = irq_pending;
    if (p) { irq_pending = 0; return p; }
    if (time_ns() >= deadline) return 0;
    wait_for_interrupt();
  }
}

u32 IMPORT(irq_wait)(env_t *e, u64 timeout_ns) { (void)e; return wait_lines(timeout_ns); }

void IMPORT(irq_ack)(env_t *e, u32 line) {
  (void)e;
  if (line >= 32 || !lines[line].used) return;
  if (lines[line].mode == 0) pic_unmask(lines[line].irq);
}

/* ---- the block link: a client's `blk` imports, served by the driver's exports ------------------
 * The host alone sees both memories: it copies records and data between the client's memory and
 * the client's share of the driver's buffer memory, tags each request with the client's id, and
 * queues the driver's request_done calls per client until the client collects them. */
#if !GUEST_HAS_MAIN

#define MAX_CLIENTS 1
#define DONE_RING 1024             /* >= the shell's tags (TAGS_MAX): it cannot overflow */
#define TICK_NS 1000000ULL         /* how often blk.complete calls the driver's tick */
#define IRQ_SLICE_NS 2000000ULL    /* one irq_wait while requests are on interrupt-driven controllers */

struct NVME_BLK_STRUCT {
  u32 id;                          /* the high 32 bits of the driver's tags */
  env_t *env;                      /* the client's memory */
  u32 share_base, share_bytes;     /* its part of the driver's buffer memory */
  u32 in_flight;                   /* submitted, request_done not yet called */
  u32 head, count;                 /* completions waiting in ring[] */
  struct nvme_done_record ring[DONE_RING];
};
typedef struct NVME_BLK_STRUCT blk_t;

static blk_t *clients[MAX_CLIENTS];
static u32 nclients, share_used;
static u64 last_tick;

/* Each namespace's log2 block size, read once from the driver's records after start (namespaces
 * do not change afterwards): blk.submit needs it for every request to check the client's range. */
#define MAX_NAMESPACES 64
static u32 ns_shift[MAX_NAMESPACES];
static u32 ns_known;

static void learn_namespaces(void) {
  ns_known = nvme_namespace_count(&driver);
  if (ns_known > MAX_NAMESPACES) ns_known = MAX_NAMESPACES;
  for (u32 i = 0; i < ns_known; i++) {
    u32 rec = nvme_describe_namespace(&driver, i);
    const struct nvme_namespace_record *r = (const void *)guest_range(&driver_env, rec, sizeof(*r), "describe_namespace");
    ns_shift[i] = r->lba_shift;
  }
}

/* Gives a client `bytes` of the driver's buffer memory, after the earlier clients' shares. */
static void link_client(blk_t *c, env_t *e, u32 bytes) {
  u32 total = nvme_buffer_bytes(&driver);
  /* Checked once here, so the copies below cannot leave the driver's memory. */
  guest_range(&driver_env, nvme_buffer_base(&driver), total, "buffer_base");
  if (nclients == MAX_CLIENTS || bytes > total - share_used) {
    kprintf("trap: boot: no room for client %u: %u buffer bytes asked, %u left\n", nclients, bytes, total - share_used);
    kernel_fail(EXIT_TRAP);
  }
  *c = (blk_t){ .id = nclients, .env = e, .share_base = nvme_buffer_base(&driver) + share_used, .share_bytes = bytes };
  share_used += bytes;
  clients[nclients++] = c;
  last_tick = time_ns();
  learn_namespaces();
}

static bool in_share(const blk_t *c, u32 off, u64 len) { return (u64)off + len <= c->share_bytes; }

/* The bytes of `blocks` blocks of 2^shift bytes, or ~0 when that cannot fit any memory. */
static u64 request_bytes(u32 blocks, u32 shift) {
  if (blocks == 0) return 0;
  return shift >= 32 ? ~0ULL : (u64)blocks << shift;
}

/* env.request_done (the driver, inside poll/interrupt/tick/shutdown): queue it for its client. */
void IMPORT(request_done)(env_t *e, u64 tag, u32 status, u64 error_lba) {
  (void)e;
  u32 id = (u32)(tag >> 32);
  if (id >= nclients) {
    kprintf("trap: request_done: tag 0x%lx names client %u, and there are %u\n", tag, id, nclients);
    kernel_fail(EXIT_TRAP);
  }
  blk_t *c = clients[id];
  if (c->in_flight == 0 || c->count == DONE_RING) {
    kprintf("trap: kernel bug: request_done for client %u with %u in flight and %u queued (ring of %u)\n",
            id, c->in_flight, c->count, DONE_RING);
    kernel_fail(EXIT_TRAP);
  }
  c->ring[(c->head + c->count) % DONE_RING] = (struct nvme_done_record){ (u32)tag, status, error_lba };
  c->count++;
  c->in_flight--;
}

/* Copies a record the driver filled (at addr in its memory; 0 = none) to the client's memory. */
static u32 copy_record(blk_t *c, u32 addr, u32 ptr, u32 len) {
  if (addr == 0 || !in_memory(c->env, ptr, len)) return (u32)-1;
  memcpy(c->env->memory.data + ptr, guest_range(&driver_env, addr, len, "record"), len);
  return len;
}

u32 BLK(controller_count)(blk_t *c) { (void)c; return nvme_controller_count(&driver); }
u32 BLK(namespace_count)(blk_t *c) { (void)c; return nvme_namespace_count(&driver); }
u32 BLK(describe_controller)(blk_t *c, u32 i, u32 ptr) {
  return copy_record(c, nvme_describe_controller(&driver, i), ptr, NVME_CONTROLLER_RECORD_BYTES);
}
u32 BLK(describe_namespace)(blk_t *c, u32 i, u32 ptr) {
  return copy_record(c, nvme_describe_namespace(&driver, i), ptr, NVME_NAMESPACE_RECORD_BYTES);
}
u32 BLK(controller_stats)(blk_t *c, u32 i, u32 ptr) {
  return copy_record(c, nvme_controller_stats(&driver, i), ptr, NVME_STATS_RECORD_BYTES);
}
u32 BLK(identify_data)(blk_t *c, u32 i, u32 ptr) {
  return copy_record(c, nvme_identify_data(&driver, i), ptr, NVME_IDENTIFY_BYTES);
}

u32 BLK(buffer_bytes)(blk_t *c) { return c->share_bytes; }

u32 BLK(buffer_write)(blk_t *c, u32 off, u32 ptr, u32 len) {
  if (!in_share(c, off, len) || !in_memory(c->env, ptr, len)) return (u32)-1;
  memcpy(driver_env.memory.data + c->share_base + off, c->env->memory.data + ptr, len);
  return 0;
}

u32 BLK(buffer_read)(blk_t *c, u32 off, u32 ptr, u32 len) {
  if (!in_share(c, off, len) || !in_memory(c->env, ptr, len)) return (u32)-1;
  memcpy(c->env->memory.data + ptr, driver_env.memory.data + c->share_base + off, len);
  return 0;
}

/* The driver checks its own buffer range; the host checks the client's share, which the driver
 * cannot tell apart from another client's. */
u32 BLK(submit)(blk_t *c, u32 tag, u32 op, u32 ns, u64 lba, u32 blocks, u32 off) {
  if ((op & NVME_OP_MASK) != NVME_OP_FLUSH) {
    if (ns >= ns_known) return NVME_ERR_NO_NAMESPACE;
    if (!in_share(c, off, request_bytes(blocks, ns_shift[ns]))) return NVME_ERR_BAD_BUFFER;
  }
  u32 status = nvme_submit(&driver, ((u64)c->id << 32) | tag, op, ns, lba, blocks, c->share_base + off);
  if (status == 0) c->in_flight++;
  return status;
}

/* Lets time pass until something may have completed: one spin step while a polled controller has
 * requests (its completions are only seen by poll), else a sleep in irq_wait, whose lines go to
 * the driver's interrupt entry; the driver's tick every TICK_NS so lost commands are found. */
static void link_idle(u64 now, u64 deadline) {
  if (nvme_wait_hint(&driver) == NVME_WAIT_POLL) {
    cpu_relax();
  } else {
    u64 left = deadline - now;
    u32 lines = wait_lines(left < IRQ_SLICE_NS ? left : IRQ_SLICE_NS);
    if (lines) nvme_interrupt(&driver, lines);
    now = time_ns();
  }
  if (now - last_tick >= TICK_NS) {
    last_tick = now;
    nvme_tick(&driver);
  }
}

/* Waits until this client has completions, has nothing in flight, or the deadline passed (the
 * loop's bound); then hands over up to cap completion records. Polls once first, then after each
 * idle step only if the interrupt entry did not already deliver something. */
u32 BLK(complete)(blk_t *c, u32 ptr, u32 cap, u64 timeout_ns) {
  nvme_poll(&driver);
  u64 deadline = c->count == 0 && c->in_flight != 0 ? deadline_after(timeout_ns) : 0;
  while (c->count == 0 && c->in_flight != 0) {
    u64 now = time_ns();
    if (now >= deadline) break;
    link_idle(now, deadline);
    if (c->count == 0) nvme_poll(&driver);
  }
  u32 n = cap < c->count ? cap : c->count;
  if (!in_memory(c->env, ptr, (u64)n * NVME_DONE_RECORD_BYTES)) return (u32)-1;
  struct nvme_done_record *out = (struct nvme_done_record *)(c->env->memory.data + ptr);
  for (u32 i = 0; i < n; i++) {
    out[i] = c->ring[c->head];
    c->head = (c->head + 1) % DONE_RING;
  }
  c->count -= n;
  return n;
}

u32 BLK(driver_errors)(blk_t *c) { (void)c; return nvme_log_errors(&driver); }
u32 BLK(shutdown)(blk_t *c) { (void)c; return nvme_shutdown(&driver); }

#endif /* !GUEST_HAS_MAIN */

/* ---- the end ------------------------------------------------------------------------------- */

void IMPORT(poweroff)(env_t *e, u32 code) {
  (void)e;
  if (code != 0) host_cleanup();
  machine_poweroff((s32)code);
}

/* An AssemblyScript string: UTF-16 code units, its byte length in the 4 bytes before it. */
static void print_utf16(const env_t *e, u32 ptr) {
  if (ptr < 4 || ptr > e->memory.size) { kputs("(null)"); return; }
  u32 bytes = *(const u32 *)(e->memory.data + ptr - 4);
  if (!in_memory(e, ptr, bytes)) { kputs("(bad string)"); return; }
  const u8 *p = e->memory.data + ptr;
  for (u32 i = 0; i + 1 < bytes; i += 2) {
    u16 c = p[i] | (p[i + 1] << 8);
    console_putc(c >= 0x20 && c < 0x7F ? (char)c : '?');
  }
}

void IMPORT(abort)(env_t *e, u32 msg, u32 file, u32 line, u32 col) {
  kputs("trap: abort: ");
  print_utf16(e, msg);
  kputs(" at ");
  print_utf16(e, file);
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

/* A module's main returned instead of calling poweroff: say so, and end the run with its code. */
_Noreturn static void main_returned(u32 code) {
  kprintf("boot: main returned %u without poweroff\n", code);
  if (code) host_cleanup();
  machine_poweroff((int)code);
}

#if GUEST_HAS_MAIN
/* Probe mode: the one module is started through its own main. */
_Noreturn static void run_guests(void) {
  nvme_instantiate(&driver, &driver_env);
  main_returned(PROBE_MAIN(&driver));
}
#else
static const char *start_error(s32 r) {
  if (r == NVME_START_AGAIN) return "already started";
  if (r == NVME_START_BAD_OPTION) return "an option out of range";
  if (r == NVME_START_NO_MEMORY) return "the buffer does not fit in the DMA window";
  return "unknown answer";
}

/* The driver, started with its options from the command line (its bring-up lines come out now),
 * then the shell, linked to it, whose main ends in poweroff. */
_Noreturn static void run_guests(void) {
  static SHELL_TYPE shell;
  static blk_t shell_blk;
  nvme_instantiate(&driver, &driver_env);
  s32 found = nvme_start_cmdline(&driver, BUFFER_BYTES);
  if (found < 0) kprintf("boot: the driver's start_cmdline answered %d: %s\n", found, start_error(found));
  env_init(&client_env, "shell", client_arena, CLIENT_PAGES);
  u32 total = nvme_buffer_bytes(&driver);
  link_client(&shell_blk, &client_env, total < BUFFER_BYTES ? total : BUFFER_BYTES);
  SHELL_INSTANTIATE(&shell, &shell_blk, &client_env);
  main_returned(SHELL_MAIN(&shell));
}
#endif

void kmain(u32 magic, u32 info) {
  serial_init();
  save_cmdline(magic, info); /* before anything else could overwrite the multiboot info */
  arch_init();
  check_reboot();
  irq_handler = on_irq;
  env_init(&driver_env, GUEST_HAS_MAIN ? "guest" : "nvme", guest_arena, DRIVER_PAGES);
  kprintf("boot: nvme-wasm bare-metal host, tsc %lu MHz, memory at 0x%lx\n", tsc_hz() / 1000000,
          (u64)(uintptr_t)guest_arena);
  self_test_fault();
  wasm_rt_init();
  run_guests();
}
