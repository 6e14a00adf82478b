// Test helpers: a small AssemblyScript guest compiled in memory (once per test process), and a fake
// PCI device with a 64-bit BAR, an MSI-X capability, an INTx pin and timed events.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../host/build.js";
import { PciFunction } from "../../host/pci.js";

// The guest picks a scenario from the first word of its command line.
const GUEST = `
import { console_write, console_read, cmdline, now_ns, relax, pci_read32, pci_write32, mmio_map, mmio_read32,
  mmio_write32, dma_address, irq_attach, irq_wait, poweroff } from "./kernel";

const line = memory.data(256);
const buf = memory.data(256);

function say(p: usize, n: i32): void { console_write(p, n); }
function sayStr(s: string): void {
  // ASCII only, byte by byte into buf
  for (let i = 0; i < s.length; i++) store<u8>(buf + i, <u8>s.charCodeAt(i));
  console_write(buf, s.length);
}
function hex(v: u64): void {
  sayStr("0x");
  let started = false;
  for (let s: i32 = 60; s >= 0; s -= 4) {
    const d = <i32>((v >> <u64>s) & 0xf);
    if (d != 0 || started || s == 0) { started = true; store<u8>(buf, <u8>(d < 10 ? 48 + d : 87 + d)); console_write(buf, 1); }
  }
}

export function main(): i32 {
  const n = cmdline(line, 256);
  const c = n > 0 ? load<u8>(line) : 0;
  if (c == 104) { // h: hello
    sayStr("hello\\n");
    poweroff(0);
  } else if (c == 97) { // a: abort
    assert(n == 0, "boom");
  } else if (c == 117) { // u: unreachable
    unreachable();
  } else if (c == 112) { // p: poweroff(3)
    poweroff(3);
  } else if (c == 114) { // r: return 5
    return 5;
  } else if (c == 101) { // e: echo input until end, then poweroff(0)
    for (;;) {
      const k = console_read(buf, 64, 1000000);
      if (k < 0) break;
      if (k > 0) console_write(buf, k);
    }
    poweroff(0);
  } else if (c == 98) { // b: busy forever (relax in the loop, as the ABI asks)
    for (;;) relax();
  } else if (c == 109) { // m: map 00:04.0 BAR0, read at 0x4000 (one past a 16 KiB BAR)
    const h = mmio_map(4 << 3, 0);
    mmio_read32(h, 0x4000);
  } else if (c == 100) { // d: dma address of 0x1000, as hex
    hex(dma_address(0x1000, 4096)); sayStr("\\n");
    hex(dma_address(0xfff000, 8192)); sayStr("\\n");
    poweroff(0);
  } else if (c == 116) { // t: clock
    const a = now_ns(); relax(); const b = now_ns();
    hex(b - a); sayStr("\\n");
    poweroff(0);
  } else if (c == 105) { // i: enable 00:04.0, MSI-X line, kick the fake device, wait
    const bdf: u32 = 4 << 3;
    pci_read32(bdf, 0);
    pci_write32(bdf, 4, pci_read32(bdf, 4) | 6);
    const l = irq_attach(bdf, 1);
    const h = mmio_map(bdf, 0);
    mmio_write32(h, 0x10, <u32>dma_address(0x2000, 4)); mmio_write32(h, 0x14, <u32>(dma_address(0x2000, 4) >> 32));
    mmio_write32(h, 0, 1); // kick
    const t0 = now_ns();
    const p = irq_wait(1000000000);
    hex(<u64>l); sayStr(" "); hex(<u64>p); sayStr(" "); hex(now_ns() - t0); sayStr(" "); hex(<u64>load<u32>(0x2000)); sayStr("\\n");
    poweroff(0);
  }
  return 0;
}
`;

let cached = null;
export async function guestWasm() {
  if (cached) return cached;
  const asc = (await import("assemblyscript/asc")).default;
  // The driver's hardware imports, and the console and poweroff every module may import.
  const kernel =
    readFileSync(join(ROOT, "assembly/driver/imports.ts"), "utf8") +
    `
@external("env", "console_write") export declare function console_write(ptr: usize, len: i32): void;
@external("env", "console_read") export declare function console_read(ptr: usize, cap: i32, timeout_ns: u64): i32;
@external("env", "poweroff") export declare function poweroff(code: i32): void;
`;
  const files = { "guest/main.ts": GUEST, "guest/kernel.ts": kernel };
  let out = null;
  let err = "";
  const { error } = await asc.main(
    [
      "guest/main.ts",
      "--outFile",
      "guest.wasm",
      "--runtime",
      "stub",
      "--importMemory",
      "--initialMemory",
      "256",
      "--maximumMemory",
      "256",
      "-O2",
    ],
    {
      readFile: (name) => files[name.replace(/^\.\//, "")] ?? null,
      writeFile: (name, data) => {
        if (name.endsWith(".wasm")) out = data;
      },
      listFiles: () => [],
      stdout: { write: () => true },
      stderr: {
        write: (s) => {
          err += s;
          return true;
        },
      },
    },
  );
  if (error || !out) throw new Error(`test guest failed to compile: ${err} ${error?.message ?? ""}`);
  cached = out;
  return out;
}

// A fake PCI device: BAR0 64-bit 16 KiB; a write of 1 to offset 0 schedules, 5 µs later, a DMA write
// of 0xC0FFEE to the address in 0x10/0x14 and an interrupt (MSI-X vector 0 if enabled, else INTx).
export class FakeDevice extends PciFunction {
  constructor(host, { msix = true, pin = 1, delayNs = 5000n } = {}) {
    super({
      vendor: 0x1b36,
      device: 0x0010,
      classCode: 0x018000,
      interruptPin: pin,
      name: "fake", // storage, not NVMe
      bars: [{ index: 0, size: 0x4000, is64: true }],
    });
    this.host = host;
    this.delayNs = delayNs;
    this.regs = new Map();
    this.events = [];
    this.faults = [];
    if (msix) {
      this.view.setUint16(0x06, 0x10, true); // capabilities list
      this.space[0x34] = 0x40;
      this.view.setUint32(0x40, 0x11 | (0 << 8), true); // MSI-X, end of list, one table entry
      this.view.setUint32(0x44, 0x2000, true); // the table at BAR0 + 0x2000, clear of the registers
    }
    this.msixAddress = 0xfee00000n;
    this.msixData = 0x40;
  }
  mmioRead32(bar, off) {
    return this.regs.get(off) ?? 0;
  }
  mmioWrite32(bar, off, v) {
    this.regs.set(off, v);
    if (off === 0 && v === 1) this.events.push(this.host.now() + this.delayNs);
    if (off === 8) this.host.setIntx(false);
  }
  nextEventNs() {
    return this.events.length ? this.events[0] : null;
  }
  advance(now) {
    while (this.events.length && this.events[0] <= now) {
      this.events.shift();
      const addr = BigInt(this.regs.get(0x10) ?? 0) | (BigInt(this.regs.get(0x14) ?? 0) << 32n);
      try {
        this.host.dmaWrite(addr, new Uint8Array([0xee, 0xff, 0xc0, 0x00]));
      } catch (e) {
        this.faults.push(e);
      }
      if (this.space[0x34]) this.host.msiWrite(this.msixAddress, this.msixData);
      else this.host.setIntx(true);
    }
  }
}
