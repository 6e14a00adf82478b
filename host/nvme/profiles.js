// Controller profiles: each a plain object of parameters for NvmeController.
// `makeProfile('strict', 'mdts=2,mqes=15')` or `makeProfile('qemu', { mdts: 2 })` gives a copy with
// fields overridden one by one (numbers, booleans, and [lo,hi] ranges as "lo:hi" or "lo-hi").
//
// Delays are Numbers of nanoseconds, given as [lo, hi] ranges from which the controller draws with
// its seeded Rng. A delay of [0, 0] for RDY/SHST means "in the same register write" (like QEMU).

const common = {
  // identity
  name: 'generic',
  vid: 0x1b36,
  did: 0x0010,
  ssvid: 0x1af4,
  ssid: 0x1100,
  revision: 0x02,
  version: '1.4.0', // VS register and Identify VER
  model: 'nvme-wasm model controller',
  serial: 'NWM0001',
  firmware: '1.0',
  ieee: 0x525400, // IEEE OUI
  subnqnPrefix: 'nqn.2019-08.org.nvme-wasm',
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
  vwc: true, // volatile write cache present
  ioQueuePairs: 64, // granted by Set Features Number of Queues, whatever is asked
  cns2: true, // Identify CNS 02h (Active Namespace ID list), NVMe 1.1+
  cns3: true, // Identify CNS 03h (Namespace Identification Descriptor list), NVMe 1.3+
  acl: 3, // Abort Command Limit, 0-based
  aerl: 3, // Asynchronous Event Request Limit, 0-based
  elpe: 7, // Error Log Page Entries, 0-based
  // interrupts
  msixVectors: 65, // 0 = no MSI-X capability
  msixBar: 0, // BAR holding the MSI-X table and PBA: 0 (after the doorbells) or 4 (its own BAR)
  intx: true, // INTA# pin
  // timing (ns ranges)
  rdyDelayNs: [0, 0], // CC.EN 0->1 until CSTS.RDY=1
  disableDelayNs: [0, 0], // CC.EN 1->0 until CSTS.RDY=0
  shutdownDelayNs: [0, 0], // CC.SHN until CSTS.SHST=10b
  fetchDelayNs: [200, 500], // SQ tail doorbell until the commands are fetched
  completionDelayNs: [500, 2000], // fetch until the completion is posted
  reorder: false, // commands of one fetch complete in a shuffled order (IO queues only)
  bar0Size: 0x4000, // at least; grown to hold the doorbells and the MSI-X structures
};

export const profiles = {
  // Like QEMU 7.2's -device nvme.
  qemu: {
    ...common,
    name: 'qemu',
    model: 'QEMU NVMe Ctrl',
    serial: 'deadbeef',
    firmware: '7.2.0',
    subnqnPrefix: 'nqn.2019-08.org.qemu',
    sgl: true,
    version: '1.4.0',
    mpsmax: 4, // QEMU 7.2: CAP.MPSMAX = 4 (64 KiB), MPSMIN = 0
  },
  // Like a picky real controller.
  strict: {
    ...common,
    name: 'strict',
    vid: 0x144d,
    did: 0xa808,
    ssvid: 0x144d,
    ssid: 0xa801,
    version: '1.3.0',
    model: 'nvme-wasm strict SSD 970',
    serial: 'S4EWNX0R123456',
    firmware: '2B2QEXM7',
    ieee: 0x002538,
    subnqnPrefix: 'nqn.2014-08.org.nvmexpress',
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
    name: 'legacy',
    vid: 0x8086,
    did: 0x0953,
    ssvid: 0x8086,
    ssid: 0x3705,
    version: '1.0.0',
    model: 'nvme-wasm legacy 750',
    serial: 'CVCQ5130001',
    firmware: '8EV10135',
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
    name: 'tiny',
    vid: 0x1d0f,
    did: 0x0061,
    version: '1.2.0',
    model: 'nvme-wasm tiny',
    serial: 'TINY0001',
    mqes: 3,
    mdts: 1,
    dstrd: 0,
    ioQueuePairs: 1,
    msixVectors: 2,
    cns3: false,
  },
};

function parseValue(key, raw, base) {
  const cur = base[key];
  if (Array.isArray(cur)) {
    if (Array.isArray(raw)) return raw.map(Number);
    const parts = String(raw).split(/[:]|(?<=\d)-(?=\d)/).map((s) => Number(s.trim()));
    if (parts.some((n) => !Number.isFinite(n))) throw new Error(`profile field ${key}: bad range "${raw}"`);
    return parts.length === 1 ? [parts[0], parts[0]] : [parts[0], parts[1]];
  }
  if (typeof cur === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off'].includes(s)) return false;
    throw new Error(`profile field ${key}: bad boolean "${raw}"`);
  }
  if (typeof cur === 'number') {
    const n = typeof raw === 'number' ? raw : Number(String(raw).replace(/_/g, ''));
    if (!Number.isFinite(n)) throw new Error(`profile field ${key}: bad number "${raw}"`);
    return n;
  }
  return raw;
}

// "mdts=2,mqes=15" -> { mdts: '2', mqes: '15' }
export function parseOverrides(text) {
  const out = {};
  if (!text) return out;
  for (const part of String(text).split(',')) {
    const s = part.trim();
    if (!s) continue;
    const eq = s.indexOf('=');
    if (eq < 0) throw new Error(`profile override "${s}": expected key=value`);
    out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
  }
  return out;
}

// makeProfile(nameOrObject = 'qemu', overrides = {} | "k=v,...") -> a fresh, checked profile object
export function makeProfile(base = 'qemu', overrides = {}) {
  let p;
  if (typeof base === 'string') {
    if (!profiles[base]) throw new Error(`unknown controller profile "${base}" (have: ${Object.keys(profiles).join(', ')})`);
    p = structuredClone(profiles[base]);
  } else {
    p = { ...structuredClone(common), ...structuredClone(base) };
  }
  const ov = typeof overrides === 'string' ? parseOverrides(overrides) : overrides || {};
  for (const [k, v] of Object.entries(ov)) {
    if (!(k in common)) throw new Error(`unknown profile field "${k}" (have: ${Object.keys(common).join(', ')})`);
    p[k] = parseValue(k, v, p);
  }
  checkProfile(p);
  return p;
}

export function checkProfile(p) {
  const bad = (why) => {
    throw new Error(`profile ${p.name}: ${why}`);
  };
  if (!(p.mqes >= 1 && p.mqes <= 0xffff)) bad('mqes must be 1..65535 (0-based; the spec needs at least 2 entries)');
  if (!(p.dstrd >= 0 && p.dstrd <= 15)) bad('dstrd must be 0..15');
  if (!(p.mpsmin >= 0 && p.mpsmin <= p.mpsmax && p.mpsmax <= 15)) bad('need 0 <= mpsmin <= mpsmax <= 15');
  if (!(p.mdts >= 0 && p.mdts <= 15)) bad('mdts must be 0..15');
  if (!(p.ioQueuePairs >= 1 && p.ioQueuePairs <= 0xfffe)) bad('ioQueuePairs must be 1..65534');
  if (!(p.msixVectors >= 0 && p.msixVectors <= 2048)) bad('msixVectors must be 0..2048');
  if (p.msixBar !== 0 && p.msixBar !== 4) bad('msixBar must be 0 or 4');
  if (!p.intx && p.msixVectors === 0) bad('a controller needs INTx or MSI-X');
  if (!(p.timeout >= 0 && p.timeout <= 255)) bad('timeout must be 0..255');
  if (!/^\d+\.\d+(\.\d+)?$/.test(p.version)) bad('version must look like 1.4.0');
  for (const k of ['rdyDelayNs', 'disableDelayNs', 'shutdownDelayNs', 'fetchDelayNs', 'completionDelayNs']) {
    const r = p[k];
    if (!Array.isArray(r) || r.length !== 2 || !(r[0] >= 0 && r[1] >= r[0])) bad(`${k} must be [lo, hi] with 0 <= lo <= hi`);
  }
  return p;
}

// VS register value: major << 16 | minor << 8 | tertiary (§3.1.2)
export function versionValue(version) {
  const [maj, min, ter = 0] = String(version).split('.').map(Number);
  return (maj << 16) | (min << 8) | ter;
}
