// The virtual PCI bus of the Node machine: buses, bridges (type-1 headers), multi-function devices,
// and a few plain functions (host bridge, ISA bridge, VGA, NIC) so that enumeration has to skip them.
//
// Addressing follows PCI: a configuration access names (bus, device, function). Bus 0 is the root bus;
// every other bus is reached through a bridge whose secondary..subordinate range contains it, using the
// bus numbers currently in the bridge's own registers (the machine programs them as firmware would,
// the guest may read them). A missing function reads 0xffffffff.

// Common config-space offsets (PCI Local Bus 3.0, 6.1).
export const CFG = {
  VENDOR: 0x00,
  COMMAND: 0x04,
  CLASS: 0x08,
  HEADER: 0x0c,
  BAR0: 0x10,
  BUS_NUMBERS: 0x18,
  MEM_WINDOW: 0x20,
  PREF_WINDOW: 0x24,
  PREF_BASE_HI: 0x28,
  PREF_LIMIT_HI: 0x2c,
  CAP_PTR: 0x34,
  INTERRUPT: 0x3c,
};
export const CMD_IO = 1 << 0;
export const CMD_MEMORY = 1 << 1;
export const CMD_BUS_MASTER = 1 << 2;
export const CMD_INTX_DISABLE = 1 << 10;

export function bdfOf(bus, dev, fn) {
  return ((bus & 0xff) << 8) | ((dev & 0x1f) << 3) | (fn & 7);
}
export function bdfName(bdf) {
  const h = (n, w) => n.toString(16).padStart(w, "0");
  return `${h(bdf >> 8, 2)}:${h((bdf >> 3) & 0x1f, 2)}.${bdf & 7}`;
}

// A PCI function with a plain 256-byte configuration space: registers hold what is written to them,
// masked by a per-byte write mask. Used for the non-storage functions and as the base of PciBridge.
export class PciFunction {
  constructor({
    vendor,
    device,
    classCode,
    revision = 0,
    headerType = 0,
    subsystem = 0,
    bars = [],
    interruptPin = 0,
    name,
  }) {
    this.name = name ?? `pci-${vendor.toString(16)}:${device.toString(16)}`;
    this.space = new Uint8Array(256);
    this.wmask = new Uint8Array(256);
    this.view = new DataView(this.space.buffer);
    this.view.setUint16(0x00, vendor, true);
    this.view.setUint16(0x02, device, true);
    this.view.setUint32(0x08, (((classCode & 0xffffff) << 8) | (revision & 0xff)) >>> 0, true);
    this.space[0x0e] = headerType;
    this.wmask[0x04] = 0x07; // IO, memory, bus master
    this.wmask[0x05] = 0x04; // INTx disable
    this.wmask[0x0c] = 0xff; // cache line size
    this.wmask[0x0d] = 0xff; // latency timer
    this.wmask[0x3c] = 0xff; // interrupt line
    this.space[0x3d] = interruptPin;
    if (headerType === 0) this.view.setUint32(0x2c, subsystem >>> 0, true);
    // Memory BARs placed by the machine: [{ index, size, is64, prefetchable }]; IO BARs are decorative.
    this.bars = [];
    this.ioBars = [];
    for (const b of bars) {
      if (b.io) {
        this.ioBars.push(b);
        this.view.setUint32(0x10 + 4 * b.index, 1, true);
        continue;
      }
      this.bars.push({ index: b.index, size: b.size, is64: !!b.is64, prefetchable: !!b.prefetchable });
      this.view.setUint32(0x10 + 4 * b.index, (b.is64 ? 4 : 0) | (b.prefetchable ? 8 : 0), true);
    }
    this.barStore = new Map(); // MMIO contents of these plain functions: reads give what was written
  }

  configRead32(off) {
    return this.view.getUint32(off & 0xfc, true);
  }

  configWrite32(off, value) {
    off &= 0xfc;
    if (this.isBarOffset(off)) return; // the host owns BAR placement
    for (let i = 0; i < 4; i++) {
      const m = this.wmask[off + i];
      const v = (value >>> (8 * i)) & 0xff;
      this.space[off + i] = (this.space[off + i] & ~m) | (v & m);
    }
  }

  isBarOffset(off) {
    if ((this.space[0x0e] & 0x7f) === 1) return off === 0x10 || off === 0x14 || off === 0x38;
    return (off >= 0x10 && off <= 0x24) || off === 0x30;
  }

  setBarAddress(index, addr) {
    const b = this.bars.find((x) => x.index === index);
    const low = this.view.getUint32(0x10 + 4 * index, true) & 0xf;
    this.view.setUint32(0x10 + 4 * index, (Number(addr & 0xfffffff0n) | low) >>> 0, true);
    if (b && b.is64) this.view.setUint32(0x14 + 4 * index, Number(addr >> 32n) >>> 0, true);
  }

  mmioRead32(bar, off) {
    return this.barStore.get(`${bar}:${off}`) ?? 0;
  }
  mmioWrite32(bar, off, value) {
    this.barStore.set(`${bar}:${off}`, value >>> 0);
  }
  advance() {}
  nextEventNs() {
    return null;
  }
}

// A PCI-to-PCI bridge (type-1 header), like QEMU's pcie-root-port: it forwards configuration
// accesses for buses secondary..subordinate to the bus behind it.
export class PciBridge extends PciFunction {
  constructor({ vendor = 0x1b36, device = 0x000c, name = "pcie-root-port" } = {}) {
    super({ vendor, device, classCode: 0x060400, headerType: 1, name });
    this.child = new PciSegment(this);
    this.wmask[0x18] = 0xff;
    this.wmask[0x19] = 0xff;
    this.wmask[0x1a] = 0xff;
    this.wmask[0x1b] = 0xff;
    for (let o = 0x20; o < 0x30; o++) this.wmask[o] = 0xff; // memory windows
    this.wmask[0x3e] = 0xff;
    this.wmask[0x3f] = 0xff; // bridge control
    this.view.setUint16(0x24, 0x0001, true); // prefetchable window is 64-bit capable
    this.view.setUint16(0x26, 0x0001, true);
  }
  get primary() {
    return this.space[0x18];
  }
  get secondary() {
    return this.space[0x19];
  }
  get subordinate() {
    return this.space[0x1a];
  }
  setBusNumbers(primary, secondary, subordinate) {
    this.space[0x18] = primary;
    this.space[0x19] = secondary;
    this.space[0x1a] = subordinate;
  }
  // Memory window (32-bit, 1 MiB granularity) and prefetchable window (64-bit), as firmware sets them.
  setMemoryWindow(base, limit) {
    this.view.setUint16(0x20, Number((base >> 16n) & 0xfff0n), true);
    this.view.setUint16(0x22, Number((limit >> 16n) & 0xfff0n), true);
  }
  setPrefetchWindow(base, limit) {
    this.view.setUint16(0x24, Number((base >> 16n) & 0xfff0n) | 1, true);
    this.view.setUint16(0x26, Number((limit >> 16n) & 0xfff0n) | 1, true);
    this.view.setUint32(0x28, Number(base >> 32n) >>> 0, true);
    this.view.setUint32(0x2c, Number(limit >> 32n) >>> 0, true);
  }
}

// One bus segment: up to 32 devices of up to 8 functions each.
export class PciSegment {
  constructor(bridge = null) {
    this.bridge = bridge; // the bridge leading here (null for the root bus)
    this.slots = new Map(); // devfn -> function
  }
  add(dev, fn, func) {
    const devfn = ((dev & 0x1f) << 3) | (fn & 7);
    if (this.slots.has(devfn)) throw new Error(`pci: slot ${dev}.${fn} already taken`);
    this.slots.set(devfn, func);
    return func;
  }
  get(devfn) {
    const f = this.slots.get(devfn);
    if (!f) return null;
    // A function other than 0 exists only if function 0 does (PCI 3.0, 3.2.2.3.4).
    if ((devfn & 7) !== 0 && !this.slots.has(devfn & ~7)) return null;
    return f;
  }
  // Header type bit 7 (multi-function) as the bus presents it: set on function 0 of a device that has more.
  isMultiFunction(devfn) {
    const base = devfn & ~7;
    for (let i = 1; i < 8; i++) if (this.slots.has(base + i)) return true;
    return false;
  }
  *bridges() {
    for (const f of this.slots.values()) if (f instanceof PciBridge) yield f;
  }
}

// The root of the hierarchy, with the firmware pass that numbers the buses.
export class PciBus {
  constructor() {
    this.root = new PciSegment(null);
  }

  add(segment, dev, fn, func) {
    return segment.add(dev, fn, func);
  }

  // Firmware-style depth-first numbering: every bridge gets primary = its bus, secondary = next free
  // number, subordinate = the highest bus number found behind it.
  assignBusNumbers() {
    let next = 1;
    const walk = (segment, number) => {
      const devfns = [...segment.slots.keys()].sort((a, b) => a - b);
      for (const devfn of devfns) {
        const f = segment.slots.get(devfn);
        if (!(f instanceof PciBridge)) continue;
        const secondary = next++;
        f.setBusNumbers(number, secondary, 0xff);
        walk(f.child, secondary);
        f.setBusNumbers(number, secondary, next - 1);
      }
    };
    walk(this.root, 0);
    return next - 1; // highest bus number
  }

  // Route a configuration access as the bridges' registers say. -> { func, segment, devfn } or null
  resolve(bdf) {
    const bus = (bdf >> 8) & 0xff;
    const devfn = bdf & 0xff;
    let segment = this.root;
    let number = 0;
    for (let depth = 0; depth < 256; depth++) {
      if (bus === number) {
        const func = segment.get(devfn);
        return func ? { func, segment, devfn } : null;
      }
      let found = null;
      for (const br of segment.bridges()) {
        // A bridge forwards nothing until it has a secondary bus (firmware or the guest set it).
        if (br.secondary !== 0 && br.secondary > number && bus >= br.secondary && bus <= br.subordinate) {
          found = br;
          break;
        }
      }
      if (!found) return null;
      segment = found.child;
      number = found.secondary;
    }
    return null;
  }

  configRead32(bdf, off) {
    const r = this.resolve(bdf);
    if (!r) return 0xffffffff;
    let v = r.func.configRead32(off) >>> 0;
    if ((off & 0xfc) === CFG.HEADER && (r.devfn & 7) === 0) {
      v = r.segment.isMultiFunction(r.devfn) ? (v | 0x00800000) >>> 0 : (v & ~0x00800000) >>> 0;
    }
    return v;
  }

  configWrite32(bdf, off, value) {
    const r = this.resolve(bdf);
    if (!r) return false;
    r.func.configWrite32(off, value >>> 0);
    return true;
  }

  // Every function in the hierarchy with its current bdf: [{ bdf, func, segment }]
  functions() {
    const out = [];
    const walk = (segment, number) => {
      const devfns = [...segment.slots.keys()].sort((a, b) => a - b);
      for (const devfn of devfns) {
        const func = segment.get(devfn);
        if (!func) continue;
        out.push({ bdf: (number << 8) | devfn, func, segment });
        if (func instanceof PciBridge && func.secondary !== 0) walk(func.child, func.secondary);
      }
    };
    walk(this.root, 0);
    return out;
  }
}

// The non-storage functions a real PC has on bus 0 (QEMU's `pc` machine: i440FX host bridge,
// PIIX3 ISA bridge, VGA, e1000), so a driver's enumeration has to skip them.
export function hostBridge() {
  return new PciFunction({
    vendor: 0x8086,
    device: 0x1237,
    classCode: 0x060000,
    revision: 2,
    name: "i440fx-host-bridge",
  });
}
export function isaBridge() {
  return new PciFunction({ vendor: 0x8086, device: 0x7000, classCode: 0x060100, name: "piix3-isa" });
}
export function ideController() {
  return new PciFunction({
    vendor: 0x8086,
    device: 0x7010,
    classCode: 0x010180,
    name: "piix3-ide",
    bars: [{ index: 4, io: true, size: 16 }],
  });
}
export function acpiFunction() {
  return new PciFunction({
    vendor: 0x8086,
    device: 0x7113,
    classCode: 0x068000,
    revision: 3,
    interruptPin: 1,
    name: "piix4-acpi",
  });
}
export function vga() {
  return new PciFunction({
    vendor: 0x1234,
    device: 0x1111,
    classCode: 0x030000,
    revision: 2,
    subsystem: 0x11001af4,
    name: "std-vga",
    bars: [
      { index: 0, size: 16 << 20, prefetchable: true },
      { index: 2, size: 4096 },
    ],
  });
}
export function e1000() {
  return new PciFunction({
    vendor: 0x8086,
    device: 0x100e,
    classCode: 0x020000,
    revision: 3,
    subsystem: 0x11001af4,
    interruptPin: 1,
    name: "e1000",
    bars: [
      { index: 0, size: 128 << 10 },
      { index: 1, io: true, size: 64 },
    ],
  });
}
