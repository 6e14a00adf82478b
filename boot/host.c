/* The bare-metal host of the guest modules: their `env` imports (docs/abi.md), the `blk` client
 * interface that links shell.wasm to the driver (docs/block-interface.md, the same as
 * host/block-link.js does under Node), and kmain.
 *
 * Three modules run here, each with its own memory: the driver (build/nvme.wasm, wasm2c -n nvme),
 * which owns the hardware, and two clients, the shell (build/shell.wasm, wasm2c -n shell) and the
 * filesystem module (build/fs.wasm, wasm2c -n fs), which reach it only through `blk`, each with its
 * own share of the driver's buffer memory; the shell reaches fs.wasm only through fs.call, which
 * the host answers by copying messages between their memories. wasm2c hands every import the env instance of the module calling it, and each
 * instance holds that module's memory, so one C function serves both modules.
 *
 * A third module, the trace decoder (build/trace.wasm, wasm2c -n trace, -DGUEST_HAS_TRACE=1), has
 * its own memory and env instance too: once the driver asks for a trace (env.trace_begin), the host
 * hands it the MMIO accesses, configuration writes and interrupts it sees and the commands,
 * completions and stages the driver reports (env.trace_event), as host/trace.js does under Node, and
 * the decoder prints each as one line.
 *
 * Probe mode (build.sh passes -DGUEST_HAS_MAIN=1): a single module that exports main() itself
 * (test/qemu/kernel.test.js's probes) runs alone with the driver's imports; there is no client
 * and no decoder.
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
#include "fs.h"
#endif
#ifndef GUEST_HAS_TRACE
#define GUEST_HAS_TRACE 0
#endif
#ifndef CLIENT_HAS_FS
#define CLIENT_HAS_FS 0    /* the client imports fs.call (build.sh looks): the shell does */
#endif
#if GUEST_HAS_TRACE
#include "trace.h"
#endif

#define IMPORT(name) NVME_ENV(name)
#define BLK(name) NVME_BLK(name)
#if W2C_NEW_NAMES
#define PROBE_MAIN(g) w2c_nvme_main(g)
#define SHELL_TYPE w2c_shell
#if CLIENT_HAS_FS
#define SHELL_INSTANTIATE(s, b, e, f) wasm2c_shell_instantiate(s, b, e, f)
#else
#define SHELL_INSTANTIATE(s, b, e) wasm2c_shell_instantiate(s, b, e)
#endif
#define SHELL_MAIN(s) w2c_shell_main(s)
#define FS_TYPE w2c_fs
#define FS_INSTANTIATE(f, b, e) wasm2c_fs_instantiate(f, b, e)
#define FS(name) w2c_fs_##name
#define FS_CALL w2c_fs_call
#define DECODER_TYPE w2c_trace
#define DECODER_INSTANTIATE(t, e) wasm2c_trace_instantiate(t, e)
#define DECODER(name) w2c_trace_##name
#else
#define PROBE_MAIN(g) Z_nvmeZ_main(g)
#define SHELL_TYPE Z_shell_instance_t
#if CLIENT_HAS_FS
#define SHELL_INSTANTIATE(s, b, e, f) (Z_shell_init_module(), Z_shell_instantiate(s, b, e, f))
#else
#define SHELL_INSTANTIATE(s, b, e) (Z_shell_init_module(), Z_shell_instantiate(s, b, e))
#endif
#define SHELL_MAIN(s) Z_shellZ_main(s)
#define FS_TYPE Z_fs_instance_t
#define FS_INSTANTIATE(f, b, e) (Z_fs_init_module(), Z_fs_instantiate(f, b, e))
#define FS(name) Z_fsZ_##name
#define FS_CALL Z_fsZ_call
#define DECODER_TYPE Z_trace_instance_t
#define DECODER_INSTANTIATE(t, e) (Z_trace_init_module(), Z_trace_instantiate(t, e))
#define DECODER(name) Z_traceZ_##name
#endif

#define PAGE_BYTES 65536u
#define DRIVER_PAGES 256u                        /* the driver's memory, the DMA window: 16 MiB */
#define CLIENT_PAGES 32u                         /* the shell's memory: 2 MiB */
#define DECODER_PAGES 4u                         /* the trace decoder's memory: 256 KiB */
#define FS_PAGES 8u                              /* fs.wasm's memory: 512 KiB */
#define ARENA_SIZE (DRIVER_PAGES * PAGE_BYTES)
#define CLIENT_ARENA_SIZE (CLIENT_PAGES * PAGE_BYTES)
#define DECODER_ARENA_SIZE (GUEST_HAS_TRACE ? DECODER_PAGES * PAGE_BYTES : 0)
#define FS_ARENA_SIZE (FS_PAGES * PAGE_BYTES)
#define SHELL_SHARE_BYTES (8u << 20)             /* the shell's share (iochk's 32 x 256 KiB need it all) */
#define FS_SHARE_BYTES (128u << 10)              /* fs.wasm's share (cache lines of up to 64 KiB) */
#define BUFFER_BYTES (SHELL_SHARE_BYTES + FS_SHARE_BYTES) /* the driver's buffer memory: both shares */

#define ARENA_ALIGN (2u << 20)                   /* lets the IOMMU map the window with 2 MiB pages */

/* The driver's linear memory: one static, 2 MiB-aligned arena inside the identity-mapped low
 * gigabyte, so its physical address is its address and DMA can point straight at it. It is the
 * DMA window: the only memory the IOMMU (iommu.c) lets the guest's devices reach. */
u8 guest_arena[ARENA_SIZE] __attribute__((aligned(ARENA_ALIGN), section(".bss.zz_arena.driver")));
/* The client's memory: no device ever sees it, any static array will do. The arenas are not static:
 * each module's generated C uses its arena's address as a constant (boot/guest-memory.h). */
u8 client_arena[CLIENT_ARENA_SIZE] __attribute__((aligned(4096), section(".bss.zz_arena.client")));
#if !GUEST_HAS_MAIN
/* fs.wasm's memory: no device sees it either. */
u8 fs_arena[FS_ARENA_SIZE] __attribute__((aligned(4096), section(".bss.zz_arena.fs")));
#endif
#if GUEST_HAS_TRACE
/* The trace decoder's memory: the host copies entries into it, never a device. */
u8 decoder_arena[DECODER_ARENA_SIZE] __attribute__((aligned(4096), section(".bss.zz_arena.trace")));
#endif

/* A page of kernel memory outside every arena, filled with a known pattern at boot and checked at
 * poweroff: a device that wrote there DMAed outside the window (test/qemu/sandbox.test.js aims
 * one at it; its address comes from `nm kernel64.elf`). */
#define BAIT_BYTES 4096u
u8 dma_bait[BAIT_BYTES] __attribute__((aligned(4096)));
static bool bait_filled;

static u8 bait_byte(u32 i) { return (u8)(0xA5 ^ (i * 13)); }

static void bait_fill(void) {
  for (u32 i = 0; i < BAIT_BYTES; i++) dma_bait[i] = bait_byte(i);
  bait_filled = true;
}

static void bait_check(void) {
  if (!bait_filled) return;
  u32 changed = 0;
  for (u32 i = 0; i < BAIT_BYTES; i++) changed += ((volatile u8 *)dma_bait)[i] != bait_byte(i);
  if (changed)
    kprintf("boot: bait page changed by a device: %u of its %u bytes at 0x%lx differ\n", changed, BAIT_BYTES,
            (u64)(uintptr_t)dma_bait);
}

/* What wasm2c hands every import: the calling module's memory and, for messages, its name. */
struct NVME_ENV_STRUCT { wasm_rt_memory_t memory; const char *module; };
typedef struct NVME_ENV_STRUCT env_t;

static env_t driver_env;  /* the driver's, or in probe mode the probe's */
static env_t client_env;
static env_t decoder_env; /* the trace decoder's */
static env_t fs_env;      /* fs.wasm's */
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

/* ---- trace: the driver's env.trace_begin / env.trace_event, and the decoder they feed ------------
 * The same as host/trace.js under Node: once the driver has called trace_begin(mask) (the trace=
 * boot option, or its trace export), every MMIO access it makes (after the host's checks; reads
 * with the value read), every configuration write the host performs for it and every interrupt
 * irq_wait hands it go to the decoder (build/trace.wasm), and so do the commands, completions and
 * stages it reports through trace_event; the decoder prints each as one line on the console.
 * Off (mask 0, the default), the cost is one test of trace_mask per access. */

#define TRACE_REGION_OTHER 0            /* what an MMIO access hit, for the decoder's mmio() */
#define TRACE_REGION_NVME 1             /* an NVMe controller's BAR0 (class 01/08/02) */
#define TRACE_REGION_MSIX 2             /* a function's MSI-X table: off is relative to its start */
#define TRACE_ENTRY_MAX 64              /* the decoder's buffer(): an SQE, the largest entry */

#if GUEST_HAS_TRACE
static u32 trace_mask;                  /* NVME_TRACE_* bits of the last trace_begin */
#define TRACING(bits) __builtin_expect((trace_mask & (bits)) != 0, 0)
static DECODER_TYPE decoder;
static bool decoder_ready;
static u32 decoder_entry;               /* buffer(): where entries are copied, in its memory */

/* Instantiated on the first trace_begin: a kernel that never traces never runs it. */
static DECODER_TYPE *the_decoder(void) {
  if (!decoder_ready) {
    env_init(&decoder_env, "trace", decoder_arena, DECODER_PAGES);
    DECODER_INSTANTIATE(&decoder, &decoder_env);
    decoder_entry = DECODER(buffer)(&decoder);
    guest_range(&decoder_env, decoder_entry, TRACE_ENTRY_MAX, "buffer");
    decoder_ready = true;
  }
  return &decoder;
}

void IMPORT(trace_begin)(env_t *e, u32 mask) {
  (void)e;
  if (mask) the_decoder();
  trace_mask = mask;
}

/* The driver's report: a command as written to its SQ, a completion as consumed (the entry is
 * copied into the decoder's memory), a stage begun, or a quirk acted on. */
void IMPORT(trace_event)(env_t *e, u32 kind, u32 where, u32 ptr, u32 len) {
  if (kind == NVME_EVENT_STAGE) { DECODER(stage)(the_decoder(), where); return; }
  if (kind == NVME_EVENT_QUIRK) { DECODER(quirk)(the_decoder(), where); return; }
  if (kind == NVME_EVENT_REAP) { DECODER(reap)(the_decoder(), where); return; }
  if (len > TRACE_ENTRY_MAX || !in_memory(e, ptr, len)) {
    kprintf("trap: trace_event: entry [0x%x, +%u) outside the driver's memory\n", ptr, len);
    kernel_fail(EXIT_TRAP);
  }
  DECODER_TYPE *d = the_decoder();
  memcpy(decoder_env.memory.data + decoder_entry, e->memory.data + ptr, len);
  if (kind == NVME_EVENT_COMMAND) DECODER(command)(d, where);
  else if (kind == NVME_EVENT_COMPLETION) DECODER(completion)(d, where);
}
#else
/* No decoder in this build (probe mode): a trace asked for shows nothing. */
#define TRACING(bits) 0
void IMPORT(trace_begin)(env_t *e, u32 mask) { (void)e; (void)mask; }
void IMPORT(trace_event)(env_t *e, u32 kind, u32 where, u32 ptr, u32 len) { (void)e; (void)kind; (void)where; (void)ptr; (void)len; }
#endif

/* ---- what the boot loader hands over: memory map, command line (Multiboot 0.6.96, 3.3) ---- */

#define MB_BOOT_MAGIC 0x2BADB002
#define MBI_FLAGS 0                    /* u32 offsets in the multiboot information */
#define MBI_MEM_UPPER 2                /* KiB above 1 MiB */
#define MBI_CMDLINE 4
#define MBI_MMAP_LENGTH 11
#define MBI_MMAP_ADDR 12
#define MBI_HAS_MEM (1u << 0)
#define MBI_HAS_CMDLINE (1u << 2)
#define MBI_HAS_MMAP (1u << 6)
#define MMAP_RAM 1                     /* "available RAM" */
#define MMAP_ACPI_RECLAIMABLE 3        /* "usable memory holding ACPI information" (Multiboot 0.6.96, 3.3) */
#define MMAP_ACPI_NVS 4                /* "ACPI NVS memory" */
#define MMAP_MAX_ENTRIES 128
#define LOW_MEMORY_END 0x100000ULL     /* the kernel is loaded at 1 MiB */
#define SUGGESTED_MEMORY "64M"         /* also leaves room for the reboot marker at 63 MiB */

extern u8 __kernel_end[];

static u64 ram_end;                    /* end of the usable RAM that starts at 1 MiB, 0 = unknown */
static const char *mb_cmdline;         /* as the loader left it, or NULL */

/* Memory the kernel may occupy: available RAM, and ACPI NVS, RAM the firmware keeps for sleep
 * states and ACPI methods, which this kernel never enters nor runs. (OVMF reports two pieces of
 * its work area at 8 MiB as NVS, inside the range the kernel is linked at.) */
static bool mmap_usable(u32 type) { return type == MMAP_RAM || type == MMAP_ACPI_NVS; }

/* The end of the usable memory that starts at 1 MiB: the regions of the memory map that follow
 * each other from 1 MiB without a gap (the map need not be sorted), else mem_upper. On the way, the
 * ACPI regions are noted for the RSDP's search (arch.c: a UEFI machine has no legacy BIOS areas). */
static u64 usable_ram_end(const u32 *mbi) {
  if (mbi[MBI_FLAGS] & MBI_HAS_MMAP) {
    u64 reach = LOW_MEMORY_END;
    bool grew = true;
    for (int pass = 0; pass < MMAP_MAX_ENTRIES && grew; pass++) {
      grew = false;
      const u8 *p = (const u8 *)(uintptr_t)mbi[MBI_MMAP_ADDR], *end = p + mbi[MBI_MMAP_LENGTH];
      for (int i = 0; i < MMAP_MAX_ENTRIES && p + 24 <= end; i++) {
        u32 size = *(const u32 *)p;
        u64 base = *(const u64 *)(p + 4), len = *(const u64 *)(p + 12);
        u32 type = *(const u32 *)(p + 20);
        if (mmap_usable(type) && base <= reach && base + len > reach) { reach = base + len; grew = true; }
        if (pass == 0 && (type == MMAP_ACPI_RECLAIMABLE || type == MMAP_ACPI_NVS)) acpi_note_region(base, len);
        p += size + 4;
      }
    }
    if (reach > LOW_MEMORY_END) return reach;
  }
  if (mbi[MBI_FLAGS] & MBI_HAS_MEM) return LOW_MEMORY_END + (u64)mbi[MBI_MEM_UPPER] * 1024;
  return 0;
}

/* The kernel image with its arenas (bss), and the command line the loader put after it, must be
 * in RAM. Without this check a small -m ends in corrupted ACPI tables or a wasm2c assertion. */
static void check_memory(u32 magic, u32 info) {
  if (magic != MB_BOOT_MAGIC) {
    kprintf("boot: not started by a multiboot loader (magic 0x%x): memory size not checked\n", magic);
    return;
  }
  const u32 *mbi = (const u32 *)(uintptr_t)info;
  ram_end = usable_ram_end(mbi);
  if (mbi[MBI_FLAGS] & MBI_HAS_CMDLINE) mb_cmdline = (const char *)(uintptr_t)mbi[MBI_CMDLINE];
  if (ram_end == 0) {
    kputs("boot: memory: the boot loader gave no memory information: not checked\n");
    return;
  }
  u64 need = (u64)(uintptr_t)__kernel_end;
  if (mb_cmdline && (u64)(uintptr_t)mb_cmdline + 1 > need) need = (u64)(uintptr_t)mb_cmdline + 1;
  need = (need + 0xFFF) & ~0xFFFULL; /* whole pages */
  if (need <= ram_end) return;
  u32 arenas_mib = (ARENA_SIZE + (GUEST_HAS_MAIN ? 0 : CLIENT_ARENA_SIZE + FS_ARENA_SIZE) + DECODER_ARENA_SIZE) >> 20;
  kprintf("boot: memory: %lu MiB is too small: the guests need %u MiB of arenas above 1 MiB plus the kernel "
          "(the kernel, its arenas and the command line end at 0x%lx, usable RAM at 0x%lx); give QEMU -m %s or more\n",
          (ram_end + (1 << 20) - 1) >> 20, arenas_mib, need, ram_end, SUGGESTED_MEMORY);
  machine_poweroff(EXIT_BOOT);
}

/* ---- boot command line ------------------------------------------------------------------- */

#define CMDLINE_KEEP 4096u             /* bytes kept: as many as either guest accepts */
#define CMDLINE_SCAN_MAX (1u << 20)    /* a longer line is reported as this long */

static char boot_cmdline[CMDLINE_KEEP];
static u32 boot_cmdline_len;           /* the line's true length (up to CMDLINE_SCAN_MAX) */
static u32 boot_cmdline_kept;          /* min(len, CMDLINE_KEEP) */

/* Keeps the first CMDLINE_KEEP bytes and the true length, so a guest refuses an over-long line
 * whole instead of running a cut-off tail as another command. */
static void save_cmdline(void) {
  if (!mb_cmdline) return;
  const char *s = mb_cmdline, *limit = s + CMDLINE_SCAN_MAX;
  if (ram_end && (u64)(uintptr_t)limit > ram_end) limit = (const char *)(uintptr_t)ram_end;
  /* QEMU passes "<kernel path> <-append text>": drop the first word. (GRUB 2 passes only the
   * words after the path: boot/grub.cfg writes it twice.) */
  while (s < limit && *s && *s != ' ') s++;
  if (s < limit && *s == ' ') s++;
  u32 n = 0;
  while (s + n < limit && s[n]) {
    if (n < CMDLINE_KEEP) boot_cmdline[n] = s[n];
    n++;
  }
  boot_cmdline_len = n;
  boot_cmdline_kept = n < CMDLINE_KEEP ? n : CMDLINE_KEEP;
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
    while (n < cap && (c = console_getc_nowait()) >= 0) p[n++] = (u8)c;
    if (n || cap == 0) return n;
    if (time_ns() >= deadline) return 0;
    iommu_poll();
    wait_for_interrupt(); /* the 1 kHz PIT tick wakes us to poll again */
  }
}

/* Copies at most cap bytes and returns the full length, which may exceed cap (docs/abi.md). Bytes
 * past the CMDLINE_KEEP the kernel kept read as 0: both guests refuse such a line anyway. */
u32 IMPORT(cmdline)(env_t *e, u32 ptr, u32 cap) {
  u8 *p = guest_range(e, ptr, cap, "cmdline");
  u32 n = cap < boot_cmdline_len ? cap : boot_cmdline_len;
  u32 kept = n < boot_cmdline_kept ? n : boot_cmdline_kept;
  memcpy(p, boot_cmdline, kept);
  memset(p + kept, 0, n - kept);
  return boot_cmdline_len;
}

/* ---- time ---------------------------------------------------------------------------------- */

u64 IMPORT(now_ns)(env_t *e) { (void)e; return time_ns(); }
/* The driver's busy-wait step: also where IOMMU faults of its bring-up get reported. */
void IMPORT(relax)(env_t *e) { (void)e; iommu_poll(); cpu_relax(); }
/* Stores before it visible before loads after it: the shadow doorbells' order (docs/abi.md). */
void IMPORT(fence)(env_t *e) { (void)e; mfence(); }

/* ---- PCI ----------------------------------------------------------------------------------- */

u32 pci_cfg_read(u32 bdf, u32 off) {
  outl(0xCF8, 0x80000000u | (bdf << 8) | (off & 0xFC));
  return inl(0xCFC);
}
void pci_cfg_write(u32 bdf, u32 off, u32 v) {
  outl(0xCF8, 0x80000000u | (bdf << 8) | (off & 0xFC));
  outl(0xCFC, v);
}

#define PCI_ID 0x00
#define PCI_COMMAND 0x04                 /* and Status in bits 31:16 */
#define PCI_STATUS_CAP_LIST (1u << 20)
#define PCI_CLASS 0x08                   /* class code in bits 31:8 */
#define PCI_CAP_PTR 0x34
#define PCI_CAP_ID_MSIX 0x11
#define PCI_CLASS_NVME 0x010802          /* mass storage, NVM, NVMe */

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

void fmt_bdf(char *b, u32 bdf) {
  const char *h = "0123456789abcdef";
  u32 bus = bdf >> 8, dev = (bdf >> 3) & 31, fn = bdf & 7;
  b[0] = h[bus >> 4]; b[1] = h[bus & 15]; b[2] = ':'; b[3] = h[dev >> 4]; b[4] = h[dev & 15];
  b[5] = '.'; b[6] = h[fn]; b[7] = 0;
}

/* The first read of a function claims it; one that exists also gets its IOMMU context entry, so
 * its DMA reaches the window (every other function's DMA stays blocked). */
u32 IMPORT(pci_read32)(env_t *e, u32 bdf, u32 off) {
  (void)e;
  check_cfg(bdf, off, "pci_read32");
  if (!bit(claimed, bdf)) {
    set_bit(claimed, bdf);
    if ((pci_cfg_read(bdf, PCI_ID) & 0xFFFF) != 0xFFFF) iommu_attach(bdf);
  }
  return pci_cfg_read(bdf, off);
}

/* Registers that place a function or a bridge window in the address space: the host keeps them
 * where the firmware put them (PCI 3.0 6.2.5; PCI-to-PCI bridge 1.2 3.2.5: BARs, expansion ROM,
 * memory and prefetchable windows with their upper halves). */
static bool is_bar_offset(u32 bdf, u32 off) {
  u32 type = (pci_cfg_read(bdf, 0x0C) >> 16) & 0x7F;
  if (type == 0) return (off >= 0x10 && off <= 0x24) || off == 0x30;
  if (type == 1) return off == 0x10 || off == 0x14 || (off >= 0x20 && off <= 0x2C) || off == 0x38;
  return false;
}

#define PCI_CAP_ID_MSI 0x05
#define MSI_CAP_BYTES 24                  /* the largest MSI capability: 64-bit address, mask bits */
#define CAP_WALK_MAX 48                   /* a capability list is at most 48 entries long */

/* The offset of the function's first capability with this id, or 0. The walk is bounded: a
 * looping list (a broken device) ends after CAP_WALK_MAX steps. */
static u32 pci_capability(u32 bdf, u32 id) {
  if (!(pci_cfg_read(bdf, PCI_COMMAND) & PCI_STATUS_CAP_LIST)) return 0;
  u32 cap = pci_cfg_read(bdf, PCI_CAP_PTR) & 0xFC;
  for (int i = 0; i < CAP_WALK_MAX && cap >= 0x40; i++) {
    u32 d = pci_cfg_read(bdf, cap);
    if ((d & 0xFF) == id) return cap;
    cap = (d >> 8) & 0xFC;
  }
  return 0;
}

#define MSI_CTRL_64BIT (1u << 23)         /* Message Control bit 7, in the capability's first dword */
#define MSI_FIELD_ADDR_LO 0
#define MSI_FIELD_ADDR_HI 1
#define MSI_FIELD_DATA 2
static bool msi_handed_out(u32 bdf, u32 field, u32 v); /* with the interrupt lines, below */

/* A plain MSI message (PCI 3.0 section 6.8.1) is a memory write to the address the capability
 * holds: its message address (low, high) and data may only be what irq_msi_address/irq_msi_data
 * handed out for one of the function's MSI lines (irq_attach mode 2). Message Control, Mask Bits
 * and Pending Bits are free. The same words as host/guard.js. */
static void refuse_msi_write(u32 bdf, u32 off, u32 v) {
  u32 cap = pci_capability(bdf, PCI_CAP_ID_MSI);
  if (cap == 0 || off < cap || off >= cap + MSI_CAP_BYTES) return;
  bool is64 = (pci_cfg_read(bdf, cap) & MSI_CTRL_64BIT) != 0;
  int field = off == cap + 4 ? MSI_FIELD_ADDR_LO : off == cap + 8 ? (is64 ? MSI_FIELD_ADDR_HI : MSI_FIELD_DATA)
            : off == cap + 12 && is64 ? MSI_FIELD_DATA : -1;
  if (field < 0 || msi_handed_out(bdf, (u32)field, v)) return;
  static const char *const names[] = { "message address low", "message address high", "message data" };
  char b[8];
  fmt_bdf(b, bdf);
  kprintf("trap: msi: %s %s 0x%08x at offset 0x%02x of its MSI capability is not one the host handed out\n", b, names[field], v, off);
  kernel_fail(EXIT_TRAP);
}

/* A configuration write the host performs for the guest, with the function's MSI-X capability
 * offset (0 if none) so the decoder can name that capability's fields. */
__attribute__((noinline, cold)) static void trace_config(u32 bdf, u32 off, u32 v) {
#if GUEST_HAS_TRACE
  DECODER(config)(the_decoder(), bdf, off, v, pci_capability(bdf, PCI_CAP_ID_MSIX));
#endif
}

void IMPORT(pci_write32)(env_t *e, u32 bdf, u32 off, u32 v) {
  (void)e;
  check_cfg(bdf, off, "pci_write32");
  if (!bit(claimed, bdf)) return;        /* not a function the guest enumerated */
  if (is_bar_offset(bdf, off)) return;   /* BARs and windows stay where the firmware put them */
  refuse_msi_write(bdf, off, v);
  if (TRACING(NVME_TRACE_REGS)) trace_config(bdf, off, v);
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

/* A mapped BAR, and the parts of it whose writes the host checks (guarded_write): the MSI-X
 * table when it lies in this BAR, the NVMe controller registers below the doorbells when this is
 * an NVMe function's BAR0. The doorbells (0x1000 on) are written per IO and pass unchecked. */
struct mapping {
  u32 bdf, bar;
  u64 phys, size;
  volatile u8 *virt;
  u32 nvme_regs_end;                   /* 0, or NVME_DOORBELLS for an NVMe BAR0 */
  u32 msix_lo, msix_hi;                /* the MSI-X table's byte range in this BAR, or 0, 0 */
};
static struct mapping maps[32];
static int nmaps;

#define NVME_CC 0x14                      /* NVMe 1.4 section 3.1: controller registers */
#define NVME_CC_EN 1u
#define NVME_AQA 0x24                     /* ASQS in 11:0, ACQS in 27:16, both 0-based */
#define NVME_AQA_ASQS(a) ((a) & 0xFFF)
#define NVME_AQA_ACQS(a) (((a) >> 16) & 0xFFF)
#define NVME_ASQ 0x28                     /* 64-bit, low dword first */
#define NVME_ACQ 0x30
#define NVME_BPMBL 0x48                   /* Boot Partition Memory Buffer Location, 64-bit */
#define NVME_CMBMSC 0x50                  /* Controller Memory Buffer Memory Space Control, 64-bit */
#define NVME_PMRMSC 0xE14                 /* Persistent Memory Region Memory Space Control, 64-bit */
#define NVME_DOORBELLS 0x1000
#define NVME_SQE_BYTES 64
#define NVME_CQE_BYTES 16

/* MSI-X (PCI 3.0 section 6.8.2): Message Control in bits 31:16 of the capability's first dword,
 * Table Size (N - 1) in its bits 10:0; Table Offset / BIR in the second dword. */
#define MSIX_TABLE_SIZE(ctl_dword) ((((ctl_dword) >> 16) & 0x7FF) + 1)
#define MSIX_TABLE 4
#define MSIX_BIR_MASK 7u
#define MSIX_ENTRY_BYTES 16
#define MSIX_ADDR_LO 0
#define MSIX_ADDR_HI 4
#define MSIX_DATA 8

/* The MSI-X capability's offset in configuration space, or 0. */
static u32 msix_capability(u32 bdf) { return pci_capability(bdf, PCI_CAP_ID_MSIX); }

/* Fills in what guarded_write watches in this BAR. */
static void watch_mapping(struct mapping *m) {
  if (m->bar == 0 && (pci_cfg_read(m->bdf, PCI_CLASS) >> 8) == PCI_CLASS_NVME) m->nvme_regs_end = NVME_DOORBELLS;
  u32 cap = msix_capability(m->bdf);
  if (!cap) return;
  u32 table = pci_cfg_read(m->bdf, cap + MSIX_TABLE);
  if ((table & MSIX_BIR_MASK) != m->bar) return;
  m->msix_lo = table & ~MSIX_BIR_MASK;
  m->msix_hi = m->msix_lo + MSIX_TABLE_SIZE(pci_cfg_read(m->bdf, cap)) * MSIX_ENTRY_BYTES;
}

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
  maps[nmaps] = (struct mapping){ .bdf = bdf, .bar = bar, .phys = base, .size = size, .virt = v };
  watch_mapping(&maps[nmaps]);
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

/* An MMIO access for the decoder: which part of the BAR it hit, worked out from what mmio_map
 * noted for the host's checks (watch_mapping), as host/trace.js does. */
__attribute__((noinline, cold)) static void trace_mmio(const struct mapping *m, u32 off, u32 v, u32 write) {
#if GUEST_HAS_TRACE
  u32 region = m->nvme_regs_end ? TRACE_REGION_NVME : TRACE_REGION_OTHER, at = off;
  if (off >= m->msix_lo && off < m->msix_hi) { region = TRACE_REGION_MSIX; at = off - m->msix_lo; }
  DECODER(mmio)(the_decoder(), m->bdf, region, at, v, write);
#endif
}

u32 IMPORT(mmio_read32)(env_t *e, u32 h, u32 off) {
  (void)e;
  u32 v = *mmio_reg(h, off, "mmio_read32");
  if (TRACING(NVME_TRACE_REGS)) trace_mmio(&maps[h - 1], off, v, 0);
  return v;
}
static void guarded_write(const struct mapping *m, u32 off, u32 v);

void IMPORT(mmio_write32)(env_t *e, u32 h, u32 off, u32 v) {
  (void)e;
  volatile u32 *r = mmio_reg(h, off, "mmio_write32");
  const struct mapping *m = &maps[h - 1];
  if (off < m->nvme_regs_end || (off >= m->msix_lo && off < m->msix_hi)) guarded_write(m, off, v); /* traps if refused */
  if (TRACING(NVME_TRACE_REGS)) trace_mmio(m, off, v, 1);
  *r = v;
}

u64 IMPORT(dma_address)(env_t *e, u32 ptr, u32 len) {
  if (!in_memory(e, ptr, len)) return 0;
  return (u64)(uintptr_t)e->memory.data + ptr;
}

/* ---- interrupts ---------------------------------------------------------------------------- */

#define MSI_VECTOR_BASE 0x40
#define MSI_ADDRESS_BASE 0xFEE00000ULL     /* the local APIC's message address, destination in 19:12 */
#define LINES 32
#define MODE_INTX 0
#define MODE_MSIX 1
#define MODE_MSI 2
struct line { bool used; u32 mode, bdf; u8 irq, vector; };
static struct line lines[LINES];
static volatile u32 irq_pending;

static void on_irq(u8 vector) {
  if (vector >= 0x20 && vector < 0x30) {
    u8 irq = vector - 0x20;
    if (irq == 7 || irq == 15) { /* spurious? check the in-service register */
      u16 port = irq == 7 ? 0x20 : 0xA0;
      outb(port, 0x0B);
      if (!(inb(port) & 0x80)) { if (irq == 15) outb(0x20, 0x20); return; }
    }
    bool ours = false;
    for (int i = 0; i < LINES; i++)
      if (lines[i].used && lines[i].mode == MODE_INTX && lines[i].irq == irq) { irq_pending |= 1u << i; ours = true; }
    if (ours) pic_mask(irq); /* level-triggered INTx: masked until irq_ack */
    if (irq >= 8) outb(0xA0, 0x20);
    outb(0x20, 0x20);
    return;
  }
  if (vector >= MSI_VECTOR_BASE && vector < MSI_VECTOR_BASE + LINES) {
    irq_pending |= 1u << (vector - MSI_VECTOR_BASE);
    lapic_eoi();
  }
  if (vector == IOMMU_FAULT_VECTOR) { /* reported from thread context: iommu_poll */
    iommu_fault_event();
    lapic_eoi();
  }
  /* 0xFF: the APIC's spurious vector, no EOI. */
}

u32 IMPORT(irq_attach)(env_t *e, u32 bdf, u32 mode) {
  (void)e;
  if (bdf > 0xFFFF || (pci_cfg_read(bdf, 0) & 0xFFFF) == 0xFFFF || mode > MODE_MSI) return (u32)-1;
  if (mode == MODE_MSIX && !msix_capability(bdf)) return (u32)-1;
  if (mode == MODE_MSI && !pci_capability(bdf, PCI_CAP_ID_MSI)) return (u32)-1;
  /* INTx: one line per function, shared by every call. MSI-X and MSI: a line (a vector) per call,
   * one for each message the driver programs (check_msix_write and refuse_msi_write accept any of
   * the function's). */
  for (int i = 0; i < LINES && mode == MODE_INTX; i++)
    if (lines[i].used && lines[i].bdf == bdf && lines[i].mode == mode) return (u32)i;
  int i = 0;
  while (i < LINES && lines[i].used) i++;
  if (i == LINES) return (u32)-1;
  if (mode == MODE_INTX) {
    u32 r = pci_cfg_read(bdf, 0x3C);
    u8 irq = r & 0xFF, pin = (r >> 8) & 0xFF;
    if (pin == 0 || irq == 0 || irq >= 16 || irq == 2) return (u32)-1;
    lines[i] = (struct line){ true, MODE_INTX, bdf, irq, 0x20 + irq };
    pic_unmask(irq);
  } else {
    lapic_enable();
    lines[i] = (struct line){ true, mode, bdf, 0, (u8)(MSI_VECTOR_BASE + i) };
  }
  return (u32)i;
}

static bool is_msix_line(u32 line) { return line < LINES && lines[line].used && lines[line].mode == MODE_MSIX; }
static bool is_message_line(u32 line) { return line < LINES && lines[line].used && lines[line].mode != MODE_INTX; }

/* What the host hands out for an MSI-X line: this CPU's local APIC, the line's vector (fixed
 * delivery, edge). The MSI-X table check (guarded_write) accepts exactly these values. */
static u64 msi_address(u32 line) { (void)line; return MSI_ADDRESS_BASE | ((u64)lapic_id() << 12); }
static u32 msi_data(u32 line) { return lines[line].vector; }

static bool msi_handed_out(u32 bdf, u32 field, u32 v) {
  for (u32 l = 0; l < LINES; l++) {
    if (!lines[l].used || lines[l].mode != MODE_MSI || lines[l].bdf != bdf) continue;
    u32 want = field == MSI_FIELD_DATA ? msi_data(l) : (u32)(msi_address(l) >> (field == MSI_FIELD_ADDR_HI ? 32 : 0));
    if (v == want) return true;
  }
  return false;
}

_Noreturn static void not_message_line(const char *who, u32 line) {
  kprintf("trap: irq: %s of line %u: not an MSI-X or MSI line of this guest\n", who, line);
  kernel_fail(EXIT_TRAP);
}

u64 IMPORT(irq_msi_address)(env_t *e, u32 line) {
  (void)e;
  if (!is_message_line(line)) not_message_line("irq_msi_address", line);
  return msi_address(line);
}

u32 IMPORT(irq_msi_data)(env_t *e, u32 line) {
  (void)e;
  if (!is_message_line(line)) not_message_line("irq_msi_data", line);
  return msi_data(line);
}

/* Interrupts handed to the driver, for the decoder: one line per pending line, with its MSI-X
 * message data or its INTx IRQ number. */
__attribute__((noinline, cold)) static void trace_irq(u32 pending) {
#if GUEST_HAS_TRACE
  for (u32 n = 0; n < LINES; n++) {
    if (!(pending & (1u << n))) continue;
    bool msix = is_message_line(n); /* MSI too: the decoder names the vector either way */
    u32 vector = msix ? msi_data(n) : lines[n].used ? lines[n].irq : 0;
    DECODER(irq)(the_decoder(), pending, n, vector, msix);
  }
#endif
}

/* Sleeps until a line fires or the timeout passes; returns the lines that fired. Bounded by the
 * deadline: the 1 kHz PIT tick ends every hlt. Serves irq_wait and the block link's idle step. */
static u32 wait_lines(u64 timeout_ns) {
  u64 deadline = deadline_after(timeout_ns);
  for (;;) {
    poll_interrupts();
    u32 p = irq_pending;
    if (p) {
      irq_pending = 0;
      if (TRACING(NVME_TRACE_IRQ)) trace_irq(p);
      return p;
    }
    if (time_ns() >= deadline) return 0;
    iommu_poll();
    wait_for_interrupt();
  }
}

u32 IMPORT(irq_wait)(env_t *e, u64 timeout_ns) { (void)e; return wait_lines(timeout_ns); }

void IMPORT(irq_ack)(env_t *e, u32 line) {
  (void)e;
  if (line >= LINES || !lines[line].used) return;
  if (lines[line].mode == MODE_INTX) pic_unmask(lines[line].irq);
}

/* ---- checked MMIO writes: MSI-X tables and NVMe queue bases ----------------------------------
 * A write the host refuses is a trap of the guest (the write is not performed): an MSI-X message
 * the host did not hand out could aim a device's interrupt write anywhere in memory, and an admin
 * queue or a memory buffer outside the window would have the controller DMA there as soon as it
 * is enabled (the IOMMU, when present, blocks that too; these checks also hold without it). */

/* An MSI-X table entry's address and data dwords must be what irq_msi_address / irq_msi_data
 * give for one of this function's MSI-X lines; Vector Control (the mask bit) is free. */
static void check_msix_write(const struct mapping *m, u32 off, u32 v) {
  u32 entry = (off - m->msix_lo) / MSIX_ENTRY_BYTES, field = (off - m->msix_lo) % MSIX_ENTRY_BYTES;
  if (field != MSIX_ADDR_LO && field != MSIX_ADDR_HI && field != MSIX_DATA) return;
  for (u32 l = 0; l < LINES; l++) {
    if (!is_msix_line(l) || lines[l].bdf != m->bdf) continue;
    u32 want = field == MSIX_DATA ? msi_data(l) : (u32)(msi_address(l) >> (field == MSIX_ADDR_HI ? 32 : 0));
    if (v == want) return;
  }
  const char *what = field == MSIX_ADDR_LO ? "message address low" : field == MSIX_ADDR_HI ? "message address high" : "message data";
  char bdf[8];
  fmt_bdf(bdf, m->bdf);
  kprintf("trap: msi-x: %s table entry %u: %s 0x%08x is not one the host handed out\n", bdf, entry, what, v);
  kernel_fail(EXIT_TRAP);
}

static u64 mmio_read64(const struct mapping *m, u32 off) {
  u32 lo = *(volatile u32 *)(m->virt + off);
  return (u64)*(volatile u32 *)(m->virt + off + 4) << 32 | lo;
}

static bool in_window(u64 addr, u64 bytes) {
  u64 lo = (u64)(uintptr_t)guest_arena, hi = lo + ARENA_SIZE;
  return addr >= lo && addr <= hi && bytes <= hi - addr;
}

_Noreturn static void queue_outside(const struct mapping *m, const char *queue, u64 base, u64 bytes) {
  char bdf[8];
  fmt_bdf(bdf, m->bdf);
  kprintf("trap: nvme: %s CC.EN=1 with %s 0x%016lx (+%lu bytes) outside the DMA window\n", bdf, queue, base, bytes);
  kernel_fail(EXIT_TRAP);
}

/* CC.EN going from 0 to 1 starts the controller on the admin queues: both must lie in the window. */
static void check_enable(const struct mapping *m, u32 v) {
  if (!(v & NVME_CC_EN) || (*(volatile u32 *)(m->virt + NVME_CC) & NVME_CC_EN)) return;
  u32 aqa = *(volatile u32 *)(m->virt + NVME_AQA);
  u64 asq = mmio_read64(m, NVME_ASQ), acq = mmio_read64(m, NVME_ACQ);
  u64 sq_bytes = (u64)(NVME_AQA_ASQS(aqa) + 1) * NVME_SQE_BYTES, cq_bytes = (u64)(NVME_AQA_ACQS(aqa) + 1) * NVME_CQE_BYTES;
  if (!in_window(asq, sq_bytes)) queue_outside(m, "ASQ", asq, sq_bytes);
  if (!in_window(acq, cq_bytes)) queue_outside(m, "ACQ", acq, cq_bytes);
}

/* Registers that make the controller DMA to an address of their own: only 0 (disabled) passes. */
static void check_memory_space_control(const struct mapping *m, u32 off, u32 v) {
  const char *name = (off == NVME_BPMBL || off == NVME_BPMBL + 4) ? "BPMBL"
                   : (off == NVME_CMBMSC || off == NVME_CMBMSC + 4) ? "CMBMSC"
                   : (off == NVME_PMRMSC || off == NVME_PMRMSC + 4) ? "PMRMSC" : NULL;
  if (name && v != 0) {
    char bdf[8];
    fmt_bdf(bdf, m->bdf);
    kprintf("trap: nvme: %s write of 0x%08x to %s refused: only 0 (disabled) is allowed\n", bdf, v, name);
    kernel_fail(EXIT_TRAP);
  }
}

static void guarded_write(const struct mapping *m, u32 off, u32 v) {
  if (off >= m->msix_lo && off < m->msix_hi) check_msix_write(m, off, v);
  if (off < m->nvme_regs_end) {
    if (off == NVME_CC) check_enable(m, v);
    else check_memory_space_control(m, off, v);
  }
}

/* ---- the block link: a client's `blk` imports, served by the driver's exports ------------------
 * The host alone sees both memories: it copies records and data between the client's memory and
 * the client's share of the driver's buffer memory, tags each request with the client's id, and
 * queues the driver's request_done calls per client until the client collects them. */
#if !GUEST_HAS_MAIN

#define MAX_CLIENTS 2                      /* the shell and fs.wasm */
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
 * cannot tell apart from another client's. Only reads, writes and log pages move data: every other
 * operation (flush, zeroes, deallocate, or an unknown one the driver refuses) gets the share's base.
 * A log page's `ns` is a controller index and `blocks` its byte count: a count past the limit
 * goes on unchecked, for the driver to refuse (ERR_RANGE, nothing sent). */
u32 BLK(submit)(blk_t *c, u32 tag, u32 op, u32 ns, u64 lba, u32 blocks, u32 off) {
  u32 kind = op & NVME_OP_MASK;
  bool data = kind == NVME_OP_READ || kind == NVME_OP_WRITE || kind == NVME_OP_LOG_PAGE;
  if (kind == NVME_OP_LOG_PAGE) {
    if (blocks <= NVME_LOG_PAGE_BYTES_MAX && !in_share(c, off, blocks)) return NVME_ERR_BAD_BUFFER;
  } else if (data) {
    if (ns >= ns_known) return NVME_ERR_NO_NAMESPACE;
    if (!in_share(c, off, request_bytes(blocks, ns_shift[ns]))) return NVME_ERR_BAD_BUFFER;
  } else {
    off = 0;
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

/* ---- the module link: the shell's fs.call, answered by fs.wasm (docs/fs-interface.md) -----------
 * As host/module-link.js does under Node: the request is copied from the shell's memory into
 * fs.wasm's inbox, fs_handle runs, and the response is copied from its outbox back into the shell's
 * memory. The host reads nothing of the messages but their lengths. wasm2c names the shell's `fs`
 * import module after fs.wasm's own instance type (-n fs), so the shell is instantiated with the
 * fs.wasm instance itself and fs.call receives it. */
static bool fs_ready;                /* fs.wasm instantiated (it had room for its share) */

u32 FS_CALL(FS_TYPE *fs, u32 req_ptr, u32 req_len, u32 resp_ptr, u32 resp_cap) {
  if (!fs_ready || !in_memory(&client_env, req_ptr, req_len) || !in_memory(&client_env, resp_ptr, resp_cap)) return (u32)-1;
  u32 inbox = FS(fs_inbox)(fs);
  if (req_len > FS(fs_inbox_bytes)(fs) || !in_memory(&fs_env, inbox, req_len)) return (u32)-1;
  memcpy(fs_env.memory.data + inbox, client_env.memory.data + req_ptr, req_len);
  u32 resp_len = FS(fs_handle)(fs, req_len);
  u32 outbox = FS(fs_outbox)(fs);
  if (resp_len > resp_cap || !in_memory(&fs_env, outbox, resp_len)) return (u32)-1;
  memcpy(client_env.memory.data + resp_ptr, fs_env.memory.data + outbox, resp_len);
  return resp_len;
}

#endif /* !GUEST_HAS_MAIN */

/* ---- the end ------------------------------------------------------------------------------- */

void IMPORT(poweroff)(env_t *e, u32 code) {
  (void)e;
  if (code != 0) host_cleanup();
  machine_poweroff((s32)code);
}

/* An AssemblyScript string: UTF-16 code units, its byte length in the 4 bytes before it. */
/* abort's msg and file: an AssemblyScript string (UTF-16, its byte length in the u32 before it),
 * or, with bit 31 set, a Text of host/ascii-strings.js (a length byte, then ASCII): docs/abi.md. */
#define ABORT_TEXT_FLAG 0x80000000u

static void print_abort_string(const env_t *e, u32 ptr) {
  if (ptr & ABORT_TEXT_FLAG) {
    u32 at = ptr & ~ABORT_TEXT_FLAG;
    if (at >= e->memory.size) { kputs("(bad text)"); return; }
    u32 len = e->memory.data[at];
    if (!in_memory(e, at + 1, len)) { kputs("(bad text)"); return; }
    for (u32 i = 0; i < len; i++) {
      u8 c = e->memory.data[at + 1 + i];
      console_putc(c >= 0x20 && c < 0x7F ? (char)c : '?');
    }
    return;
  }
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
  print_abort_string(e, msg);
  kputs(" at ");
  print_abort_string(e, file);
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
  if (boot_cmdline_kept < 11 || memcmp(boot_cmdline, p, 11) != 0) return;
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
  if (ram_end < REBOOT_MARKER_ADDR + 4096) return; /* not enough RAM (or unknown) */
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
 * then fs.wasm and the shell, linked to it (the shell also to fs.wasm), whose main ends in poweroff. */
_Noreturn static void run_guests(void) {
  static SHELL_TYPE shell;
  static FS_TYPE fs;
  static blk_t shell_blk, fs_blk;
  nvme_instantiate(&driver, &driver_env);
  nvme_io_queues(&driver, MAX_CLIENTS); /* a pair per client; the queues= boot option may ask for more */
  s32 found = nvme_start_cmdline(&driver, BUFFER_BYTES);
  if (found < 0) kprintf("boot: the driver's start_cmdline answered %d: %s\n", found, start_error(found));
  env_init(&client_env, "shell", client_arena, CLIENT_PAGES);
  u32 total = nvme_buffer_bytes(&driver);
  u32 shell_share = total < SHELL_SHARE_BYTES ? total : SHELL_SHARE_BYTES;
  link_client(&shell_blk, &client_env, shell_share);
  env_init(&fs_env, "fs", fs_arena, FS_PAGES);
  if (total - shell_share >= FS_SHARE_BYTES) {   /* without room, fs.call answers -1 */
    link_client(&fs_blk, &fs_env, FS_SHARE_BYTES);
    FS_INSTANTIATE(&fs, &fs_blk, &fs_env);
    fs_ready = true;
  }
#if CLIENT_HAS_FS
  SHELL_INSTANTIATE(&shell, &shell_blk, &client_env, &fs);
#else
  SHELL_INSTANTIATE(&shell, &shell_blk, &client_env);   /* a client that does not import fs.call */
#endif
  main_returned(SHELL_MAIN(&shell));
}
#endif

/* Last words before any poweroff (machine_poweroff calls this once): faults the IOMMU recorded,
 * a bait page a device wrote to, console bytes that may have been lost. */
void host_at_exit(void) {
  iommu_fault_event(); /* look at FSTS now, whatever the interval */
  iommu_poll();
  bait_check();
  console_report_loss();
}

void kmain(u32 magic, u32 info) {
  console_init(magic, info); /* COM1, and the screen the boot loader left */
  check_memory(magic, info); /* first: with too little RAM the rest of the kernel is not there */
  save_cmdline();            /* before anything else could overwrite the multiboot data */
  bait_fill();
  arch_init();
  check_reboot();
  irq_handler = on_irq;
  env_init(&driver_env, GUEST_HAS_MAIN ? "guest" : "nvme", guest_arena, DRIVER_PAGES);
  kprintf("boot: nvme-wasm bare-metal host, tsc %lu MHz, memory at 0x%lx\n", tsc_hz() / 1000000,
          (u64)(uintptr_t)guest_arena);
  self_test_fault();
  iommu_init((u64)(uintptr_t)guest_arena, ARENA_SIZE); /* translation on before any guest code */
  wasm_rt_init();
  run_guests();
}
