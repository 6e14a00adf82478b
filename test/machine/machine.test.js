import { describe, it, expect } from "vitest";
import { Machine, GuestTrap, DmaFault, DMA_BASE, TRAP_EXIT } from "../../host/machine.js";
import { bdfOf } from "../../host/pci.js";
import { FakeDevice, guestWasm } from "./guest.js";

const quiet = { stdout: null, stderr: null };
const u32 = (v) => v >>> 0;
const BDF = bdfOf(0, 4, 0);

function machine(opts = {}, devOpts = {}) {
  const m = new Machine({ ...quiet, ...opts });
  const dev = m.addDevice((h) => new FakeDevice(h, devOpts), { dev: 4, name: "fake0" });
  m.firmware();
  const e = m.imports().env;
  return { m, dev, e };
}
function enable(e, bits = 6) {
  e.pci_read32(BDF, 0);
  e.pci_write32(BDF, 4, (u32(e.pci_read32(BDF, 4)) & 0xffff) | bits);
}

describe("DMA", () => {
  it("gives bus addresses above 4 GiB, 0 out of range", () => {
    const { e } = machine();
    expect(e.dma_address(0, 4096)).toBe(DMA_BASE);
    expect(e.dma_address(0x1000, 4096)).toBe(0x1_2345_7000n);
    expect(e.dma_address(16 * 1024 * 1024 - 8, 8)).toBe(DMA_BASE + 0xfffff8n);
    expect(e.dma_address(16 * 1024 * 1024 - 8, 16)).toBe(0n);
    expect(e.dma_address(-4096, 16)).toBe(0n);
  });

  it("translates device accesses back into memory and faults outside the window", () => {
    const { m, dev, e } = machine();
    enable(e);
    const host = m.devices[0].host;
    host.dmaWrite(DMA_BASE + 0x3000n, new Uint8Array([1, 2, 3]));
    expect([...new Uint8Array(m.memory.buffer, 0x3000, 3)]).toEqual([1, 2, 3]);
    expect([...host.dmaRead(DMA_BASE + 0x3001n, 2)]).toEqual([2, 3]);
    expect(() => host.dmaRead(0x3000n, 4)).toThrow(DmaFault); // a truncated/raw address
    expect(() => host.dmaWrite(DMA_BASE + 0xfffffen, new Uint8Array(4))).toThrow(/outside the DMA window/);
    expect(() => host.dmaRead(DMA_BASE - 1n, 1)).toThrow(DmaFault);
    expect(m.dmaFaults.map((f) => [f.device, f.write])).toEqual([
      ["fake0", false],
      ["fake0", true],
      ["fake0", false],
    ]);
    host.dmaFault(0x42n, 8, "model says so");
    expect(m.dmaFaults[3]).toMatchObject({ busAddr: 0x42n, len: 8, why: "model says so" });
    expect(dev).toBeTruthy();
  });

  it("faults DMA without bus mastering, on the device or on a bridge above it", () => {
    const m = new Machine(quiet);
    const br = m.addBridge({ dev: 3 });
    m.addDevice((h) => new FakeDevice(h), { segment: br.child, dev: 0 });
    m.firmware();
    const e = m.imports().env;
    const host = m.devices[0].host;
    expect(() => host.dmaRead(DMA_BASE, 4)).toThrow(/bus mastering disabled/);
    const bdf = bdfOf(1, 0, 0);
    e.pci_read32(bdf, 0);
    e.pci_write32(bdf, 4, 6);
    expect(host.dmaRead(DMA_BASE, 4)).toHaveLength(4);
    e.pci_read32(bdfOf(0, 3, 0), 0);
    e.pci_write32(bdfOf(0, 3, 0), 4, 2); // bridge loses bus mastering
    expect(() => host.dmaRead(DMA_BASE, 4)).toThrow(/bus mastering disabled/);
  });
});

describe("clock and interrupts", () => {
  it("now_ns advances 100 ns per call, relax 1 µs", () => {
    const { e } = machine();
    const a = e.now_ns();
    const b = e.now_ns();
    e.relax();
    const c = e.now_ns();
    expect(b - a).toBe(100n);
    expect(c - b).toBe(1100n);
  });

  it("irq_wait jumps to the deadline when nothing is due", () => {
    const { m, e } = machine();
    const t0 = m.now;
    expect(e.irq_wait(5_000_000n)).toBe(0);
    expect(m.now - t0).toBe(5_000_100n);
    expect(e.irq_wait(-1n)).toBe(0); // u64 max: clamps at the end of time, does not hang
    expect(m.now).toBe((1n << 63n) - 1n);
  });

  it("delivers MSI-X at the device's event time", () => {
    const { m, dev, e } = machine();
    enable(e);
    const line = e.irq_attach(BDF, 1);
    expect(line).toBe(0);
    expect(e.irq_msi_address(line)).toBe(0xfee00000n);
    expect(e.irq_msi_data(line)).toBe(0x40);
    const h = e.mmio_map(BDF, 0);
    e.mmio_write32(h, 0x10, 0x1000);
    e.mmio_write32(h, 0x14, 0); // a bad DMA address: the fake faults, still interrupts
    const t0 = m.now;
    e.mmio_write32(h, 0, 1);
    expect(e.irq_wait(1_000_000_000n)).toBe(1);
    expect(m.now - t0).toBe(5000n);
    expect(dev.faults).toHaveLength(1);
    expect(m.dmaFaults).toHaveLength(1);
    expect(e.irq_wait(0n)).toBe(0); // the mask was cleared
  });

  it("records MSI messages that match no line", () => {
    const { m, dev, e } = machine();
    enable(e);
    e.irq_attach(BDF, 1);
    m.devices[0].host.msiWrite(0xfee00000n, 0x47);
    m.devices[0].host.msiWrite(0xdead0000n, 0x40);
    expect(m.strayInterrupts.map((s) => s.why)).toEqual([
      "no MSI-X or MSI line of this function with this vector",
      "not an interrupt address",
    ]);
    expect(e.irq_wait(0n)).toBe(0);
    expect(dev).toBeTruthy();
  });

  it("refuses MSI-X for a function without the capability, and INTx without a pin", () => {
    const m = new Machine(quiet);
    m.addDevice((h) => new FakeDevice(h, { msix: false, pin: 0 }), { dev: 4 });
    m.firmware();
    const e = m.imports().env;
    expect(e.irq_attach(BDF, 1)).toBe(-1);
    expect(e.irq_attach(BDF, 0)).toBe(-1);
    expect(e.irq_attach(bdfOf(0, 9, 0), 0)).toBe(-1);
    expect(() => e.irq_msi_data(0)).toThrow(GuestTrap);
  });

  it("INTx is level-triggered: masked when it fires, re-evaluated on irq_ack, gated by INTx disable", () => {
    const { m, dev, e } = machine({}, { msix: false });
    enable(e);
    const line = e.irq_attach(BDF, 0);
    expect(line).toBe(0);
    expect(e.irq_attach(BDF, 0)).toBe(0); // one line per function
    const h = e.mmio_map(BDF, 0);
    e.mmio_write32(h, 0x10, Number((DMA_BASE + 0x2000n) & 0xffffffffn) | 0);
    e.mmio_write32(h, 0x14, 1);
    e.mmio_write32(h, 0, 1);
    expect(e.irq_wait(1_000_000n)).toBe(1);
    expect(u32(new DataView(m.memory.buffer).getUint32(0x2000, true))).toBe(0xc0ffee);
    expect(e.irq_wait(1_000n)).toBe(0); // masked, although the level is still high
    e.irq_ack(line);
    expect(e.irq_wait(0n)).toBe(1); // still asserted: fires again
    e.mmio_write32(h, 8, 0); // the device drops the level
    e.irq_ack(line);
    expect(e.irq_wait(1_000n)).toBe(0);
    e.pci_write32(BDF, 4, 0x406); // INTx disable
    e.mmio_write32(h, 0, 1);
    expect(e.irq_wait(1_000_000n)).toBe(0);
    e.pci_write32(BDF, 4, 0x006); // enabled again: the pending level fires
    expect(e.irq_wait(0n)).toBe(1);
    expect(dev.faults).toHaveLength(0);
  });
});

describe("console, command line, abort", () => {
  it("console_read gives the input, then -1", () => {
    const { m, e } = machine({ input: "hello" });
    expect(e.console_read(0x100, 3, 0n)).toBe(3);
    expect(e.console_read(0x103, 10, 0n)).toBe(2);
    expect(Buffer.from(m.memory.buffer, 0x100, 5).toString()).toBe("hello");
    expect(e.console_read(0x100, 10, 0n)).toBe(-1);
    expect(machine({ input: null }).e.console_read(0, 10, 0n)).toBe(-1);
  });

  it("cmdline copies what fits and returns the full length", () => {
    const { m, e } = machine({ cmdline: "info; poweroff" });
    expect(e.cmdline(0x200, 4)).toBe(14);
    expect(Buffer.from(m.memory.buffer, 0x200, 5).toString("latin1")).toBe("info\0");
    expect(e.cmdline(0x200, 64)).toBe(14);
    expect(Buffer.from(m.memory.buffer, 0x200, 14).toString()).toBe("info; poweroff");
  });

  it("abort decodes AssemblyScript strings", () => {
    const { m, e } = machine();
    const put = (ptr, s) => {
      const b = Buffer.from(s, "utf16le");
      new DataView(m.memory.buffer).setUint32(ptr - 4, b.length, true);
      new Uint8Array(m.memory.buffer).set(b, ptr);
    };
    put(0x404, "queue full");
    put(0x504, "assembly/nvme/queue.ts");
    expect(() => e.abort(0x404, 0x504, 12, 7)).toThrow("abort: queue full at assembly/nvme/queue.ts:12:7");
    expect(() => e.abort(0, 0, 1, 2)).toThrow("abort: (no message) at (unknown):1:2");
  });

  it("abort decodes Texts, marked by bit 31 (the transform's asserts)", () => {
    const { m, e } = machine();
    const put = (ptr, s) => new Uint8Array(m.memory.buffer).set([s.length, ...Buffer.from(s, "latin1")], ptr);
    put(0x600, "queue: pushing onto a full SQ");
    put(0x700, "assembly/driver/nvme/queue.ts");
    expect(() => e.abort(0x600 | 0x80000000, 0x700 | 0x80000000, 177, 5)).toThrow(
      "abort: queue: pushing onto a full SQ at assembly/driver/nvme/queue.ts:177:5",
    );
    expect(() => e.abort(0, 0x700 | 0x80000000, 1, 2)).toThrow(
      "abort: (no message) at assembly/driver/nvme/queue.ts:1:2",
    );
    const end = m.memory.buffer.byteLength;
    new Uint8Array(m.memory.buffer)[end - 2] = 200; // a length past the end of memory
    expect(() => e.abort((end - 2) | 0x80000000, 0, 1, 2)).toThrow(/abort: <bad text at 0x[0-9a-f]+> at/);
  });

  it("console_write checks its range", () => {
    const { e } = machine();
    expect(() => e.console_write(16 * 1024 * 1024 - 2, 4)).toThrow(/console_write/);
  });
});

describe("running a guest", () => {
  async function run(cmdline, opts = {}, devOpts = {}) {
    const { m } = machine({ cmdline, ...opts }, devOpts);
    const r = await m.run(await guestWasm());
    return { ...r, m };
  }

  it("poweroff(0) is exit 0, poweroff(n) non-zero, main's return value otherwise", async () => {
    expect(await run("h")).toMatchObject({ code: 0, output: "hello\n", reason: "poweroff" });
    expect(await run("p")).toMatchObject({ code: 3, reason: "poweroff", guestCode: 3 });
    expect(await run("r")).toMatchObject({ code: 5, reason: "return" });
  });

  it("reports abort, unreachable and MMIO traps with a non-zero code", async () => {
    const a = await run("a");
    expect(a.code).toBe(TRAP_EXIT);
    expect(a.output).toMatch(/^trap: abort: boom at guest\/main\.ts:\d+:\d+\n$/);
    const u = await run("u");
    expect(u).toMatchObject({ code: TRAP_EXIT, output: "trap: unreachable\n" });
    const mm = await run("m");
    expect(mm.output).toBe("trap: mmio: read at offset 0x4000 is outside BAR0 of 00:04.0 (size 0x4000)\n");
    expect(mm.code).not.toBe(0);
  });

  it("passes 64-bit values across intact", async () => {
    expect((await run("d")).output).toBe("0x123457000\n0x0\n");
    expect((await run("t")).output).toBe("0x44c\n");
  });

  it("runs a device interrupt end to end, and a trap clears bus mastering", async () => {
    const r = await run("i");
    expect(r.output).toBe("0x0 0x1 0x1388 0xc0ffee\n");
    expect(r.m.dmaFaults).toHaveLength(0);
    // the same machine state, then an abort: bus mastering goes off
    const { m, e } = machine({ cmdline: "a" });
    enable(e);
    expect(u32(m.bus.configRead32(BDF, 4)) & 4).toBe(4);
    const t = await m.run(await guestWasm());
    expect(t.reason).toBe("trap");
    expect(u32(m.bus.configRead32(BDF, 4)) & 4).toBe(0);
  });

  it("echoes console input until its end", async () => {
    const r = await run("e", { input: "info\rpoweroff\r" });
    expect(r).toMatchObject({ code: 0, output: "info\rpoweroff\r" });
  });

  it("sends the console to the stdout sink as it goes", async () => {
    const chunks = [];
    const { m } = machine({ cmdline: "h", stdout: (b) => chunks.push(Buffer.from(b).toString()) });
    await m.run(await guestWasm());
    expect(chunks.join("")).toBe("hello\n");
  });
});
