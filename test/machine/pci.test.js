import { describe, it, expect } from "vitest";
import { Machine, GuestTrap } from "../../host/machine.js";
import { bdfOf } from "../../host/pci.js";
import { FakeDevice } from "./guest.js";

const quiet = { stdout: null, stderr: null };
const env = (m) => m.imports().env;
const u32 = (v) => v >>> 0;

describe("PCI enumeration", () => {
  it("answers for the platform functions and reads 0xffffffff for missing ones", () => {
    const m = new Machine(quiet);
    m.firmware();
    const e = env(m);
    expect(u32(e.pci_read32(bdfOf(0, 0, 0), 0))).toBe(0x12378086); // host bridge
    expect(u32(e.pci_read32(bdfOf(0, 0, 0), 8)) >>> 8).toBe(0x060000);
    expect(u32(e.pci_read32(bdfOf(0, 1, 0), 0x0c)) & 0x00800000).toBeTruthy(); // PIIX3 is multi-function
    expect(u32(e.pci_read32(bdfOf(0, 1, 1), 8)) >>> 8).toBe(0x010180); // IDE: storage, not NVMe
    expect(u32(e.pci_read32(bdfOf(0, 1, 2), 0))).toBe(0xffffffff); // a hole in a multi-function device
    expect(u32(e.pci_read32(bdfOf(0, 2, 0), 0x0c)) & 0x00800000).toBe(0); // VGA: single function
    expect(u32(e.pci_read32(bdfOf(0, 4, 0), 0))).toBe(0xffffffff); // nothing at 00:04.0 yet
    expect(u32(e.pci_read32(bdfOf(1, 0, 0), 0))).toBe(0xffffffff); // no bus 1
  });

  it("numbers buses behind bridges as firmware does and routes through them", () => {
    const m = new Machine(quiet);
    const outer = m.addBridge({ dev: 3 });
    const inner = m.addBridge({ segment: outer.child, dev: 0 });
    m.addDevice((h) => new FakeDevice(h), { segment: outer.child, dev: 1, name: "a" });
    m.addDevice((h) => new FakeDevice(h), { segment: inner.child, dev: 0, name: "b" });
    m.firmware();
    const e = env(m);
    const outerBus = u32(e.pci_read32(bdfOf(0, 3, 0), 0x18));
    expect(outerBus & 0xffffff).toBe(0x020100); // primary 0, secondary 1, subordinate 2
    expect((u32(e.pci_read32(bdfOf(0, 3, 0), 0x0c)) >>> 16) & 0x7f).toBe(1); // type-1 header
    expect(u32(e.pci_read32(bdfOf(0, 3, 0), 8)) >>> 8).toBe(0x060400);
    expect(u32(e.pci_read32(bdfOf(1, 0, 0), 0x18)) & 0xffffff).toBe(0x020201);
    expect(u32(e.pci_read32(bdfOf(1, 1, 0), 8)) >>> 8).toBe(0x018000); // device a on bus 1
    expect(u32(e.pci_read32(bdfOf(2, 0, 0), 8)) >>> 8).toBe(0x018000); // device b on bus 2
    expect(u32(e.pci_read32(bdfOf(3, 0, 0), 0))).toBe(0xffffffff);
    expect(u32(e.pci_read32(bdfOf(0, 4, 0), 0))).toBe(0xffffffff);
  });

  it("routing follows the bridge registers the guest may rewrite", () => {
    const m = new Machine(quiet);
    const br = m.addBridge({ dev: 3 });
    m.addDevice((h) => new FakeDevice(h), { segment: br.child, dev: 0 });
    m.firmware();
    const e = env(m);
    e.pci_read32(bdfOf(0, 3, 0), 0);
    e.pci_write32(bdfOf(0, 3, 0), 0x18, 0x050500); // secondary = subordinate = 5
    expect(u32(e.pci_read32(bdfOf(1, 0, 0), 0))).toBe(0xffffffff);
    expect(u32(e.pci_read32(bdfOf(5, 0, 0), 0))).toBe(0x00101b36);
  });

  it("sets the multi-function bit on function 0 and hides functions whose function 0 is missing", () => {
    const m = new Machine(quiet);
    m.addDevice((h) => new FakeDevice(h), { dev: 4, fn: 0, name: "f0" });
    m.addDevice((h) => new FakeDevice(h), { dev: 4, fn: 1, name: "f1" });
    m.addDevice((h) => new FakeDevice(h), { dev: 9, fn: 2, name: "orphan" });
    m.firmware();
    const e = env(m);
    expect(u32(e.pci_read32(bdfOf(0, 4, 0), 0x0c)) & 0x00800000).toBeTruthy();
    expect(u32(e.pci_read32(bdfOf(0, 4, 1), 0))).toBe(0x00101b36);
    expect(u32(e.pci_read32(bdfOf(0, 9, 2), 0))).toBe(0xffffffff);
  });

  it("refuses config writes to functions the guest never read, and BAR writes", () => {
    const m = new Machine(quiet);
    m.addDevice((h) => new FakeDevice(h), { dev: 4 });
    m.firmware();
    const e = env(m);
    const bdf = bdfOf(0, 4, 0);
    e.pci_write32(bdf, 4, 0x6);
    expect(m.refusedConfigWrites).toHaveLength(1);
    expect(m.refusedConfigWrites[0].why).toMatch(/never read/);
    expect(u32(e.pci_read32(bdf, 4)) & 4).toBe(0);
    e.pci_write32(bdf, 4, 0x6);
    expect(u32(e.pci_read32(bdf, 4)) & 6).toBe(6);
    const bar = u32(e.pci_read32(bdf, 0x10));
    e.pci_write32(bdf, 0x10, 0xffffffff);
    expect(u32(e.pci_read32(bdf, 0x10))).toBe(bar);
    expect(m.refusedConfigWrites[1].why).toMatch(/BAR/);
    e.pci_write32(bdfOf(0, 5, 0), 4, 6);
    expect(m.refusedConfigWrites[2].why).toMatch(/no such function/);
  });

  it("traps misaligned or out-of-range config offsets", () => {
    const m = new Machine(quiet);
    m.firmware();
    expect(() => env(m).pci_read32(0, 2)).toThrow(GuestTrap);
    expect(() => env(m).pci_read32(0, 0x100)).toThrow(/dword-aligned/);
  });
});

describe("BARs and MMIO", () => {
  function machine() {
    const m = new Machine(quiet);
    const dev = m.addDevice((h) => new FakeDevice(h), { dev: 4 });
    m.firmware();
    return { m, dev, e: env(m), bdf: bdfOf(0, 4, 0) };
  }

  it("places 64-bit BARs above 4 GiB and 32-bit BARs below", () => {
    const { m, e, bdf } = machine();
    const lo = u32(e.pci_read32(bdf, 0x10)),
      hi = u32(e.pci_read32(bdf, 0x14));
    expect(lo & 0xf).toBe(0x4); // 64-bit memory BAR
    const addr = (BigInt(hi) << 32n) | BigInt(lo & ~0xf);
    expect(addr >= 0x80_0000_0000n).toBe(true);
    expect(addr % 0x4000n).toBe(0n);
    const vga = u32(e.pci_read32(bdfOf(0, 2, 0), 0x10));
    expect(vga & 0xf).toBe(0x8); // 32-bit prefetchable
    expect(vga >>> 0).toBeLessThan(0xfec00000);
    expect(vga).toBeGreaterThan(0);
    expect(u32(e.pci_read32(bdf, 4)) & 2).toBe(2); // firmware enabled memory decoding
    const h = e.mmio_map(bdf, 0);
    expect(h).toBeGreaterThan(0);
    expect(m.maps[h - 1].addr).toBe(addr);
    expect(e.mmio_size(h)).toBe(0x4000);
    expect(e.mmio_map(bdf, 0)).toBe(h); // same BAR, same handle
  });

  it("returns the ABI's negative codes", () => {
    const { e } = machine();
    expect(e.mmio_map(bdfOf(0, 6, 0), 0)).toBe(-1); // no such function
    expect(e.mmio_map(bdfOf(0, 4, 0), 1)).toBe(-2); // upper half of the 64-bit BAR0
    expect(e.mmio_map(bdfOf(0, 4, 0), 2)).toBe(-2); // unassigned
    expect(e.mmio_map(bdfOf(0, 0x19, 0), 1)).toBe(-2); // the NIC's IO BAR
    expect(e.mmio_map(bdfOf(0, 0x19, 0), 0)).toBeGreaterThan(0);
  });

  it("passes accesses through and traps misaligned, out-of-bounds or bad-handle ones", () => {
    const { m, e, dev, bdf } = machine();
    const h = e.mmio_map(bdf, 0);
    e.mmio_write32(h, 0x3ffc, 0xdeadbeef | 0);
    expect(dev.regs.get(0x3ffc)).toBe(0xdeadbeef);
    expect(u32(e.mmio_read32(h, 0x3ffc))).toBe(0xdeadbeef);
    expect(() => e.mmio_read32(h, 0x4000)).toThrow(/mmio: read at offset 0x4000 is outside BAR0 of 00:04.0/);
    expect(() => e.mmio_write32(h, 2, 0)).toThrow(/not dword-aligned/);
    expect(() => e.mmio_read32(h, -4)).toThrow(GuestTrap);
    expect(() => e.mmio_read32(7, 0)).toThrow(/bad handle 7/);
    expect(() => e.mmio_size(0)).toThrow(/bad handle/);
    // memory decoding off: reads float high, writes go nowhere
    e.pci_read32(bdf, 0);
    e.pci_write32(bdf, 4, 0);
    expect(u32(e.mmio_read32(h, 0x3ffc))).toBe(0xffffffff);
    e.mmio_write32(h, 0x3ffc, 1);
    expect(dev.regs.get(0x3ffc)).toBe(0xdeadbeef);
    expect(m.events.length).toBe(2);
  });
});
