/* Intel VT-d DMA remapping: with it, the devices the guest drives reach the driver's DMA window and
 * nothing else. Section numbers are those of Intel's "Virtualization Technology for Directed I/O,
 * Architecture Specification" rev 3.x ("the spec"); QEMU 7.2's -device intel-iommu implements it.
 *
 *  - Units: every DMA remapping hardware unit (DRHD, 8.3) of PCI segment 0 in the ACPI DMAR table
 *    (8.1), its registers (10.4) mapped uncached.
 *  - Tables, legacy mode: one root table (9.1) and per-bus context tables (9.3), shared by all
 *    units. A function gets a context entry only when the guest claims it (host.c calls
 *    iommu_attach the first time the guest reads an existing function's configuration space);
 *    every other requester ID stays not present, so its DMA is blocked and reported.
 *  - One domain (DOMAIN_ID) whose second-level tables (9.8) map exactly the driver's DMA window,
 *    1:1 (IOVA = physical address), read/write; 2 MiB pages where the window allows (CAP.SLLPS).
 *  - Translation goes on before any guest code runs: root table pointer, global context-cache and
 *    IOTLB invalidation (6.5.1, register-based), write-buffer flush when CAP.RWBF asks, the fault
 *    event interrupt, then GCMD.TE (10.4.4).
 *  - Faults: the fault event interrupt (10.4.10-10.4.13) only sets a flag (nothing is printed from
 *    an interrupt handler). iommu_poll, called from the host's waits (irq_wait, the block link's
 *    idle step, relax, console_read) and at poweroff, reads FSTS (10.4.9) when the flag is set or
 *    FAULT_POLL_NS has passed, prints one line per fault recording register (10.4.14) with F set,
 *    and clears it.
 *  - MSI-X: a device's write to 0xFEExxxxx is an interrupt request, not DMA (chapter 3, "Handling
 *    Requests to Interrupt Address Range"; chapter 5): with interrupt remapping off (GCMD.IRE never
 *    set) the unit passes it to the local APIC untranslated, so MSI-X works with translation on. */
#include <string.h>
#include "kernel.h"

/* ---- the ACPI DMAR table (8.1) and its DRHD structures (8.3) --------------------------------- */
#define DMAR_STRUCTS 48               /* remapping structures follow the 48-byte header */
#define DMAR_STRUCT_TYPE 0            /* u16 */
#define DMAR_STRUCT_LENGTH 2          /* u16 */
#define DMAR_TYPE_DRHD 0
#define DRHD_FLAGS 4                  /* u8 */
#define DRHD_INCLUDE_PCI_ALL 0x01     /* the unit covers every device of the segment not listed elsewhere */
#define DRHD_SEGMENT 6                /* u16 */
#define DRHD_BASE 8                   /* u64 register base address */
#define DRHD_SCOPES 16                /* device scope structures (8.3.1) */
#define SCOPE_TYPE 0
#define SCOPE_LENGTH 1
#define SCOPE_START_BUS 5
#define SCOPE_PATH 6                  /* (device, function) byte pairs, one per bridge hop */
#define SCOPE_PCI_ENDPOINT 1
#define SCOPE_PCI_SUBHIERARCHY 2
#define PCI_BRIDGE_BUSES 0x18         /* type 1 header: primary 7:0, secondary 15:8, subordinate 23:16 */
#define BUSES_SECONDARY(d) (((d) >> 8) & 0xFF)
#define BUSES_SUBORDINATE(d) (((d) >> 16) & 0xFF)

/* ---- registers (10.4) ---------------------------------------------------------------------- */
#define VTD_VER 0x00
#define VTD_CAP 0x08                  /* 10.4.2 */
#define VTD_ECAP 0x10                 /* 10.4.3 */
#define VTD_GCMD 0x18                 /* 10.4.4 */
#define VTD_GSTS 0x1C                 /* 10.4.5 */
#define VTD_RTADDR 0x20               /* 10.4.6 */
#define VTD_CCMD 0x28                 /* 10.4.7 */
#define VTD_FSTS 0x34                 /* 10.4.9 */
#define VTD_FECTL 0x38                /* 10.4.10 */
#define VTD_FEDATA 0x3C               /* 10.4.11 */
#define VTD_FEADDR 0x40               /* 10.4.12 */
#define VTD_FEUADDR 0x44              /* 10.4.13 */
#define VTD_REGS_MIN 0x1000           /* one page holds the registers above */
#define MSI_ADDRESS_BASE 0xFEE00000u  /* fault events go to the local APIC: destination in 19:12 */
#define MSI_DEST_SHIFT 12

#define CAP_RWBF (1ULL << 4)          /* table updates need a write-buffer flush */
#define CAP_CM (1ULL << 7)            /* caching mode: not-present entries may be cached */
#define CAP_SAGAW(c) (((c) >> 8) & 0x1F)
#define SAGAW_3_LEVEL 0x2             /* 39-bit guest address width */
#define SAGAW_4_LEVEL 0x4             /* 48-bit */
#define CAP_MGAW(c) ((((c) >> 16) & 0x3F) + 1)
#define CAP_FRO(c) ((u32)(((c) >> 24) & 0x3FF) * 16) /* fault recording registers' offset */
#define CAP_SLLPS_2M (1ULL << 34)     /* second-level 2 MiB pages */
#define CAP_NFR(c) ((u32)(((c) >> 40) & 0xFF) + 1)   /* how many fault recording registers */
#define CAP_DWD (1ULL << 54)
#define CAP_DRD (1ULL << 55)
#define ECAP_C (1ULL << 0)            /* page walks snoop the CPU caches */
#define ECAP_IRO(e) ((u32)(((e) >> 8) & 0x3FF) * 16) /* IOTLB registers' offset */
#define IOTLB_REG 8                   /* the IOTLB invalidate register, at IRO + 8 (10.4.8.1) */

#define GCMD_TE (1u << 31)
#define GCMD_SRTP (1u << 30)
#define GCMD_WBF (1u << 27)
#define GSTS_TES (1u << 31)
#define GSTS_RTPS (1u << 30)
#define GSTS_WBFS (1u << 27)
#define GSTS_KEEP 0x96FFFFFFu         /* 10.4.4: GSTS bits to write back with a command (one-shots cleared) */

#define CCMD_ICC (1ULL << 63)         /* set to invalidate; hardware clears it when done */
#define CCMD_CIRG_GLOBAL (1ULL << 61)
#define IOTLB_IVT (1ULL << 63)
#define IOTLB_IIRG_GLOBAL (1ULL << 60)
#define IOTLB_DR (1ULL << 49)
#define IOTLB_DW (1ULL << 48)

#define FSTS_PFO (1u << 0)            /* a fault was lost: every recording register was full */
#define FSTS_PPF (1u << 1)            /* some recording register has F set */
#define FSTS_FRI(f) (((f) >> 8) & 0xFF)
#define FECTL_IM (1u << 31)

/* A fault recording register (10.4.14): 128 bits, read as two quadwords. */
#define FRCD_LO 0                     /* bits 63:12 the faulting page (Fault Info) */
#define FRCD_HI 8
#define FRCD_HI_DWORD 12              /* the dword holding F: writing F there clears the record */
#define FRCD_F (1ULL << 63)
#define FRCD_T (1ULL << 62)           /* 1: a read request, 0: a write */
#define FRCD_FR(h) ((u32)((h) >> 32) & 0xFF)
#define FRCD_SID(h) ((u32)(h) & 0xFFFF)
#define FRCD_FI_MASK (~0xFFFULL)

/* ---- translation structures (9.1, 9.3, 9.8) -------------------------------------------------- */
#define ENTRY_PRESENT 1ULL            /* root and context entries, low quadword bit 0 */
#define CTX_TT_UNTRANSLATED (0ULL << 2) /* untranslated requests walk the second-level tables */
#define CTX_AW_3_LEVEL 1ULL           /* high quadword bits 2:0 */
#define CTX_AW_4_LEVEL 2ULL
#define CTX_DID_SHIFT 8               /* high quadword bits 23:8 */
#define DOMAIN_ID 1ULL                /* the driver's domain (0 is reserved under caching mode) */
#define SL_R (1ULL << 0)
#define SL_W (1ULL << 1)
#define SL_PS (1ULL << 7)             /* a 2 MiB page in a level-2 entry */
#define SL_ADDR 0x000FFFFFFFFFF000ULL
#define PAGE_4K 0x1000ULL
#define PAGE_2M 0x200000ULL

#define MAX_UNITS 4
#define CONTEXT_TABLES 16             /* buses the guest may claim functions on */
#define SL_TABLES 16                  /* 16 MiB in 4 KiB pages needs at most 12 */
#define REG_WAIT_NS 100000000ULL      /* commands complete at once (QEMU: synchronously); 100 ms bound */
#define FAULT_POLL_NS 10000000ULL     /* without a fault event, look at FSTS this often */

struct unit {
  u64 base;
  volatile u8 *regs;
  u64 cap, ecap;
  u32 iotlb;                          /* offset of the IOTLB invalidate register */
  u32 fro, nfr;
  const u8 *drhd;                     /* its DMAR structure, for the device scopes */
  bool on;
};

static struct unit units[MAX_UNITS];
static int nunits;
static u64 root_table[256][2] __attribute__((aligned(4096)));
static u64 context_tables[CONTEXT_TABLES][256][2] __attribute__((aligned(4096)));
static int context_used;
static u64 sl_pool[SL_TABLES][512] __attribute__((aligned(4096)));
static int sl_used;
static u64 *sl_top;
static u32 sl_levels;
static bool coherent, caching_mode, write_buffer_flush;
static volatile bool fault_pending;
static u64 last_fault_poll;
static u64 window_lo, window_hi;

static u32 rd32(const struct unit *u, u32 off) { return *(volatile u32 *)(u->regs + off); }
static void wr32(const struct unit *u, u32 off, u32 v) { *(volatile u32 *)(u->regs + off) = v; }
static u64 rd64(const struct unit *u, u32 off) { return *(volatile u64 *)(u->regs + off); }
static void wr64(const struct unit *u, u32 off, u64 v) { *(volatile u64 *)(u->regs + off) = v; }

/* Waits until (register & mask) == want: the spec's commands report completion this way. */
static bool wait_reg32(const struct unit *u, u32 off, u32 mask, u32 want) {
  u64 deadline = time_ns() + REG_WAIT_NS;
  while ((rd32(u, off) & mask) != want) {
    if (time_ns() > deadline) return false;
    cpu_relax();
  }
  return true;
}

static bool wait_reg64_clear(const struct unit *u, u32 off, u64 bit) {
  u64 deadline = time_ns() + REG_WAIT_NS;
  while (rd64(u, off) & bit) {
    if (time_ns() > deadline) return false;
    cpu_relax();
  }
  return true;
}

/* 10.4.4: one command at a time, the other bits as GSTS reports them, then wait for its status. */
static bool gcmd(const struct unit *u, u32 cmd, u32 status, bool status_when_done) {
  wr32(u, VTD_GCMD, (rd32(u, VTD_GSTS) & GSTS_KEEP) | cmd);
  return wait_reg32(u, VTD_GSTS, status, status_when_done ? status : 0);
}

/* Remapping hardware that does not snoop (ECAP.C = 0) reads tables from memory: write them back. */
static void flush_entry(const void *p) {
  if (coherent) return;
  clflush(p);
  mfence();
}

/* ---- the fault reasons (Appendix A, non-recoverable fault reason encodings) ------------------- */

static const char *fault_reason(u32 r) {
  switch (r) {
  case 0x01: return "root entry not present";
  case 0x02: return "context entry not present";
  case 0x03: return "invalid context entry";
  case 0x04: return "address beyond the guest address width";
  case 0x05: return "write to a page without write permission";
  case 0x06: return "read from a page without read permission";
  case 0x07: return "error reading a second-level paging entry";
  case 0x08: return "error reading the root table";
  case 0x09: return "error reading a context table";
  case 0x0A: return "reserved bit set in a root entry";
  case 0x0B: return "reserved bit set in a context entry";
  case 0x0C: return "reserved bit set in a second-level paging entry";
  case 0x0D: return "request blocked by the context entry's translation type";
  case 0x20: return "reserved field set in an interrupt request";
  case 0x21: return "interrupt index beyond the remapping table";
  case 0x22: return "interrupt remapping entry not present";
  case 0x23: return "error reading the interrupt remapping table";
  case 0x24: return "reserved field set in an interrupt remapping entry";
  case 0x25: return "compatibility-format interrupt blocked";
  case 0x26: return "interrupt request with a wrong source id";
  default: return "a reason this kernel does not know";
  }
}

/* Prints and clears every recorded fault of a unit, oldest (FSTS.FRI) first. */
static void report_unit_faults(const struct unit *u) {
  u32 fsts = rd32(u, VTD_FSTS);
  if (!(fsts & (FSTS_PPF | FSTS_PFO))) return;
  u32 first = FSTS_FRI(fsts) % u->nfr;
  for (u32 i = 0; i < u->nfr; i++) {
    u32 rec = u->fro + 16 * ((first + i) % u->nfr);
    u64 hi = rd64(u, rec + FRCD_HI);
    if (!(hi & FRCD_F)) continue;
    u64 addr = rd64(u, rec + FRCD_LO) & FRCD_FI_MASK;
    char b[8];
    fmt_bdf(b, FRCD_SID(hi));
    kprintf("iommu: fault: %s %s 0x%016lx reason 0x%02x (%s)\n", b, (hi & FRCD_T) ? "read" : "write", addr,
            FRCD_FR(hi), fault_reason(FRCD_FR(hi)));
    wr32(u, rec + FRCD_HI_DWORD, (u32)(FRCD_F >> 32)); /* RW1C */
  }
  if (fsts & FSTS_PFO) {
    kprintf("iommu: fault: more faults than the %u recording registers of the unit at 0x%lx: some were not recorded\n",
            u->nfr, u->base);
    wr32(u, VTD_FSTS, FSTS_PFO); /* RW1C */
  }
}

void iommu_fault_event(void) { fault_pending = true; }

void iommu_poll(void) {
  if (nunits == 0) return;
  if (!fault_pending) {
    u64 now = time_ns();
    if (now - last_fault_poll < FAULT_POLL_NS) return;
    last_fault_poll = now;
  }
  fault_pending = false;
  for (int i = 0; i < nunits; i++)
    if (units[i].on) report_unit_faults(&units[i]);
}

bool iommu_active(void) {
  for (int i = 0; i < nunits; i++)
    if (units[i].on) return true;
  return false;
}

/* ---- the domain: second-level tables mapping the window 1:1 ----------------------------------- */

static u64 *sl_alloc(void) {
  if (sl_used == SL_TABLES) return NULL;
  return sl_pool[sl_used++]; /* bss: already zero, no entry present */
}

/* Maps [lo, hi) at the same IOVA, read/write. Level 1 holds 4 KiB pages, level 2 2 MiB ones. */
static bool sl_map(u64 lo, u64 hi, bool big_pages) {
  u64 a = lo;
  while (a < hi) {
    u64 *t = sl_top;
    u32 level = sl_levels;
    for (; level > 1; level--) {
      u64 *e = &t[(a >> (12 + 9 * (level - 1))) & 511];
      if (level == 2 && big_pages && (a & (PAGE_2M - 1)) == 0 && hi - a >= PAGE_2M) {
        *e = a | SL_PS | SL_R | SL_W;
        flush_entry(e);
        break;
      }
      if (!(*e & (SL_R | SL_W))) {
        u64 *n = sl_alloc();
        if (!n) return false;
        *e = (u64)(uintptr_t)n | SL_R | SL_W; /* permissions stack: the upper levels allow both */
        flush_entry(e);
      }
      t = (u64 *)(uintptr_t)(*e & SL_ADDR);
    }
    if (level == 1) {
      t[(a >> 12) & 511] = a | SL_R | SL_W;
      flush_entry(&t[(a >> 12) & 511]);
      a += PAGE_4K;
    } else {
      a += PAGE_2M;
    }
  }
  return true;
}

/* ---- device scopes: which unit translates a function ----------------------------------------- */

/* Follows a scope's path from its start bus through the bridges; returns the function it names. */
static u32 scope_target(const u8 *scope) {
  u32 bus = scope[SCOPE_START_BUS], bdf = 0;
  for (u32 o = SCOPE_PATH; o + 2 <= scope[SCOPE_LENGTH]; o += 2) {
    if (o > SCOPE_PATH) bus = BUSES_SECONDARY(pci_cfg_read(bdf, PCI_BRIDGE_BUSES)); /* behind the last hop */
    bdf = bus << 8 | (u32)(scope[o] & 31) << 3 | (scope[o + 1] & 7);
  }
  return bdf;
}

static bool scope_covers(const u8 *scope, u32 bdf) {
  u32 t = scope_target(scope);
  if (scope[SCOPE_TYPE] == SCOPE_PCI_ENDPOINT) return t == bdf;
  if (scope[SCOPE_TYPE] != SCOPE_PCI_SUBHIERARCHY) return false;
  u32 buses = pci_cfg_read(t, PCI_BRIDGE_BUSES), bus = bdf >> 8;
  return t == bdf || (bus >= BUSES_SECONDARY(buses) && bus <= BUSES_SUBORDINATE(buses));
}

static const struct unit *unit_of(u32 bdf) {
  const struct unit *all = NULL;
  for (int i = 0; i < nunits; i++) {
    const u8 *d = units[i].drhd;
    if (d[DRHD_FLAGS] & DRHD_INCLUDE_PCI_ALL) { all = &units[i]; continue; }
    u32 len = *(const u16 *)(d + DMAR_STRUCT_LENGTH);
    for (u32 o = DRHD_SCOPES; o + SCOPE_PATH <= len && d[o + SCOPE_LENGTH] >= SCOPE_PATH; o += d[o + SCOPE_LENGTH])
      if (scope_covers(d + o, bdf)) return &units[i];
  }
  return all;
}

/* ---- invalidation ----------------------------------------------------------------------------- */

/* Global context-cache and IOTLB invalidation, then the write buffer (6.5.1, 10.4.7, 10.4.8). */
static bool invalidate_all(const struct unit *u) {
  wr64(u, VTD_CCMD, CCMD_ICC | CCMD_CIRG_GLOBAL);
  if (!wait_reg64_clear(u, VTD_CCMD, CCMD_ICC)) return false;
  u64 drain = ((u->cap & CAP_DRD) ? IOTLB_DR : 0) | ((u->cap & CAP_DWD) ? IOTLB_DW : 0);
  wr64(u, u->iotlb, IOTLB_IVT | IOTLB_IIRG_GLOBAL | drain);
  if (!wait_reg64_clear(u, u->iotlb, IOTLB_IVT)) return false;
  if (write_buffer_flush && !gcmd(u, GCMD_WBF, GSTS_WBFS, false)) return false;
  return true;
}

/* ---- claiming a function ------------------------------------------------------------------------ */

static u64 (*context_table(u32 bus))[2] {
  if (root_table[bus][0] & ENTRY_PRESENT) return (u64 (*)[2])(uintptr_t)(root_table[bus][0] & SL_ADDR);
  if (context_used == CONTEXT_TABLES) return NULL;
  u64 (*ct)[2] = context_tables[context_used++];
  root_table[bus][1] = 0;
  root_table[bus][0] = (u64)(uintptr_t)ct | ENTRY_PRESENT;
  flush_entry(root_table[bus]);
  return ct;
}

void iommu_attach(u32 bdf) {
  if (!iommu_active()) return;
  char b[8];
  fmt_bdf(b, bdf);
  const struct unit *u = unit_of(bdf);
  if (!u || !u->on) {
    kprintf("iommu: %s is in no remapping unit's scope: its DMA is not translated\n", b);
    return;
  }
  u64 (*ct)[2] = context_table(bdf >> 8);
  if (!ct) {
    kprintf("iommu: no context table left for bus %u (%u in use): %s stays blocked\n", bdf >> 8, CONTEXT_TABLES, b);
    return;
  }
  u64 *ce = ct[bdf & 0xFF];
  ce[1] = (sl_levels == 4 ? CTX_AW_4_LEVEL : CTX_AW_3_LEVEL) | DOMAIN_ID << CTX_DID_SHIFT;
  ce[0] = (u64)(uintptr_t)sl_top | CTX_TT_UNTRANSLATED | ENTRY_PRESENT; /* present last */
  flush_entry(ce);
  /* Without caching mode a not-present entry is never cached, so nothing to invalidate (6.1). */
  if (!caching_mode && !write_buffer_flush) return;
  for (int i = 0; i < nunits; i++)
    if (units[i].on && !invalidate_all(&units[i]))
      kprintf("iommu: invalidation after claiming %s did not complete on the unit at 0x%lx\n", b, units[i].base);
}

/* ---- bring-up ------------------------------------------------------------------------------------ */

/* Finds the units of segment 0 and maps their registers. Returns why there are none, or NULL. */
static const char *find_units(void) {
  const u8 *dmar = acpi_table("DMAR");
  if (!dmar) return "no ACPI DMAR table";
  u32 len = *(const u32 *)(dmar + 4);
  for (u32 o = DMAR_STRUCTS; o + 4 <= len;) {
    const u8 *s = dmar + o;
    u32 slen = *(const u16 *)(s + DMAR_STRUCT_LENGTH);
    if (slen < 4 || o + slen > len) break;
    o += slen;
    if (*(const u16 *)(s + DMAR_STRUCT_TYPE) != DMAR_TYPE_DRHD || slen < DRHD_SCOPES) continue;
    if (*(const u16 *)(s + DRHD_SEGMENT) != 0) continue; /* the kernel reaches segment 0 only (port 0xCF8) */
    if (nunits == MAX_UNITS) {
      kprintf("iommu: more than %u remapping units: the one at 0x%lx is left off\n", MAX_UNITS, *(const u64 *)(s + DRHD_BASE));
      continue;
    }
    struct unit *u = &units[nunits];
    u->base = *(const u64 *)(s + DRHD_BASE);
    u->drhd = s;
    u->regs = map_identity(u->base, VTD_REGS_MIN, true);
    if (!u->regs) { kprintf("iommu: cannot map the unit's registers at 0x%lx\n", u->base); continue; }
    u->cap = rd64(u, VTD_CAP);
    u->ecap = rd64(u, VTD_ECAP);
    u->iotlb = ECAP_IRO(u->ecap) + IOTLB_REG;
    u->fro = CAP_FRO(u->cap);
    u->nfr = CAP_NFR(u->cap);
    u32 end = u->fro + 16 * u->nfr > u->iotlb + 8 ? u->fro + 16 * u->nfr : u->iotlb + 8;
    if (end > VTD_REGS_MIN && !map_identity(u->base, end, true)) {
      kprintf("iommu: cannot map 0x%x bytes of registers at 0x%lx\n", end, u->base);
      continue;
    }
    nunits++;
  }
  return nunits ? NULL : "the ACPI DMAR table lists no remapping unit for PCI segment 0";
}

/* The page-table depth every unit supports, or 0. */
static u32 choose_levels(void) {
  u32 sagaw = 0x1F;
  for (int i = 0; i < nunits; i++) sagaw &= CAP_SAGAW(units[i].cap);
  if (sagaw & SAGAW_3_LEVEL) return 3;
  if (sagaw & SAGAW_4_LEVEL) return 4;
  return 0;
}

/* Root table, invalidations, fault event interrupt, translation on: returns the failed step. */
static const char *enable_unit(struct unit *u) {
  if (CAP_MGAW(u->cap) < 64 && window_hi > 1ULL << CAP_MGAW(u->cap)) return "the window lies above the unit's address width";
  wr64(u, VTD_RTADDR, (u64)(uintptr_t)root_table); /* TTM 00: legacy root and context entries */
  if (!gcmd(u, GCMD_SRTP, GSTS_RTPS, true)) return "set root table pointer";
  if (!invalidate_all(u)) return "global invalidation";
  wr32(u, VTD_FEDATA, IOMMU_FAULT_VECTOR);               /* fixed delivery, edge */
  wr32(u, VTD_FEADDR, MSI_ADDRESS_BASE | lapic_id() << MSI_DEST_SHIFT); /* this CPU */
  wr32(u, VTD_FEUADDR, 0);
  wr32(u, VTD_FECTL, 0);                                 /* IM clear: interrupts on */
  report_unit_faults(u);                                 /* anything left from before us */
  if (!gcmd(u, GCMD_TE, GSTS_TES, true)) return "translation enable";
  return NULL;
}

void iommu_init(u64 window, u64 window_bytes) {
  window_lo = window;
  window_hi = window + window_bytes;
  const char *none = find_units();
  if (none) {
    kprintf("iommu: none (%s): devices can DMA anywhere\n", none);
    return;
  }
  bool big = true;
  coherent = true;
  for (int i = 0; i < nunits; i++) {
    coherent &= (units[i].ecap & ECAP_C) != 0;
    caching_mode |= (units[i].cap & CAP_CM) != 0;
    write_buffer_flush |= (units[i].cap & CAP_RWBF) != 0;
    big &= (units[i].cap & CAP_SLLPS_2M) != 0;
  }
  sl_levels = choose_levels();
  if (sl_levels == 3 && window_hi > 1ULL << 39) sl_levels = 0; /* 3 levels reach 512 GiB only */
  sl_top = sl_alloc();
  if (!sl_levels || !sl_map(window_lo, window_hi, big)) {
    kprintf("iommu: %s: translation stays off, devices can DMA anywhere\n",
            sl_levels ? "out of page tables for the window" : "no page-table depth (3 or 4 levels) that every unit supports");
    nunits = 0;
    return;
  }
  flush_entry(root_table); /* all zero: no bus present yet */
  lapic_enable();          /* the fault event interrupt goes to the local APIC */
  for (int i = 0; i < nunits; i++) {
    struct unit *u = &units[i];
    const char *failed = enable_unit(u);
    u32 ver = rd32(u, VTD_VER);
    if (failed) {
      kprintf("iommu: VT-d %u.%u at 0x%lx: %s did not complete: translation off, devices can DMA anywhere\n",
              (ver >> 4) & 15, ver & 15, u->base, failed);
      continue;
    }
    u->on = true;
    kprintf("iommu: VT-d %u.%u at 0x%lx: translation on; devices the guest claims reach only the DMA window "
            "0x%lx..0x%lx (%s pages, %u-level tables)\n", (ver >> 4) & 15, ver & 15, u->base, window_lo,
            window_hi - 1, big && (window_lo & (PAGE_2M - 1)) == 0 ? "2 MiB" : "4 KiB", sl_levels);
  }
  last_fault_poll = time_ns();
}
