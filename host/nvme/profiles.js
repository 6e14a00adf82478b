// Controller profiles: each a plain object of parameters for NvmeController.
// `makeProfile('strict', 'mdts=2,mqes=15')` or `makeProfile('qemu', { mdts: 2 })` gives a copy with
// fields overridden one by one (numbers, booleans, and [lo,hi] ranges as "lo:hi" or "lo-hi").
//
// Delays are Numbers of nanoseconds, given as [lo, hi] ranges from which the controller draws with
// its seeded Rng. A delay of [0, 0] for RDY/SHST means "in the same register write" (like QEMU).
//
// Two kinds of profile. qemu, strict, legacy and tiny carry real vendor/device ids but invented
// behaviour (strictness to test a driver against). The others reproduce documented behaviour of a
// real controller: the quirks Linux works around for that vendor/device id (drivers/nvme/host/pci.c,
// nvme_id_table; what each NVME_QUIRK_* means: drivers/nvme/host/nvme.h) and the figures public
// reports give for it. Each says where every fact comes from (`source`, and the comment above it),
// which Linux quirks it has (`linuxQuirks`), and marks the parameters no public report gave
// (`unsourced`: kept plausible, not facts). Only facts are taken from those sources, no code.

const common = {
  // identity
  name: "generic",
  vid: 0x1b36,
  did: 0x0010,
  ssvid: 0x1af4,
  ssid: 0x1100,
  revision: 0x02,
  version: "1.4.0", // VS register and Identify VER
  model: "nvme-wasm model controller",
  serial: "NWM0001",
  firmware: "1.0",
  ieee: 0x525400, // IEEE OUI
  subnqnPrefix: "nqn.2019-08.org.nvme-wasm",
  // CAP
  mqes: 2047, // 0-based: maximum entries per queue minus one (admin queue included)
  dstrd: 0, // doorbell stride: 4 << dstrd bytes
  timeout: 15, // CAP.TO, in 500 ms units
  mpsmin: 0, // 4 KiB
  mpsmax: 0,
  ams: 0, // only round robin
  // controller
  mdts: 7, // 2^mdts * min page size; 0 = no limit
  sgl: false, // SGL support for NVM commands (SGLS); without it PSDT != 0 is Invalid Field
  sglDword: false, // SGLS bits 1:0 = 10b: Data Blocks dword-aligned in address and length (else 01b: any)
  sglExcess: false, // SGLS bit 20: an SGL may describe more bytes than the command moves (else Data SGL Length Invalid)
  dbbuf: false, // Doorbell Buffer Config (OACS bit 8, NVMe 1.3+): shadow doorbells and EventIdx (dbbuf.js)
  vwc: true, // volatile write cache present
  ioQueuePairs: 64, // granted by Set Features Number of Queues, whatever is asked
  cns2: true, // Identify CNS 02h (Active Namespace ID list), NVMe 1.1+
  cns3: true, // Identify CNS 03h (Namespace Identification Descriptor list), NVMe 1.3+
  acl: 3, // Abort Command Limit, 0-based
  aerl: 3, // Asynchronous Event Request Limit, 0-based
  elpe: 7, // Error Log Page Entries, 0-based
  temperatureK: 321, // SMART composite temperature (§5.14.1.2), kelvin; Identify WCTEMP is 343 K, CCTEMP 373 K
  // interrupts
  msixVectors: 65, // 0 = no MSI-X capability
  msixBar: 0, // BAR holding the MSI-X table and PBA: 0 (after the doorbells) or 4 (its own BAR)
  msiVectors: 0, // plain MSI capability (PCI 3.0 §6.8.1): messages capable (MMC), 1..32, a power of 2; 0 = none
  msi64: true, // the MSI capability takes a 64-bit message address
  msiMasking: true, // per-vector masking capable (Mask Bits and Pending Bits registers)
  intx: true, // INTA# pin
  // timing (ns ranges)
  rdyDelayNs: [0, 0], // CC.EN 0->1 until CSTS.RDY=1
  disableDelayNs: [0, 0], // CC.EN 1->0 until CSTS.RDY=0
  shutdownDelayNs: [0, 0], // CC.SHN until CSTS.SHST=10b
  fetchDelayNs: [200, 500], // SQ tail doorbell until the commands are fetched
  completionDelayNs: [500, 2000], // fetch until the completion is posted
  reorder: false, // commands of one fetch complete in a shuffled order (IO queues only)
  bar0Size: 0x4000, // at least; grown to hold the doorbells and the MSI-X structures
  // quirks of real controllers (see the profiles below for what each reproduces, and where from)
  rdyHandsOffNs: 0, // NVME_QUIRK_DELAY_BEFORE_CHK_RDY: after CC.EN 1->0, a CSTS read sooner than this wedges the reset
  cnsQuirk: "none", // NVME_QUIRK_IDENTIFY_CNS: 'boolean' (CDW10 != 0 -> Identify Controller, old QEMU) or 'bit0' (CNS read as bit 0, NVMe 1.0 style, Apple)
  nidQuirk: "none", // NVME_QUIRK_BOGUS_NID: 'nsid-uuid' (UUID = NSID big-endian, same on every controller) or 'zero-uuid'
  ioSqeBytes: 64, // NVME_QUIRK_128_BYTES_SQES: 128 = IO SQ entries are 128 bytes apart whatever CC.IOSQES says
  sharedTags: false, // NVME_QUIRK_SHARED_TAGS: command ids are one tag space across the admin and IO queues
  tagLimit: 0, // NVME_QUIRK_SKIP_CID_GEN: command ids must stay below this (0: any 16-bit id)
  writeZeroesQuirk: "none", // NVME_QUIRK_DISABLE_WRITE_ZEROES: 'nlb-off-by-one' (SK hynix PC400 firmware)
  dmaBits: 64, // NVME_QUIRK_DMA_ADDRESS_BITS_48: 48 = no DMA at or above 2^48
  writeZeroes: true, // Write Zeroes implemented and advertised (ONCS bit 3, on 1.1+ controllers)
  dsm: true, // Dataset Management implemented and advertised (ONCS bit 2)
  dlfeat: 0x09, // Identify Namespace DLFEAT (§5.15.2.2): bits 2:0 001b deallocated blocks read as zeroes, bit 3 Write Zeroes' DEAC honoured
  deallocate: "zeroes", // what a DSM deallocate does: 'zeroes' (the blocks read as zeroes, as DLFEAT says) or 'ignore' (QEMU's -drive discard=ignore, its default: success, nothing changes)
  aer: true, // Asynchronous Event Requests accepted (else Invalid Opcode)
  adminSet: "full", // 'qemu-1.x': only queue create/delete, Identify and the Number of Queues feature (QEMU <= 2.x)
  sqes: 0x66, // Identify SQES: required (3:0) and maximum (7:4) SQ entry size, log2
  // what a profile is (not device parameters: --set cannot change them)
  summary: "custom profile", // one line for --help
  source: "given by the caller", // where its facts come from
  linuxQuirks: [], // the NVME_QUIRK_* names Linux applies to its vendor/device id
  unsourced: [], // parameters no public report gave (plausible values, not facts)
};

// Profile fields that describe rather than configure: not overridable, checked by checkProfile.
const META = new Set(["summary", "source", "linuxQuirks", "unsourced"]);
// NVME_QUIRK_* names (drivers/nvme/host/nvme.h) a profile may list
export const LINUX_QUIRKS = [
  "STRIPE_SIZE",
  "IDENTIFY_CNS",
  "DEALLOCATE_ZEROES",
  "DELAY_BEFORE_CHK_RDY",
  "NO_APST",
  "NO_DEEPEST_PS",
  "MEDIUM_PRIO_SQ",
  "IGNORE_DEV_SUBNQN",
  "DISABLE_WRITE_ZEROES",
  "SIMPLE_SUSPEND",
  "SINGLE_VECTOR",
  "128_BYTES_SQES",
  "SHARED_TAGS",
  "NO_TEMP_THRESH_CHANGE",
  "NO_NS_DESC_LIST",
  "DMA_ADDRESS_BITS_48",
  "SKIP_CID_GEN",
  "BOGUS_NID",
];
// Linux's NVME_QUIRK_DELAY_AMOUNT (drivers/nvme/host/nvme.h): 2300 ms, "found empirically" for the
// HGST adapter 1c58:0003 (2000 ms when the quirk was added, raised to 2300 later).
export const NVME_QUIRK_DELAY_AMOUNT_MS = 2300;

export const profiles = {
  // Like QEMU 7.2's -device nvme. Linux gives QEMU's id 1b36:0010 NVME_QUIRK_BOGUS_NID (see
  // qemu-5.1); this profile's namespace identifiers are unique per serial and namespace instead.
  qemu: {
    ...common,
    name: "qemu",
    summary: "QEMU 7.2-like -device nvme (the default)",
    source: "QEMU 7.2 hw/nvme as the QEMU tests meet it; timing and strictness are the model's",
    model: "QEMU NVMe Ctrl",
    serial: "deadbeef",
    firmware: "7.2.0",
    subnqnPrefix: "nqn.2019-08.org.qemu",
    sgl: true,
    dbbuf: true, // QEMU 7.1+: OACS bit 8; EventIdx written as it fetches (dbbuf.js)
    version: "1.4.0",
    mpsmax: 4, // QEMU 7.2: CAP.MPSMAX = 4 (64 KiB), MPSMIN = 0
    // QEMU 7.2 hw/nvme/ns.c: DLFEAT = 1 (deallocated blocks read as zeroes; Write Zeroes' DEAC not
    // reported). Its DSM deallocate discards through the block layer: with -drive discard=unmap a raw
    // file gets holes and the blocks read as zeroes (this profile); with the default discard=ignore
    // (boot/qemu.sh, the QEMU tests) nothing changes and the old data reads back, DLFEAT
    // notwithstanding: --set deallocate=ignore (test/qemu/zeroes.test.js shows both).
    dlfeat: 0x01,
  },
  // Like a picky real controller.
  strict: {
    ...common,
    name: "strict",
    summary:
      "picky: RDY delay, 16-byte doorbell stride, 32-entry queues, MDTS 128 KiB, no SGL, MSI-X in BAR 4, reordered completions",
    source: "invented behaviour (Samsung's id 144d:a808; no Samsung facts)",
    vid: 0x144d,
    did: 0xa808,
    ssvid: 0x144d,
    ssid: 0xa801,
    version: "1.3.0",
    model: "nvme-wasm strict SSD 970",
    serial: "S4EWNX0R123456",
    firmware: "2B2QEXM7",
    ieee: 0x002538,
    subnqnPrefix: "nqn.2014-08.org.nvmexpress",
    mqes: 31,
    dstrd: 2,
    timeout: 20,
    mpsmin: 0,
    mpsmax: 4,
    mdts: 5,
    sgl: false,
    vwc: true,
    ioQueuePairs: 4,
    msixVectors: 17,
    msixBar: 4,
    rdyDelayNs: [2_000_000, 8_000_000],
    disableDelayNs: [1_000_000, 4_000_000],
    shutdownDelayNs: [3_000_000, 12_000_000],
    fetchDelayNs: [1_000, 5_000],
    completionDelayNs: [10_000, 80_000],
    reorder: true,
  },
  // An NVMe 1.0 controller: no CNS 02h, no MDTS limit, INTx only, no write cache.
  legacy: {
    ...common,
    name: "legacy",
    summary: "NVMe 1.0: no active namespace list, no MDTS, INTx only, no write cache",
    source: "invented behaviour (Intel 750's id 8086:0953; no Intel facts)",
    vid: 0x8086,
    did: 0x0953,
    ssvid: 0x8086,
    ssid: 0x3705,
    version: "1.0.0",
    model: "nvme-wasm legacy 750",
    serial: "CVCQ5130001",
    firmware: "8EV10135",
    ieee: 0x5cd2e4,
    mqes: 63,
    dstrd: 1,
    timeout: 10,
    mdts: 0,
    vwc: false,
    ioQueuePairs: 8,
    cns2: false,
    cns3: false,
    msixVectors: 0,
    intx: true,
    rdyDelayNs: [500_000, 3_000_000],
    disableDelayNs: [200_000, 1_000_000],
    shutdownDelayNs: [1_000_000, 5_000_000],
    fetchDelayNs: [1_000, 3_000],
    completionDelayNs: [5_000, 30_000],
  },
  // Tiny queues and transfers: 4-entry queues (admin too), 8 KiB transfers, one IO queue pair.
  tiny: {
    ...common,
    name: "tiny",
    summary: "4-entry queues (admin too), MDTS 8 KiB, one IO queue pair",
    source: "invented behaviour (Amazon EBS's id 1d0f:0061, without its 48-bit DMA limit: see amazon-ebs)",
    vid: 0x1d0f,
    did: 0x0061,
    version: "1.2.0",
    model: "nvme-wasm tiny",
    serial: "TINY0001",
    mqes: 3,
    mdts: 1,
    dstrd: 0,
    ioQueuePairs: 1,
    msixVectors: 2,
    cns3: false,
  },

  // A function with plain MSI and no MSI-X (QEMU's nvme has MSI-X, not MSI): one message, a 64-bit
  // address, per-vector masking; INTx too. Otherwise as qemu.
  "msi-only": {
    ...common,
    name: "msi-only",
    summary: "plain MSI (1 message, 64-bit address, per-vector masking) and INTx, no MSI-X",
    source: "invented behaviour: QEMU 7.2 nvme ids and parameters, with MSI in place of MSI-X",
    msixVectors: 0,
    msiVectors: 1,
  },

  // ---- real controllers' documented quirks ----------------------------------------------------

  // HGST Ultrastar SN100-series adapter, 1c58:0003: NVME_QUIRK_DELAY_BEFORE_CHK_RDY ("The
  // controller needs a delay before starts checking the device readiness, which is done by reading
  // the NVME_CSTS_RDY bit", nvme.h). Linux applies it in nvme_disable_ctrl (core.c) only: write CC
  // with EN = 0, msleep(NVME_QUIRK_DELAY_AMOUNT) — 2300 ms, "the specific amount of delay needed
  // before checking readiness in case of the PCI_DEVICE(0x1c58, 0x0003) ... found empirically" —
  // then wait for RDY = 0. Enabling polls CSTS at once, so the enable path needs no delay. FreeBSD
  // took the same quirk for the same drives (r326937): when disabling, "some drives have a
  // controller bug that requires 'hands off' for a period of time (2.3s) before we check the RDY
  // bit ... This prevented a successful reset of the card when the card wedged." My reading, which
  // the model implements: a CSTS read within 2.3 s of CC.EN going 1 -> 0 wedges the reset — CSTS.RDY
  // stays 1 for good (the host times out and gives the controller up, as Linux did before the
  // quirk), recorded as a host violation; reads after the hands-off time see the reset finished.
  // Writing CC.EN = 0 to a controller already disabled is no transition and starts no hands-off
  // (Linux also delays there, and its core_quirks say a Samsung X5 "fails initialization without a
  // delay", so some devices may need it even then: not modelled). Same quirk in Linux for
  // 1c58:0023 (WDC SN200), 1c5f:0540 (Memblaze Pblaze4), 144d:a821/a822 (Samsung PM1725/PM1725a),
  // 1bb1:0100 (Seagate Nytro). No public id-ctrl report of an SN100 was found: figures unsourced.
  "hgst-sn100": {
    ...common,
    name: "hgst-sn100",
    summary: "HGST SN100 adapter: CSTS must not be read for 2.3 s after CC.EN 1->0, or the reset wedges",
    source:
      "Linux nvme_id_table 1c58:0003 NVME_QUIRK_DELAY_BEFORE_CHK_RDY, nvme.h NVME_QUIRK_DELAY_AMOUNT 2300 ms, core.c nvme_disable_ctrl; FreeBSD r326937",
    linuxQuirks: ["DELAY_BEFORE_CHK_RDY"],
    unsourced: [
      "version",
      "mqes",
      "timeout",
      "mdts",
      "ioQueuePairs",
      "msixVectors",
      "rdyDelayNs",
      "disableDelayNs",
      "model",
      "serial",
      "firmware",
      "ieee",
    ],
    vid: 0x1c58,
    did: 0x0003,
    ssvid: 0x1c58,
    ssid: 0x0003,
    version: "1.1.0",
    model: "nvme-wasm model of HGST SN100",
    serial: "STM0001A2B3C",
    firmware: "unknown",
    ieee: 0x000cca,
    mqes: 1023,
    timeout: 20,
    mdts: 5,
    sgl: false,
    ioQueuePairs: 31,
    msixVectors: 32,
    rdyHandsOffNs: NVME_QUIRK_DELAY_AMOUNT_MS * 1_000_000,
    rdyDelayNs: [100_000_000, 400_000_000],
    disableDelayNs: [50_000_000, 300_000_000], // the reset itself ends well inside the hands-off time
    shutdownDelayNs: [5_000_000, 20_000_000],
    fetchDelayNs: [1_000, 4_000],
    completionDelayNs: [20_000, 90_000],
  },

  // QEMU's own emulation as of QEMU 1.6-2.x (hw/block/nvme.c, Intel's id 8086:5845):
  // NVME_QUIRK_IDENTIFY_CNS ("The controller doesn't handle Identify value others than 0 or 1
  // correctly", nvme.h). That QEMU read CDW10 as a boolean: any non-zero value returned the Identify
  // Controller data with success (`if (cns)`), so CNS 02h answers with a controller structure a host
  // would parse as namespace ids. Christoph Hellwig's QEMU fix (qemu-devel, 2016): "The Qemu NVMe
  // implementation mistakes the cns field in the Identify command as a boolean ... actively harmful
  // since NVMe1.1 (which the Qemu device claims to support) ... We had to add a quirk in Linux"
  // (added with Linux's namespace list scanning, 540c801c65eb: "add quirk for the broken Qemu
  // Identify implementation"). Facts from that source file: VS 0x00010001 (1.1 in the NVMe 1.0
  // register layout, MNR in bits 15:0; 1.0.1 in today's: Linux of the time compared against
  // NVME_VS(1, 1) = 0x00010001), CAP MQES 0x7ff, CQR, AMS bit 17 (weighted round robin), TO 0xf,
  // MPSMAX 0; 64 queues, 64 MSI-X vectors in BAR 4; Identify: MN "QEMU NVMe Ctrl", FR "1.0", IEEE
  // 00-02-b3, SQES 66h, CQES 44h, MDTS 0, ONCS 0, VWC 0, NGUID/EUI64 0; admin: queue create/delete,
  // Identify, and Set/Get Features for Number of Queues only. Linux also lists
  // DISABLE_WRITE_ZEROES and BOGUS_NID for this id, meant for later QEMUs with the same id: this one
  // has no Write Zeroes and reports no identifiers at all (nidQuirk 'zero').
  "qemu-2.0": {
    ...common,
    name: "qemu-2.0",
    summary: "QEMU 1.6-2.x: Identify CDW10 read as a boolean, CNS 02h/03h answered with the controller structure",
    source:
      'Linux nvme_id_table 8086:5845 NVME_QUIRK_IDENTIFY_CNS; QEMU hw/block/nvme.c (nvme_identify, nvme_init) of QEMU 1.6-2.x; qemu-devel "mistakes the cns field ... as a boolean" (Hellwig, 2016)',
    linuxQuirks: ["IDENTIFY_CNS", "DISABLE_WRITE_ZEROES", "BOGUS_NID"],
    unsourced: ["ioQueuePairs", "rdyDelayNs", "fetchDelayNs", "completionDelayNs"],
    vid: 0x8086,
    did: 0x5845,
    ssvid: 0x1af4,
    ssid: 0x1100,
    revision: 0x01,
    version: "1.0.1",
    model: "QEMU NVMe Ctrl",
    serial: "deadbeef",
    firmware: "1.0",
    ieee: 0xb30200, // id->ieee[] = 00 02 b3
    subnqnPrefix: "nqn.2014-08.org.nvmexpress",
    mqes: 0x7ff,
    ams: 1,
    timeout: 0xf,
    mpsmin: 0,
    mpsmax: 0,
    mdts: 0,
    sgl: false,
    vwc: false,
    ioQueuePairs: 63,
    msixVectors: 64,
    msixBar: 4,
    cns2: false,
    cns3: false,
    cnsQuirk: "boolean",
    nidQuirk: "zero",
    writeZeroes: false,
    dsm: false,
    adminSet: "qemu-1.x",
    rdyDelayNs: [0, 0],
    reorder: false,
  },

  // QEMU 5.1 (hw/block/nvme.c, 2020; still Intel's id 8086:5845 — later QEMUs use 1b36:0010, which
  // Linux also marks): NVME_QUIRK_BOGUS_NID ("Reports garbage in the namespace identifiers (eui64,
  // nguid, uuid)", nvme.h). Linux 66dd346b84d7: "Qemu unconditionally reports a UUID, which
  // depending on the qemu version is either all-null (which is incorrect but harmless) or contains a
  // single bit set for all controllers." This is the single-bit one: QEMU 5.1's CNS 03h reports one
  // UUID descriptor whose value is the NSID in big-endian ("Add a very basic Namespace UUID here"),
  // so namespace 1 of every QEMU controller has the UUID 00000001-0000-0000-0000-000000000000, and
  // NGUID/EUI64 are 0 in Identify Namespace ("Because the NGUID and EUI64 fields are 0 ..."). The
  // list itself is well-formed (type 3, length 16, then zeroes), so a host walking type/length is
  // fine; only the identifiers are worthless. VS 1.3 (NVME_SPEC_VER 0x00010300, "Bump the supported
  // NVM Express version to v1.3"). Linux's IDENTIFY_CNS and DISABLE_WRITE_ZEROES for this id are
  // not reproduced: this QEMU answers CNS 02h/03h properly, and why Linux disabled Write Zeroes for
  // QEMU is not in the sources found.
  "qemu-5.1": {
    ...common,
    name: "qemu-5.1",
    summary: "QEMU 5.1: the namespace UUID is the NSID (same on every controller), NGUID/EUI64 zero",
    source:
      "Linux nvme_id_table 8086:5845 and 1b36:0010 NVME_QUIRK_BOGUS_NID (66dd346b84d7); QEMU 5.1 hw/block/nvme.c nvme_identify_ns_descr_list, NVME_SPEC_VER",
    linuxQuirks: ["IDENTIFY_CNS", "DISABLE_WRITE_ZEROES", "BOGUS_NID"],
    unsourced: ["ioQueuePairs", "mdts", "rdyDelayNs", "fetchDelayNs", "completionDelayNs"],
    vid: 0x8086,
    did: 0x5845,
    ssvid: 0x1af4,
    ssid: 0x1100,
    version: "1.3.0",
    model: "QEMU NVMe Ctrl",
    serial: "deadbeef",
    firmware: "1.0",
    ieee: 0xb30200,
    subnqnPrefix: "nqn.2019-08.org.qemu",
    mqes: 0x7ff,
    timeout: 0xf,
    mpsmax: 4,
    mdts: 7,
    sgl: false,
    ioQueuePairs: 64,
    nidQuirk: "nsid-uuid",
    rdyDelayNs: [0, 0],
  },

  // Apple T2 (ANS2, 106b:2005, 2018+ Macs). Linux's table: SINGLE_VECTOR | 128_BYTES_SQES |
  // SHARED_TAGS | SKIP_CID_GEN | IDENTIFY_CNS. What each means for this device, from the commits:
  // - "twice-as-big SQ entries for the IO queues, and the fact that only interrupt vector 0 appears
  //   to function properly" (Herrenschmidt, "nvme-pci: Add support for Apple 2018+ models", 2019):
  //   IO SQ entries 128 bytes apart (the command in the first 64, the admin SQ stays at 64);
  //   the model gives the function one MSI-X vector, so vector 0 is the only one (FreeBSD's port,
  //   D57087: "Single MSI vector, one IO queue").
  // - "they blow up (and shut the machine down) if there's a tag collision between the IO queue and
  //   the Admin queue ... They also seem to not like when tags go beyond the IO queue depth, ie 128
  //   tags" (Herrenschmidt, "nvme-pci: Support shared tags across queues for Apple 2018
  //   controllers"; Linux then reserves tags 0..31 of the IO queue, uses one IO queue, and — SKIP_CID_GEN,
  //   "requires the command_id value be limited" — no generation bits in the id). The model: a
  //   command fetched with an id outstanding on the other queue, or an id >= 128, is recorded as a host
  //   violation and the controller goes fatal (CSTS.CFS): the closest honest equivalent of taking
  //   the machine down. MQES 127 follows from "IO queue depth, ie 128" (Linux's depth is MQES + 1).
  // - IDENTIFY_CNS (Hector Martin, 2023): "These controllers do not support the Active NS ID List
  //   command ... treating CNS as a binary flag as in NVMe 1.0": the model reads CNS as its bit 0, so
  //   CNS 02h is Identify Namespace of NSID 0 (Invalid Namespace) and CNS 03h returns the controller
  //   structure.
  // - no Asynchronous Event Requests (FreeBSD D57087: "No async event support"): Invalid Opcode.
  // CC.IOSQES 6 (Linux) and 7 (FreeBSD) both work on the device, so both are accepted. VS 1.1 is an
  // inference (macOS lists "NVMe Revision Supported" 1.10 for the M1's ANS3, whose firmware Linux
  // says the T2 shares); SQES 66h too (Linux's first version of the quirk read the required size
  // from SQES and still had to force 7).
  "apple-t2": {
    ...common,
    name: "apple-t2",
    summary:
      "Apple T2 ANS2: 128-byte IO SQEs, one vector, command ids unique across admin+IO and < 128, CNS read as 1 bit",
    source:
      "Linux nvme_id_table 106b:2005 (SINGLE_VECTOR, 128_BYTES_SQES, SHARED_TAGS, SKIP_CID_GEN, IDENTIFY_CNS) and the commits adding them; FreeBSD D57087",
    linuxQuirks: ["SINGLE_VECTOR", "128_BYTES_SQES", "SHARED_TAGS", "SKIP_CID_GEN", "IDENTIFY_CNS"],
    unsourced: ["version", "sqes", "timeout", "mdts", "rdyDelayNs", "disableDelayNs", "serial", "firmware", "ieee"],
    vid: 0x106b,
    did: 0x2005,
    ssvid: 0x106b,
    ssid: 0x2005,
    version: "1.1.0",
    model: "APPLE SSD AP0512M",
    serial: "C02XXXXXXXXXXXXX",
    firmware: "unknown",
    ieee: 0x000000,
    mqes: 127,
    timeout: 20,
    mdts: 8,
    sgl: false,
    ioQueuePairs: 1,
    msixVectors: 1,
    cnsQuirk: "bit0",
    ioSqeBytes: 128,
    sharedTags: true,
    tagLimit: 128,
    aer: false,
    rdyDelayNs: [5_000_000, 20_000_000],
    disableDelayNs: [1_000_000, 5_000_000],
    fetchDelayNs: [1_000, 3_000],
    completionDelayNs: [10_000, 60_000],
  },

  // SK hynix PC400, 1c5c:1504: NVME_QUIRK_DISABLE_WRITE_ZEROES ("Broken Write Zeroes", nvme.h).
  // Linux 5611ec2b9814 ("nvme-pci: prevent SK hynix PC400 from using Write Zeroes command"): after
  // Linux started issuing Write Zeroes the drive "becomes very slow" with "operation not supported"
  // errors; "SK Hynix PC400 has a buggy firmware that treats NLB as max value instead of a range, so
  // the NLB passed isn't a valid value to the firmware. According to SK hynix there are three
  // commands are affected: Write Zeroes, Compare, Write Uncorrectable". The patch's v2 ("Add quirk
  // for SK hynix PC400 NLB off-by-one bug") instead sent NLB - 1 to this drive, i.e. the firmware acts
  // on one block more than NLB says. The model, my reading of both: Write Zeroes is advertised (ONCS
  // bit 3; Linux only issues it then) and zeroes NLB + 2 blocks — the range and the block after it —
  // reporting success; a range whose extra block lies beyond the namespace fails with LBA Out of
  // Range; NLB = FFFFh (whose count overflows the firmware's 16 bits) fails with Invalid Field, the
  // "operation not supported" Linux saw. Each use is recorded as a host violation (the host used a
  // command Linux disables for this drive). Compare and Write Uncorrectable are not in the model.
  "skhynix-pc400": {
    ...common,
    name: "skhynix-pc400",
    summary: "SK hynix PC400: Write Zeroes advertised but off by one (zeroes the block after the range too)",
    source:
      "Linux nvme_id_table 1c5c:1504 NVME_QUIRK_DISABLE_WRITE_ZEROES, commit 5611ec2b9814 and its v2 (NLB off-by-one)",
    linuxQuirks: ["DISABLE_WRITE_ZEROES"],
    unsourced: [
      "version",
      "mqes",
      "timeout",
      "mdts",
      "ioQueuePairs",
      "msixVectors",
      "rdyDelayNs",
      "serial",
      "firmware",
      "ieee",
    ],
    vid: 0x1c5c,
    did: 0x1504,
    ssvid: 0x1c5c,
    ssid: 0x1504,
    version: "1.2.0",
    model: "PC400 NVMe SK hynix 512GB",
    serial: "ES6AN0000000000000",
    firmware: "unknown",
    ieee: 0xace42e,
    mqes: 511,
    timeout: 20,
    mdts: 5,
    sgl: false,
    ioQueuePairs: 16,
    msixVectors: 17,
    writeZeroesQuirk: "nlb-off-by-one",
    rdyDelayNs: [2_000_000, 10_000_000],
    fetchDelayNs: [1_000, 4_000],
    completionDelayNs: [15_000, 70_000],
  },

  // Amazon EC2 NVMe controller (an EBS volume), 1d0f:8061: NVME_QUIRK_DMA_ADDRESS_BITS_48 ("The
  // controller does not properly handle DMA addresses over 48 bits", nvme.h). The commit (Filippo
  // Sironi, Amazon): "Amazon NVMe controllers do not support 64-bit DMA addresses; they are limited
  // to 48-bit DMA addresses ... This affects all Amazon NVMe controllers that expose EBS volumes
  // (0x0061, 0x0065, 0x8061) and local instance storage (0xcd00, 0xcd01, 0xcd02)." What the device
  // does with address bits 63:48 is not public ("misbehavior"); the model refuses rather than guess
  // an alias: a DMA reaching 2^48 or beyond is recorded as a DMA fault (host.dmaFault) and fails
  // the command with Data Transfer Error (a queue out of reach: CSTS.CFS, as for any queue the
  // controller cannot reach). Model number and the volume id as serial: AWS's EBS documentation.
  // Other figures unsourced.
  "amazon-ebs": {
    ...common,
    name: "amazon-ebs",
    summary: "Amazon EC2 NVMe (EBS volume): no DMA at or above 2^48",
    source:
      "Linux nvme_id_table 1d0f:0061/0065/8061/cd00-cd02 NVME_QUIRK_DMA_ADDRESS_BITS_48 and its commit; AWS EBS docs (model, serial)",
    linuxQuirks: ["DMA_ADDRESS_BITS_48"],
    unsourced: [
      "version",
      "mqes",
      "timeout",
      "mdts",
      "ioQueuePairs",
      "msixVectors",
      "vwc",
      "rdyDelayNs",
      "firmware",
      "ieee",
    ],
    vid: 0x1d0f,
    did: 0x8061,
    ssvid: 0x1d0f,
    ssid: 0x8061,
    version: "1.0.0",
    model: "Amazon Elastic Block Store",
    serial: "vol0123456789abcdef0",
    firmware: "1.0",
    ieee: 0xa002dc,
    mqes: 255,
    timeout: 20,
    mdts: 6,
    sgl: false,
    vwc: false,
    ioQueuePairs: 8,
    msixVectors: 9,
    cns2: false,
    cns3: false,
    dmaBits: 48,
    rdyDelayNs: [1_000_000, 5_000_000],
    fetchDelayNs: [1_000, 5_000],
    completionDelayNs: [50_000, 300_000],
  },

  // ---- figures real controllers report (no quirk) --------------------------------------------

  // Samsung PM981 (the OEM 970 EVO; same PCI ids 144d:a808, which Linux's core_quirks say the 970
  // EVO Plus and the Samsung X5 share): from a public report (ssdmeter.github.io, PM981 NVMe SED
  // Samsung 1TB, EXA72D2Q): NVMe 1.2, MDTS 2048 KiB (MDTS 9 with 4 KiB pages), 16384 queue entries
  // (MQES 16383), 32 queues, weighted round robin with urgent class, Write Zeroes among its IO
  // commands. smartctl of a PM981a (MZVLB1T0HBLR, linux-hardware.ru) agrees: MDTS 512 pages, IEEE
  // OUI 002538h (it reports NVMe 1.3). CAP.TO: no report found.
  "samsung-pm981": {
    ...common,
    name: "samsung-pm981",
    summary: "Samsung PM981 (OEM 970 EVO): NVMe 1.2, MDTS 2 MiB, 16384-entry queues, 32 queues",
    source: "ssdmeter.github.io PM981 NVMe SED Samsung 1TB (EXA72D2Q); smartctl of a PM981a on linux-hardware.ru",
    unsourced: ["timeout", "msixVectors", "rdyDelayNs", "serial"],
    vid: 0x144d,
    did: 0xa808,
    ssvid: 0x144d,
    ssid: 0xa801,
    version: "1.2.0",
    model: "PM981 NVMe SED Samsung 1TB",
    serial: "S4BBNX0K000000",
    firmware: "EXA72D2Q",
    ieee: 0x002538,
    mqes: 16383,
    ams: 1,
    timeout: 20,
    mdts: 9,
    sgl: false,
    ioQueuePairs: 32,
    msixVectors: 33,
    rdyDelayNs: [1_000_000, 6_000_000],
    fetchDelayNs: [1_000, 3_000],
    completionDelayNs: [10_000, 60_000],
  },

  // Samsung SM961, 144d:a804 (ssdmeter.github.io, SM961 NVMe SAMSUNG 1024GB, CXA75D0Q): NVMe 1.2,
  // MDTS 32768 KiB (MDTS 13), 16384 queue entries, 8 queues, weighted round robin. (Linux gives
  // a804 NO_APST on two ASUS boards only, check_vendor_combination_bug: a platform quirk.)
  "samsung-sm961": {
    ...common,
    name: "samsung-sm961",
    summary: "Samsung SM961: NVMe 1.2, MDTS 32 MiB, 16384-entry queues, 8 queues",
    source: "ssdmeter.github.io SM961 NVMe SAMSUNG 1024GB (CXA75D0Q)",
    unsourced: ["timeout", "msixVectors", "rdyDelayNs", "serial", "writeZeroes"],
    vid: 0x144d,
    did: 0xa804,
    ssvid: 0x144d,
    ssid: 0xa801,
    version: "1.2.0",
    model: "SM961 NVMe SAMSUNG 1024GB",
    serial: "S346NX0J000000",
    firmware: "CXA75D0Q",
    ieee: 0x002538,
    mqes: 16383,
    ams: 1,
    timeout: 20,
    mdts: 13,
    sgl: false,
    ioQueuePairs: 8,
    msixVectors: 9,
    rdyDelayNs: [1_000_000, 6_000_000],
    fetchDelayNs: [1_000, 3_000],
    completionDelayNs: [10_000, 60_000],
  },

  // SK hynix PC401, 1c5c:1527 (ssdmeter.github.io, PC401 NVMe SK hynix 256GB, 80003E00): NVMe 1.2,
  // MDTS 128 KiB (MDTS 5), 512 queue entries (MQES 511), 16 queues, round robin only, IO commands
  // Flush, Write, Read, Write Uncorrectable, Dataset Management (no Write Zeroes).
  "skhynix-pc401": {
    ...common,
    name: "skhynix-pc401",
    summary: "SK hynix PC401: NVMe 1.2, MDTS 128 KiB, 512-entry queues, 16 queues, no Write Zeroes",
    source: "ssdmeter.github.io PC401 NVMe SK hynix 256GB (80003E00)",
    unsourced: ["timeout", "msixVectors", "rdyDelayNs", "serial", "ieee"],
    vid: 0x1c5c,
    did: 0x1527,
    ssvid: 0x1c5c,
    ssid: 0x1527,
    version: "1.2.0",
    model: "PC401 NVMe SK hynix 256GB",
    serial: "EJ7CN0000000000000",
    firmware: "80003E00",
    ieee: 0xace42e,
    mqes: 511,
    timeout: 20,
    mdts: 5,
    sgl: false,
    ioQueuePairs: 16,
    msixVectors: 17,
    writeZeroes: false,
    rdyDelayNs: [1_000_000, 6_000_000],
    fetchDelayNs: [1_000, 3_000],
    completionDelayNs: [15_000, 70_000],
  },
};

function parseValue(key, raw, base) {
  const cur = base[key];
  if (Array.isArray(cur)) {
    if (Array.isArray(raw)) return raw.map(Number);
    const parts = String(raw)
      .split(/[:]|(?<=\d)-(?=\d)/)
      .map((s) => Number(s.trim()));
    if (parts.some((n) => !Number.isFinite(n))) throw new Error(`profile field ${key}: bad range "${raw}"`);
    return parts.length === 1 ? [parts[0], parts[0]] : [parts[0], parts[1]];
  }
  if (typeof cur === "boolean") {
    if (typeof raw === "boolean") return raw;
    const s = String(raw).toLowerCase();
    if (["1", "true", "yes", "on"].includes(s)) return true;
    if (["0", "false", "no", "off"].includes(s)) return false;
    throw new Error(`profile field ${key}: bad boolean "${raw}"`);
  }
  if (typeof cur === "number") {
    const n = typeof raw === "number" ? raw : Number(String(raw).replace(/_/g, ""));
    if (!Number.isFinite(n)) throw new Error(`profile field ${key}: bad number "${raw}"`);
    return n;
  }
  return raw;
}

// "mdts=2,mqes=15" -> { mdts: '2', mqes: '15' }
export function parseOverrides(text) {
  const out = {};
  if (!text) return out;
  for (const part of String(text).split(",")) {
    const s = part.trim();
    if (!s) continue;
    const eq = s.indexOf("=");
    if (eq < 0) throw new Error(`profile override "${s}": expected key=value`);
    out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
  }
  return out;
}

// makeProfile(nameOrObject = 'qemu', overrides = {} | "k=v,...") -> a fresh, checked profile object
export function makeProfile(base = "qemu", overrides = {}) {
  let p;
  if (typeof base === "string") {
    if (!profiles[base])
      throw new Error(`unknown controller profile "${base}" (have: ${Object.keys(profiles).join(", ")})`);
    p = structuredClone(profiles[base]);
    checkProvenance(p);
  } else {
    p = { ...structuredClone(common), ...structuredClone(base) };
  }
  const ov = typeof overrides === "string" ? parseOverrides(overrides) : overrides || {};
  for (const [k, v] of Object.entries(ov)) {
    if (META.has(k)) throw new Error(`profile field "${k}" describes the profile and cannot be overridden`);
    if (!(k in common))
      throw new Error(
        `unknown profile field "${k}" (have: ${Object.keys(common)
          .filter((f) => !META.has(f))
          .join(", ")})`,
      );
    p[k] = parseValue(k, v, p);
  }
  checkProfile(p);
  return p;
}

export function checkProfile(p) {
  const bad = (why) => {
    throw new Error(`profile ${p.name}: ${why}`);
  };
  if (!(p.mqes >= 1 && p.mqes <= 0xffff)) bad("mqes must be 1..65535 (0-based; the spec needs at least 2 entries)");
  if (!(p.dstrd >= 0 && p.dstrd <= 15)) bad("dstrd must be 0..15");
  if (!(p.mpsmin >= 0 && p.mpsmin <= p.mpsmax && p.mpsmax <= 15)) bad("need 0 <= mpsmin <= mpsmax <= 15");
  if (!(p.mdts >= 0 && p.mdts <= 15)) bad("mdts must be 0..15");
  if (!(p.ioQueuePairs >= 1 && p.ioQueuePairs <= 0xfffe)) bad("ioQueuePairs must be 1..65534");
  if (!(p.msixVectors >= 0 && p.msixVectors <= 2048)) bad("msixVectors must be 0..2048");
  if (p.msixBar !== 0 && p.msixBar !== 4) bad("msixBar must be 0 or 4");
  if (!p.intx && p.msixVectors === 0 && p.msiVectors === 0) bad("a controller needs INTx, MSI or MSI-X");
  if (![0, 1, 2, 4, 8, 16, 32].includes(p.msiVectors)) bad("msiVectors must be 0 or a power of 2 up to 32");
  if (!(p.timeout >= 0 && p.timeout <= 255)) bad("timeout must be 0..255");
  if (!/^\d+\.\d+(\.\d+)?$/.test(p.version)) bad("version must look like 1.4.0");
  for (const k of ["rdyDelayNs", "disableDelayNs", "shutdownDelayNs", "fetchDelayNs", "completionDelayNs"]) {
    const r = p[k];
    if (!Array.isArray(r) || r.length !== 2 || !(r[0] >= 0 && r[1] >= r[0]))
      bad(`${k} must be [lo, hi] with 0 <= lo <= hi`);
  }
  const oneOf = (k, values) => {
    if (!values.includes(p[k])) bad(`${k} must be one of ${values.join(", ")} (have ${JSON.stringify(p[k])})`);
  };
  oneOf("cnsQuirk", ["none", "boolean", "bit0"]);
  oneOf("nidQuirk", ["none", "nsid-uuid", "zero"]);
  oneOf("writeZeroesQuirk", ["none", "nlb-off-by-one"]);
  oneOf("adminSet", ["full", "qemu-1.x"]);
  oneOf("deallocate", ["zeroes", "ignore"]);
  // the model's deallocated blocks read as zeroes (or keep their data): DLFEAT 000b (not reported) or 001b, never 010b (FFh)
  if (!(Number.isInteger(p.dlfeat) && p.dlfeat >= 0 && p.dlfeat <= 0x1f && (p.dlfeat & 7) <= 1))
    bad("dlfeat: bits 2:0 must be 000b or 001b (deallocated blocks read as zeroes), bits 7:5 reserved");
  oneOf("ioSqeBytes", [64, 128]);
  oneOf("dmaBits", [48, 64]);
  if (!(Number.isInteger(p.rdyHandsOffNs) && p.rdyHandsOffNs >= 0))
    bad("rdyHandsOffNs must be a whole number of ns, >= 0");
  if (p.rdyHandsOffNs && p.disableDelayNs[1] > p.rdyHandsOffNs)
    bad("disableDelayNs must end within rdyHandsOffNs (the reset finishes while the host keeps its hands off)");
  if (!(Number.isInteger(p.tagLimit) && p.tagLimit >= 0 && p.tagLimit <= 0x10000))
    bad("tagLimit must be 0 (none) or 1..65536");
  if (p.tagLimit && p.tagLimit < p.mqes + 1)
    bad(`tagLimit ${p.tagLimit} below the queue depth CAP.MQES + 1 = ${p.mqes + 1}: a full queue could not be used`);
  if (p.writeZeroesQuirk !== "none" && !p.writeZeroes)
    bad("writeZeroesQuirk needs writeZeroes (a quirk in a command the controller does not have)");
  if (!(Number.isInteger(p.sqes) && p.sqes >= 0 && p.sqes <= 0xff)) bad("sqes must be a byte");
  if (p.ioSqeBytes === 128 && (p.sqes & 0xf) > 6)
    bad("sqes: required size above 64 bytes, but the admin queue uses 64");
  return p;
}

// What a profile says about itself, checked for the named profiles (at load, and by makeProfile
// before any override: an override is a what-if on top of a checked profile). Every profile says
// what it is and where it comes from; a Linux quirk the model implements goes with the parameter
// that reproduces it, and that parameter with the quirk.
export function checkProvenance(p) {
  const bad = (why) => {
    throw new Error(`profile ${p.name}: ${why}`);
  };
  if (typeof p.summary !== "string" || !p.summary || /[\n\r]/.test(p.summary) || p.summary.length > 120)
    bad("summary must be one line of 1..120 characters");
  if (typeof p.source !== "string" || !p.source || /[\n\r]/.test(p.source))
    bad("source must be one line saying where the facts come from");
  if (!Array.isArray(p.linuxQuirks) || p.linuxQuirks.some((q) => !LINUX_QUIRKS.includes(q)))
    bad(`linuxQuirks must be NVME_QUIRK_* names without the prefix (${LINUX_QUIRKS.join(", ")})`);
  if (!Array.isArray(p.unsourced) || p.unsourced.some((k) => !(k in common) || META.has(k)))
    bad("unsourced must list profile fields");
  // a listed Linux quirk is reproduced, or the profile's comment says why not (then it is in a
  // profile for an id Linux marks for several products, e.g. QEMU's): checked for the ones the
  // model implements.
  const has = (q) => p.linuxQuirks.includes(q);
  if (p.rdyHandsOffNs && !has("DELAY_BEFORE_CHK_RDY")) bad("rdyHandsOffNs without DELAY_BEFORE_CHK_RDY in linuxQuirks");
  if (has("DELAY_BEFORE_CHK_RDY") && !p.rdyHandsOffNs) bad("DELAY_BEFORE_CHK_RDY needs rdyHandsOffNs");
  if (p.cnsQuirk !== "none" && !has("IDENTIFY_CNS")) bad("cnsQuirk without IDENTIFY_CNS in linuxQuirks");
  if (p.nidQuirk !== "none" && !has("BOGUS_NID")) bad("nidQuirk without BOGUS_NID in linuxQuirks");
  if (has("BOGUS_NID") && p.nidQuirk === "none") bad("BOGUS_NID needs nidQuirk");
  if ((p.ioSqeBytes === 128) !== has("128_BYTES_SQES")) bad("ioSqeBytes 128 goes with 128_BYTES_SQES");
  if (p.sharedTags !== has("SHARED_TAGS")) bad("sharedTags goes with SHARED_TAGS");
  if (!!p.tagLimit !== has("SKIP_CID_GEN")) bad("tagLimit goes with SKIP_CID_GEN");
  if (has("SINGLE_VECTOR") && p.msixVectors > 1) bad("SINGLE_VECTOR: at most one MSI-X vector");
  if (p.writeZeroesQuirk !== "none" && !has("DISABLE_WRITE_ZEROES"))
    bad("writeZeroesQuirk without DISABLE_WRITE_ZEROES in linuxQuirks");
  if ((p.dmaBits === 48) !== has("DMA_ADDRESS_BITS_48")) bad("dmaBits 48 goes with DMA_ADDRESS_BITS_48");
  return p;
}
for (const p of Object.values(profiles)) checkProvenance(checkProfile(p));

// One line per profile for --help: name, summary, source.
export function profileHelp(indent = "  ") {
  const width = Math.max(...Object.keys(profiles).map((n) => n.length));
  return Object.values(profiles)
    .map((p) => `${indent}${p.name.padEnd(width)}  ${p.summary}\n${indent}${" ".repeat(width)}  source: ${p.source}`)
    .join("\n");
}

// VS register value: major << 16 | minor << 8 | tertiary (§3.1.2)
export function versionValue(version) {
  const [maj, min, ter = 0] = String(version).split(".").map(Number);
  return (maj << 16) | (min << 8) | ter;
}
