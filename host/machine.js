// The Node machine that runs the guest: imported memory (the DMA window), a virtual clock, the PCI bus
// with firmware-style setup, interrupt lines, and every `env` import of docs/abi.md.
//
//   const m = new Machine({ cmdline: "info; poweroff", input: "" });
//   const ctrl = m.addDevice((host) => new NvmeController({ host, ... }), { dev: 4 });
//   const { code, output } = await m.run();        // build/nvme.wasm linked with build/shell.wasm
//   m.run(driverBytes, clientBytes)                // other modules; a module exporting main() alone
//                                                  // runs as a single guest (the kernel's probe guests)
import { readFileSync, readSync, openSync, closeSync, existsSync, constants as fsc } from "node:fs";
import { BlockLink } from "./block-link.js";
import { serverImports } from "./module-link.js";
import { guardMmioWrite, guardConfigWrite } from "./guard.js";
import { Tracer } from "./trace.js";
import {
  PciBus,
  PciBridge,
  CFG,
  CMD_MEMORY,
  CMD_BUS_MASTER,
  CMD_INTX_DISABLE,
  bdfName,
  hostBridge,
  isaBridge,
  ideController,
  acpiFunction,
  vga,
  e1000,
} from "./pci.js";

export const DMA_BASE = 0x1_2345_6000n;
export const MEMORY_PAGES = 256; // the driver's memory: the DMA window, 16 MiB
export const CLIENT_MEMORY_PAGES = 32; // a client module's memory (asconfig.json target "shell")
// The driver's buffer memory: the two clients' shares. The shell keeps the 8 MiB it always had
// (iochk's 32 slices of 256 KiB need all of it); fs.wasm's 128 KiB come on top.
export const SHELL_SHARE_BYTES = 8 << 20;
export const FS_SHARE_BYTES = 128 << 10; // fs.wasm's share (its cache lines of up to 64 KiB)
export const BUFFER_BYTES = SHELL_SHARE_BYTES + FS_SHARE_BYTES;
export const FS_MEMORY_PAGES = 8; // fs.wasm's memory (asconfig.json target "fs")
export const MSI_ADDRESS = 0xfee0_0000n;
export const MSI_DATA_BASE = 0x40;
export const BAR64_BASE = 0x80_0000_0000n; // 64-bit BARs go above 4 GiB, so a truncated address shows
export const BAR32_BASE = 0xe000_0000n; // 32-bit BARs below 4 GiB
export const TRAP_EXIT = 70; // EX_SOFTWARE
export const INTERRUPT_EXIT = 130;
const CLOCK_MAX = (1n << 63n) - 1n;
const MAX_LINES = 32;
const MAX_MAPS = 64;
const ABORT_TEXT_FLAG = 0x80000000;
const IRQ_KINDS = ["intx", "msix", "msi"]; // irq_attach's mode: 0 INTx, 1 MSI-X, 2 MSI (docs/abi.md) // abort's msg/file with bit 31 set: a Text (host/ascii-strings.js, docs/abi.md)

// A guest error the host catches at an import (bad MMIO access, bad handle…): the run ends with `trap: <message>`.
export class GuestTrap extends Error {
  constructor(message) {
    super(message);
    this.name = "GuestTrap";
  }
}
// A device DMA outside the window (or without bus mastering): recorded in machine.dmaFaults.
export class DmaFault extends Error {
  constructor(busAddr, len, why) {
    super(`dma fault: ${why} at 0x${BigInt(busAddr).toString(16)} (+${len})`);
    this.name = "DmaFault";
    this.busAddr = BigInt(busAddr);
    this.len = len;
    this.why = why;
  }
}
// Private sentinels that unwind the wasm stack.
class PowerOff {
  constructor(code) {
    this.code = code;
  }
}
class Interrupted {
  constructor(why) {
    this.why = why;
  }
}

const hex = (v, w = 0) => "0x" + (typeof v === "bigint" ? v : BigInt(v >>> 0)).toString(16).padStart(w, "0");

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ms));
}

export class Machine {
  // options:
  //   cmdline   the boot command line (string)
  //   input     console input: a string or Buffer (then -1 at its end), null (end of input at once),
  //             or "stdin" (fd 0; a TTY is put in raw mode while the guest runs)
  //   stdout    function(Uint8Array) the console goes to, or null; default process.stdout
  //   stderr    function(string) for trap lines and traces, or null; default process.stderr
  //   trace     true, or a function(line): MMIO/config/interrupt/device trace
  //   layout    "default" (nothing but the platform functions) — devices are added with addDevice()
  //   platform  false to leave out the host bridge / ISA / VGA / NIC functions
  //   timeLimitNs  optional: trap when the virtual clock passes it (a watchdog for tests)
  //   capture   false to keep no copy of the console output (run() then returns output "")
  //   traceRecords  an array: every event of a trace= run is also kept there (host/trace.js)
  //   dmaBase   bus address of the DMA window (BigInt, 4 KiB aligned; default DMA_BASE), e.g. above
  //             2^48 to meet controllers that cannot address it (amazon-ebs in host/nvme/profiles.js)
  constructor(options = {}) {
    this.options = options;
    this.memory = new WebAssembly.Memory({ initial: MEMORY_PAGES, maximum: MEMORY_PAGES });
    this.dmaBase = options.dmaBase == null ? DMA_BASE : BigInt(options.dmaBase);
    if (
      this.dmaBase <= 0n ||
      this.dmaBase % 4096n ||
      this.dmaBase + BigInt(this.memory.buffer.byteLength) > 1n << 64n
    ) {
      throw new Error(
        `dmaBase 0x${this.dmaBase.toString(16)}: the DMA window needs a non-zero, 4 KiB-aligned bus address, its ${this.memory.buffer.byteLength} bytes below 2^64`,
      );
    }
    this.now = 0n;
    this.bus = new PciBus();
    this.root = this.bus.root;
    this.devices = []; // [{ func, name, host, intxLevel }] — everything with a clock
    this.controllers = []; // the NVMe controllers (sim.js fills it)
    this.dmaFaults = []; // [{ device, busAddr, len, write, why }]
    this.refusedConfigWrites = []; // [{ bdf, off, value, why }]
    this.strayInterrupts = []; // [{ device, address, data, why }]
    this.events = []; // notable host events (ignored writes, MMIO while disabled…)
    this.cmdline = options.cmdline ?? "";
    this.pending = 0;
    this.lines = []; // line -> { mode: "msix"|"intx", bdf, func, masked }
    this.maps = []; // handle-1 -> { bdf, func, bar, size, addr }
    this.readFunctions = new Set(); // funcs the guest has read (config writes allowed)
    this.masterEnabled = new Set(); // funcs the guest set bus mastering on
    this.outChunks = [];
    this.outBytes = 0;
    this.firmwareDone = false;
    this.traceFn =
      typeof options.trace === "function" ? options.trace : options.trace ? (line) => this.errWrite(line + "\n") : null;
    this.stdoutFn = options.stdout === undefined ? (b) => process.stdout.write(b) : options.stdout;
    this.stderrFn = options.stderr === undefined ? (s) => process.stderr.write(s) : options.stderr;
    this.lastRead = null;
    this.relaxCount = 0;
    this.relaxStep = 1000n; // see relax(): grows while the guest spins
    this.lastPollMs = 0;
    this.setInput(options.input ?? null);
    if (options.platform !== false) this.addPlatform();
  }

  // ---------------------------------------------------------------- building the machine

  // A PC's bus 0, as QEMU's `pc` machine has it: host bridge 00:00.0; PIIX3 at 00:01 (a multi-function
  // device: ISA bridge .0, IDE .1 — class 01/01, storage but not NVMe —, ACPI .3); VGA 00:02.0; and a
  // NIC at 00:19.0 (where Intel boards put theirs), out of the way of the NVMe slots 00:04.0….
  addPlatform() {
    this.addFunction(hostBridge(), { dev: 0 });
    this.addFunction(isaBridge(), { dev: 1, fn: 0 });
    this.addFunction(ideController(), { dev: 1, fn: 1 });
    this.addFunction(acpiFunction(), { dev: 1, fn: 3 });
    this.addFunction(vga(), { dev: 2 });
    this.addFunction(e1000(), { dev: 0x19 });
  }

  addFunction(func, { segment = this.root, dev, fn = 0 } = {}) {
    segment.add(dev, fn, func);
    return func;
  }

  addBridge({ segment = this.root, dev, fn = 0, name } = {}) {
    const br = new PciBridge(name ? { name } : {});
    segment.add(dev, fn, br);
    return br;
  }

  // factory(host) -> a PCI function with the device interface of docs/node-host.md
  addDevice(factory, { segment = this.root, dev, fn = 0, name = `dev${this.devices.length}`, rng = null } = {}) {
    const entry = { func: null, name, host: null, intxLevel: false };
    entry.host = this.makeHost(entry, rng);
    entry.func = factory(entry.host);
    segment.add(dev, fn, entry.func);
    this.devices.push(entry);
    return entry.func;
  }

  makeHost(entry, rng) {
    const m = this;
    return {
      get name() {
        return entry.name;
      },
      rng,
      now: () => m.now,
      dmaRead: (busAddr, len) => m.dmaRead(entry, busAddr, len),
      dmaWrite: (busAddr, bytes) => m.dmaWrite(entry, busAddr, bytes),
      dmaFault: (busAddr, len, why) => m.recordDmaFault(entry, busAddr, len, false, why),
      setIntx: (level) => m.setIntx(entry, !!level),
      msiWrite: (address, data) => m.msiWrite(entry, address, data),
      log: (line) => m.trace(String(line).startsWith(entry.name) ? String(line) : `${entry.name}: ${line}`),
    };
  }

  // What firmware does before the OS runs: number the buses, place every memory BAR (64-bit ones above
  // 4 GiB), open the bridges' windows, enable memory decoding, route INTx.
  firmware() {
    if (this.firmwareDone) return;
    this.firmwareDone = true;
    this.bus.assignBusNumbers();
    const alloc = { b32: BAR32_BASE, b64: BAR64_BASE };
    const place = (segment) => {
      const devfns = [...segment.slots.keys()].sort((a, b) => a - b);
      for (const devfn of devfns) {
        const func = segment.slots.get(devfn);
        if (func instanceof PciBridge) {
          const MiB = 1n << 20n;
          alloc.b32 = (alloc.b32 + MiB - 1n) & ~(MiB - 1n);
          alloc.b64 = (alloc.b64 + MiB - 1n) & ~(MiB - 1n);
          const s32 = alloc.b32,
            s64 = alloc.b64;
          place(func.child);
          alloc.b32 = (alloc.b32 + MiB - 1n) & ~(MiB - 1n);
          alloc.b64 = (alloc.b64 + MiB - 1n) & ~(MiB - 1n);
          if (alloc.b32 > s32) func.setMemoryWindow(s32, alloc.b32 - 1n);
          else func.setMemoryWindow(0xfff00000n, 0n);
          if (alloc.b64 > s64) func.setPrefetchWindow(s64, alloc.b64 - 1n);
          else func.setPrefetchWindow(0xfff00000n, 0n);
          func.configWrite32(CFG.COMMAND, (func.configRead32(CFG.COMMAND) & 0xffff) | CMD_MEMORY | CMD_BUS_MASTER);
          continue;
        }
        const bars = func.bars ?? [];
        for (const b of bars) {
          const size = BigInt(b.size);
          const key = b.is64 ? "b64" : "b32";
          const addr = (alloc[key] + size - 1n) & ~(size - 1n);
          alloc[key] = addr + size;
          func.setBarAddress(b.index, addr);
        }
        let cmd = func.configRead32(CFG.COMMAND) & 0xffff;
        if (bars.length) cmd |= CMD_MEMORY;
        func.configWrite32(CFG.COMMAND, cmd);
        const intr = func.configRead32(CFG.INTERRUPT);
        const pin = (intr >>> 8) & 0xff;
        if (pin) func.configWrite32(CFG.INTERRUPT, ((intr & ~0xff) | (10 + (((devfn >> 3) + pin - 1) % 2))) >>> 0);
      }
    };
    place(this.root);
    if (alloc.b32 > 0xfec0_0000n) throw new Error("pci: 32-bit BARs do not fit below the IO APIC");
  }

  // ---------------------------------------------------------------- console input

  setInput(input) {
    this.inputKind = null;
    if (input === null || input === undefined) {
      this.inputKind = "none";
      return;
    }
    if (input === "stdin") {
      this.inputKind = "stdin";
      this.pendingInput = [];
      this.inputEnded = false;
      this.lastByteCtrlC = false;
      return;
    }
    this.inputKind = "buffer";
    this.inputBytes = typeof input === "string" ? Buffer.from(input, "utf8") : Buffer.from(input);
    this.inputPos = 0;
  }

  startConsole() {
    if (this.inputKind !== "stdin") return;
    this.tty = !!process.stdin.isTTY;
    if (!this.tty) {
      this.stdinFd = 0;
      return;
    }
    // Raw mode on the terminal, and our own non-blocking file description of it (so that timeouts and
    // the Ctrl-C/Ctrl-\ escape work while the guest is busy, without changing fd 0's flags for the shell).
    try {
      this.ttyFd = openSync("/proc/self/fd/0", fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
    } catch {
      this.ttyFd = openSync("/dev/tty", fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
    }
    process.stdin.setRawMode(true);
    this.restoreTty = () => {
      if (!this.restoreTty) return;
      this.restoreTty = null;
      try {
        process.stdin.setRawMode(false);
      } catch {}
      try {
        closeSync(this.ttyFd);
      } catch {}
      process.removeListener("exit", onExit);
    };
    const onExit = () => this.restoreTty && this.restoreTty();
    process.on("exit", onExit);
  }

  stopConsole() {
    if (this.restoreTty) this.restoreTty();
    if (this.tty && process.stdin.pause) process.stdin.pause();
  }

  // Non-blocking look at the terminal: bytes go to pendingInput; Ctrl-\ or Ctrl-C twice end the run.
  pollTty() {
    if (!this.tty || this.ttyFd === undefined || this.restoreTty === null) return;
    const buf = Buffer.alloc(256);
    for (;;) {
      let n;
      try {
        n = readSync(this.ttyFd, buf, 0, buf.length, null);
      } catch (e) {
        if (e.code === "EAGAIN" || e.code === "EWOULDBLOCK") return;
        throw e;
      }
      if (n === 0) {
        this.inputEnded = true;
        return;
      }
      for (let i = 0; i < n; i++) {
        const b = buf[i];
        if (b === 0x1c) throw new Interrupted("Ctrl-\\");
        if (b === 0x03 && this.lastByteCtrlC) throw new Interrupted("Ctrl-C twice");
        this.lastByteCtrlC = b === 0x03;
        this.pendingInput.push(b);
      }
    }
  }

  // Poll the terminal every ~100 ms of real time from the busy paths (relax, irq_wait).
  maybePollTty() {
    if (!this.tty) return;
    if ((++this.relaxCount & 1023) !== 0) return;
    const t = performance.now();
    if (t - this.lastPollMs < 100) return;
    this.lastPollMs = t;
    this.pollTty();
  }

  consoleRead(ptr, cap, timeoutNs, memory = this.memory) {
    if (cap <= 0) return 0;
    if (ptr < 0 || ptr + cap > memory.buffer.byteLength)
      throw new GuestTrap(`console_read: range [${hex(ptr)}, +${cap}) outside memory`);
    const mem = new Uint8Array(memory.buffer);
    if (this.inputKind === "none") return -1;
    if (this.inputKind === "buffer") {
      if (this.inputPos >= this.inputBytes.length) return -1;
      const n = Math.min(cap, this.inputBytes.length - this.inputPos);
      mem.set(this.inputBytes.subarray(this.inputPos, this.inputPos + n), ptr);
      this.inputPos += n;
      return n;
    }
    if (!this.tty) {
      // A pipe or a file: read synchronously; EAGAIN (a non-blocking descriptor) means "nothing yet".
      if (this.inputEnded) return -1;
      const buf = Buffer.alloc(cap);
      const deadlineMs = performance.now() + Math.min(Number(timeoutNs / 1_000_000n), 1e9);
      for (;;) {
        let n;
        try {
          n = readSync(0, buf, 0, cap, null);
        } catch (e) {
          if (e.code !== "EAGAIN" && e.code !== "EWOULDBLOCK") throw e;
          if (performance.now() >= deadlineMs) {
            this.advanceTo(this.clampNs(this.now + timeoutNs), false);
            return 0;
          }
          sleepMs(Math.min(10, deadlineMs - performance.now()));
          continue;
        }
        if (n === 0) {
          this.inputEnded = true;
          return -1;
        }
        mem.set(buf.subarray(0, n), ptr);
        return n;
      }
    }
    // The terminal: wait (in real time) up to the timeout for a key.
    const deadlineMs = performance.now() + Math.min(Number(timeoutNs / 1_000_000n), 1e12);
    for (;;) {
      this.pollTty();
      if (this.pendingInput.length) {
        const n = Math.min(cap, this.pendingInput.length);
        mem.set(this.pendingInput.splice(0, n), ptr);
        return n;
      }
      if (this.inputEnded) return -1;
      const left = deadlineMs - performance.now();
      if (left <= 0) {
        this.advanceTo(this.clampNs(this.now + timeoutNs), false);
        return 0;
      }
      sleepMs(Math.min(left, 15));
    }
  }

  // ---------------------------------------------------------------- clock

  clampNs(t) {
    return t > CLOCK_MAX ? CLOCK_MAX : t;
  }

  setClock(t) {
    if (t > this.now) this.now = t;
    if (this.options.timeLimitNs !== undefined && this.now > BigInt(this.options.timeLimitNs)) {
      throw new GuestTrap(`watchdog: virtual clock passed ${this.options.timeLimitNs} ns`);
    }
    for (const d of this.devices) d.func.advance(this.now);
  }

  nextEvent() {
    let next = null;
    for (const d of this.devices) {
      const t = d.func.nextEventNs();
      if (t !== null && t !== undefined && (next === null || BigInt(t) < next)) next = BigInt(t);
    }
    return next;
  }

  // Move the clock to `target`, stopping at every device event on the way (and, if asked, at the first
  // pending interrupt). Returns with this.now <= target.
  advanceTo(target, stopOnPending) {
    for (;;) {
      if (stopOnPending && this.pending) return;
      if (this.now >= target) return;
      const next = this.nextEvent();
      let step = next === null || next > target ? target : next;
      if (step <= this.now) step = this.now + 1n; // a device that keeps reporting the past must not hang us
      this.setClock(step);
    }
  }

  // ---------------------------------------------------------------- PCI

  pciRead(bdf, off) {
    bdf >>>= 0;
    off >>>= 0;
    if (bdf > 0xffff) throw new GuestTrap(`pci: bdf ${hex(bdf)} out of range`);
    if (off & 3 || off >= 256)
      throw new GuestTrap(
        `pci: config read of ${bdfName(bdf)} at offset ${hex(off)} (must be dword-aligned and < 0x100)`,
      );
    const r = this.bus.resolve(bdf);
    if (!r) return 0xffffffff;
    this.readFunctions.add(r.func);
    return this.bus.configRead32(bdf, off);
  }

  pciWrite(bdf, off, value) {
    bdf >>>= 0;
    off >>>= 0;
    value >>>= 0;
    if (bdf > 0xffff) throw new GuestTrap(`pci: bdf ${hex(bdf)} out of range`);
    if (off & 3 || off >= 256)
      throw new GuestTrap(
        `pci: config write of ${bdfName(bdf)} at offset ${hex(off)} (must be dword-aligned and < 0x100)`,
      );
    const r = this.bus.resolve(bdf);
    const refuse = (why) => {
      this.refusedConfigWrites.push({ bdf, off, value, why });
      this.trace(`pci: refused write ${bdfName(bdf)}+${hex(off, 2)} = ${hex(value, 8)}: ${why}`);
    };
    if (!r) return refuse("no such function");
    if (!this.readFunctions.has(r.func)) return refuse("the guest never read this function");
    const isBridge = ((r.func.configRead32(CFG.HEADER) >>> 16) & 0x7f) === 1;
    // BARs, the expansion ROM, and a bridge's memory windows: the host keeps them where firmware put them.
    const barOff = isBridge
      ? off === 0x10 || off === 0x14 || (off >= 0x20 && off <= 0x2c) || off === 0x38
      : (off >= 0x10 && off <= 0x24) || off === 0x30;
    if (barOff) return refuse("BAR and window writes are ignored (the host places BARs)");
    guardConfigWrite(r.func, bdf, off, value, (message) => new GuestTrap(message), this);
    if (this.tracer?.mask) this.tracer.config(r.func, bdf, off, value);
    this.trace(`pci: write ${bdfName(bdf)}+${hex(off, 2)} = ${hex(value, 8)}`);
    r.func.configWrite32(off, value);
    if (off === CFG.COMMAND) {
      if (value & CMD_BUS_MASTER) this.masterEnabled.add(r.func);
      for (let l = 0; l < this.lines.length; l++)
        if (this.lines[l] && this.lines[l].func === r.func) this.evaluateLine(l);
    }
  }

  // Decode a memory BAR from the function's config space, as an OS would (but without sizing it by
  // writing ones: the host knows the size).
  decodeBar(func, bar) {
    if (bar < 0 || bar > 5) return null;
    const low = func.configRead32(CFG.BAR0 + 4 * bar) >>> 0;
    if (low & 1) return null; // IO BAR
    const type = (low >>> 1) & 3;
    let addr = BigInt(low & ~0xf);
    if (type === 2) {
      if (bar === 5) return null;
      addr |= BigInt(func.configRead32(CFG.BAR0 + 4 * bar + 4) >>> 0) << 32n;
    }
    const info = (func.bars ?? []).find((b) => b.index === bar);
    if (!info || addr === 0n) return null;
    return { addr, size: BigInt(info.size), is64: type === 2 };
  }

  mmioMap(bdf, bar) {
    bdf >>>= 0;
    bar >>>= 0;
    const r = bdf <= 0xffff ? this.bus.resolve(bdf) : null;
    if (!r) {
      this.trace(`mmio_map ${hex(bdf)} bar ${bar}: no such function`);
      return -1;
    }
    const existing = this.maps.findIndex((m) => m.func === r.func && m.bar === bar);
    if (existing >= 0) return existing + 1;
    const d = this.decodeBar(r.func, bar);
    if (!d) {
      this.trace(`mmio_map ${bdfName(bdf)} bar ${bar}: not a memory BAR or unassigned`);
      return -2;
    }
    if (this.maps.length >= MAX_MAPS) return -3;
    this.maps.push({ bdf, func: r.func, bar, size: d.size, addr: d.addr });
    this.trace(`mmio_map ${bdfName(bdf)} bar ${bar}: ${hex(d.addr)} size ${hex(d.size)} -> handle ${this.maps.length}`);
    return this.maps.length;
  }

  mapFor(handle, what) {
    const m = this.maps[(handle | 0) - 1];
    if (!m) throw new GuestTrap(`mmio: ${what} with bad handle ${handle | 0}`);
    return m;
  }

  checkMmio(m, off, what) {
    const where = `BAR${m.bar} of ${bdfName(m.bdf)} (size ${hex(m.size)})`;
    if (off & 3) throw new GuestTrap(`mmio: ${what} at offset ${hex(off)} of ${where} is not dword-aligned`);
    if (BigInt(off) + 4n > m.size) throw new GuestTrap(`mmio: ${what} at offset ${hex(off)} is outside ${where}`);
    // Memory decoding off (command bit 1): the access goes nowhere, as on a real bus.
    if (!(m.func.configRead32(CFG.COMMAND) & CMD_MEMORY)) {
      this.events.push({ what: `mmio ${what} at ${hex(off)} of ${where} with memory space disabled` });
      this.trace(`mmio: ${what} at ${hex(off)} of ${where} with memory space disabled (ignored)`);
      return false;
    }
    return true;
  }

  mmioRead(handle, off) {
    off >>>= 0;
    const m = this.mapFor(handle, "read");
    if (!this.checkMmio(m, off, "read")) return 0xffffffff;
    const v = m.func.mmioRead32(m.bar, off) >>> 0;
    if (this.tracer?.mask) this.tracer.mmio(m, off, v, false);
    if (this.traceFn) {
      const key = `${handle}:${off}:${v}`;
      if (this.lastRead && this.lastRead.key === key) this.lastRead.count++;
      else {
        this.flushReadTrace();
        this.lastRead = { key, count: 1 };
        this.trace(`mmio: read  ${bdfName(m.bdf)} bar${m.bar}+${hex(off, 4)} -> ${hex(v, 8)}`);
      }
    }
    return v;
  }

  mmioWrite(handle, off, value) {
    off >>>= 0;
    value >>>= 0;
    const m = this.mapFor(handle, "write");
    if (!this.checkMmio(m, off, "write")) return;
    guardMmioWrite(this, m, off, value, (message) => new GuestTrap(message));
    if (this.tracer?.mask) this.tracer.mmio(m, off, value, true);
    this.flushReadTrace();
    this.trace(`mmio: write ${bdfName(m.bdf)} bar${m.bar}+${hex(off, 4)} = ${hex(value, 8)}`);
    m.func.mmioWrite32(m.bar, off, value);
  }

  flushReadTrace() {
    if (this.lastRead && this.lastRead.count > 1)
      this.trace(`mmio:   (same read ${this.lastRead.count - 1} more times)`);
    this.lastRead = null;
  }

  // ---------------------------------------------------------------- DMA

  // Whether [busAddr, busAddr + bytes) lies inside the driver's DMA window.
  inDmaWindow(busAddr, bytes) {
    const off = BigInt(busAddr) - this.dmaBase;
    return off >= 0n && off + BigInt(bytes) <= BigInt(this.memory.buffer.byteLength);
  }

  dmaAddress(ptr, len) {
    ptr >>>= 0;
    len >>>= 0;
    if (ptr + len > this.memory.buffer.byteLength) return 0n;
    return this.dmaBase + BigInt(ptr);
  }

  recordDmaFault(entry, busAddr, len, write, why) {
    const f = { device: entry.name, busAddr: BigInt(busAddr), len, write, why };
    this.dmaFaults.push(f);
    this.trace(`dma fault: ${entry.name} ${write ? "write" : "read"} ${hex(f.busAddr)} +${len}: ${why}`);
    return new DmaFault(busAddr, len, why);
  }

  // Bus address -> offset in memory, as an IOMMU would; faults outside the window or without bus mastering.
  translate(entry, busAddr, len, write) {
    const a = BigInt(busAddr);
    if (!this.masterPathEnabled(entry.func)) throw this.recordDmaFault(entry, a, len, write, "bus mastering disabled");
    const off = a - this.dmaBase;
    if (len < 0 || off < 0n || off + BigInt(len) > BigInt(this.memory.buffer.byteLength)) {
      throw this.recordDmaFault(entry, a, len, write, "outside the DMA window");
    }
    return Number(off);
  }

  // The device's bus-master bit, and every bridge's on the way up.
  masterPathEnabled(func) {
    if (!(func.configRead32(CFG.COMMAND) & CMD_BUS_MASTER)) return false;
    const up = (segment, target) => {
      for (const f of segment.slots.values()) {
        if (f === target) return true;
        if (f instanceof PciBridge && up(f.child, target)) {
          if (!(f.configRead32(CFG.COMMAND) & CMD_BUS_MASTER)) throw null;
          return true;
        }
      }
      return false;
    };
    try {
      up(this.root, func);
      return true;
    } catch (e) {
      if (e === null) return false;
      throw e;
    }
  }

  dmaRead(entry, busAddr, len) {
    const off = this.translate(entry, busAddr, len, false);
    return new Uint8Array(this.memory.buffer.slice(off, off + len));
  }

  dmaWrite(entry, busAddr, bytes) {
    const off = this.translate(entry, busAddr, bytes.length, true);
    new Uint8Array(this.memory.buffer).set(bytes, off);
  }

  // ---------------------------------------------------------------- interrupts

  irqAttach(bdf, mode) {
    bdf >>>= 0;
    mode >>>= 0;
    const r = bdf <= 0xffff ? this.bus.resolve(bdf) : null;
    if (!r) return -1;
    const entry = this.devices.find((d) => d.func === r.func);
    const kind = IRQ_KINDS[mode];
    if (mode === 1 || mode === 2) {
      const id = mode === 1 ? 0x11 : 0x05;
      if (!this.hasCapability(r.func, id)) {
        this.trace(`irq_attach ${bdfName(bdf)} ${kind}: no ${kind === "msix" ? "MSI-X" : "MSI"} capability`);
        return -1;
      }
    } else if (mode === 0) {
      if (!((r.func.configRead32(CFG.INTERRUPT) >>> 8) & 0xff)) {
        this.trace(`irq_attach ${bdfName(bdf)} intx: no interrupt pin`);
        return -1;
      }
      const same = this.lines.findIndex((l) => l && l.mode === "intx" && l.func === r.func);
      if (same >= 0) return same;
    } else return -1;
    if (this.lines.length >= MAX_LINES) return -1;
    const line = this.lines.length;
    this.lines.push({ mode: kind, bdf, func: r.func, entry, masked: false });
    this.trace(`irq_attach ${bdfName(bdf)} ${kind === "msix" ? "msi-x" : kind} -> line ${line}`);
    if (mode === 0) this.evaluateLine(line);
    return line;
  }

  hasCapability(func, id) {
    if (!((func.configRead32(0x04) >>> 16) & 0x10)) return false;
    let p = func.configRead32(CFG.CAP_PTR) & 0xfc;
    for (let i = 0; p && i < 48; i++) {
      const v = func.configRead32(p);
      if ((v & 0xff) === id) return true;
      p = (v >>> 8) & 0xfc;
    }
    return false;
  }

  // The message address and data of MSI-X or MSI line n; the same refusal as boot/host.c for anything else.
  msiLine(n, what) {
    const l = this.lines[n | 0];
    if ((n | 0) < 0 || !l || (l.mode !== "msix" && l.mode !== "msi"))
      throw new GuestTrap(`irq: ${what} of line ${n | 0}: not an MSI-X or MSI line of this guest`);
    return l;
  }
  msiAddressOf(n) {
    return MSI_ADDRESS;
  }
  msiDataOf(n) {
    return MSI_DATA_BASE + (n | 0);
  }
  msiAddress(n) {
    this.msiLine(n, "irq_msi_address");
    return this.msiAddressOf(n);
  }
  msiData(n) {
    this.msiLine(n, "irq_msi_data");
    return this.msiDataOf(n);
  }

  // A device's MSI-X message: a posted write to the interrupt address range.
  msiWrite(entry, address, data) {
    const a = BigInt(address);
    data = Number(data) >>> 0;
    if ((a & ~0xf_fff0n) !== MSI_ADDRESS) {
      this.strayInterrupts.push({ device: entry.name, address: a, data, why: "not an interrupt address" });
      this.trace(`msi: ${entry.name} wrote ${hex(data)} to ${hex(a)}, not an interrupt address`);
      return;
    }
    const n = (data & 0xff) - MSI_DATA_BASE;
    const l = this.lines[n];
    if (n < 0 || !l || (l.mode !== "msix" && l.mode !== "msi") || l.func !== entry.func) {
      this.strayInterrupts.push({
        device: entry.name,
        address: a,
        data,
        why: "no MSI-X or MSI line of this function with this vector",
      });
      this.trace(`msi: ${entry.name} sent vector ${hex(data & 0xff)}, which no MSI-X or MSI line of it uses`);
      return;
    }
    this.trace(`msi: ${entry.name} -> line ${n}`);
    this.pending |= 1 << n;
  }

  setIntx(entry, level) {
    if (entry.intxLevel === level) return;
    entry.intxLevel = level;
    this.trace(`intx: ${entry.name} ${level ? "asserted" : "deasserted"}`);
    for (let n = 0; n < this.lines.length; n++) if (this.lines[n].func === entry.func) this.evaluateLine(n);
  }

  // Level-triggered INTx: when the (enabled) level is high and the line is not masked, it fires: it
  // becomes pending and masked until irq_ack.
  evaluateLine(n) {
    const l = this.lines[n];
    if (!l || l.mode !== "intx" || l.masked) return;
    const level = l.entry ? l.entry.intxLevel : false;
    if (!level || l.func.configRead32(CFG.COMMAND) & CMD_INTX_DISABLE) return;
    l.masked = true;
    this.pending |= 1 << n;
  }

  irqAck(n) {
    const l = this.lines[n | 0];
    if (!l) {
      this.events.push({ what: `irq_ack of unattached line ${n}` });
      return;
    }
    if (l.mode !== "intx") return;
    l.masked = false;
    this.evaluateLine(n | 0);
  }

  irqWait(timeoutNs) {
    this.maybePollTty();
    this.now = this.clampNs(this.now + 100n); // a call costs time, so irq_wait(0) in a loop still moves on
    this.setClock(this.now);
    const deadline = this.clampNs(this.now + timeoutNs);
    for (;;) {
      this.advanceTo(deadline, true);
      if (this.pending || this.now >= deadline) break;
    }
    const p = this.pending;
    this.pending = 0;
    if (p && this.tracer?.mask) this.tracer.irq(p);
    return p;
  }

  // ---------------------------------------------------------------- the imports

  // abort's msg and file: an AssemblyScript string (UTF-16, its byte length in the u32 before it),
  // or, with bit 31 set, a Text of host/ascii-strings.js (a length byte, then ASCII): docs/abi.md.
  readString(ptr, memory = this.memory) {
    if (!ptr) return null;
    const mem = memory.buffer;
    if (ptr & ABORT_TEXT_FLAG) {
      const at = ptr & ~ABORT_TEXT_FLAG;
      if (at >= mem.byteLength) return `<bad text pointer ${hex(at)}>`;
      const len = new Uint8Array(mem)[at];
      if (at + 1 + len > mem.byteLength) return `<bad text at ${hex(at)}>`;
      return Buffer.from(mem, at + 1, len).toString("latin1");
    }
    if (ptr < 4 || ptr > mem.byteLength) return `<bad string pointer ${hex(ptr)}>`;
    const len = new DataView(mem).getUint32(ptr - 4, true);
    if (ptr + len > mem.byteLength) return `<bad string at ${hex(ptr)}>`;
    return Buffer.from(mem, ptr, len & ~1).toString("utf16le");
  }

  trace(line) {
    if (this.traceFn) this.traceFn(line);
  }

  errWrite(s) {
    if (this.stderrFn) this.stderrFn(s);
  }

  out(bytes) {
    if (this.options.capture !== false) this.outChunks.push(Buffer.from(bytes));
    this.outBytes += bytes.length;
    if (this.stdoutFn) this.stdoutFn(bytes);
  }

  // A busy-wait step: 1 µs, doubling while the guest keeps spinning without writing a register (up
  // to 1 ms), never past the next device event, so what the guest observes is exactly what spinning
  // would show, and a 30 s timeout costs thousands of calls.
  relaxStepAdvance() {
    this.maybePollTty();
    const step = this.relaxStep;
    if (this.relaxStep < 1_000_000n) this.relaxStep *= 2n;
    let target = this.now + step;
    const next = this.nextEvent();
    if (next !== null && next > this.now && next < target) target = next;
    this.setClock(this.clampNs(target));
  }

  // What every module imports from `env`: its memory, abort, console, command line, clock, poweroff.
  commonImports(memory) {
    const m = this;
    const inRange = (ptr, len, what) => {
      if (ptr < 0 || len < 0 || ptr + len > memory.buffer.byteLength)
        throw new GuestTrap(`${what}: range [${hex(ptr)}, +${len}) outside memory`);
    };
    return {
      memory,
      abort(msg, file, line, col) {
        throw new GuestTrap(
          `abort: ${m.readString(msg, memory) ?? "(no message)"} at ${m.readString(file, memory) ?? "(unknown)"}:${line >>> 0}:${col >>> 0}`,
        );
      },
      console_write(ptr, len) {
        ptr >>>= 0;
        len >>>= 0;
        inRange(ptr, len, "console_write");
        m.out(new Uint8Array(memory.buffer.slice(ptr, ptr + len)));
      },
      console_read(ptr, cap, timeout) {
        return m.consoleRead(ptr >>> 0, cap | 0, BigInt.asUintN(64, timeout), memory);
      },
      cmdline(ptr, cap) {
        const bytes = Buffer.from(m.cmdline, "utf8");
        ptr >>>= 0;
        cap = Math.max(0, cap | 0);
        const n = Math.min(cap, bytes.length);
        inRange(ptr, n, "cmdline");
        new Uint8Array(memory.buffer).set(bytes.subarray(0, n), ptr);
        return bytes.length;
      },
      now_ns() {
        m.setClock(m.clampNs(m.now + 100n));
        return m.now;
      },
      poweroff(code) {
        throw new PowerOff(code | 0);
      },
    };
  }

  // The driver's imports: the common ones and the hardware ABI of docs/abi.md. `requestDone` receives
  // env.request_done (a BlockLink's).
  imports(requestDone = null) {
    const m = this;
    const u64 = (v) => BigInt.asUintN(64, v);
    return {
      env: {
        ...this.commonImports(this.memory),
        relax() {
          m.relaxStepAdvance();
        },
        // The model runs between the driver's calls, never beside it: nothing to order.
        fence() {},
        pci_read32: (bdf, off) => m.pciRead(bdf, off) | 0,
        pci_write32: (bdf, off, v) => m.pciWrite(bdf, off, v),
        mmio_map: (bdf, bar) => m.mmioMap(bdf, bar),
        mmio_size: (h) =>
          Number(m.mapFor(h, "mmio_size").size > 0x8000_0000n ? 0x8000_0000n : m.mapFor(h, "mmio_size").size) | 0,
        mmio_read32: (h, off) => m.mmioRead(h, off) | 0,
        mmio_write32: (h, off, v) => {
          m.relaxStep = 1000n;
          return m.mmioWrite(h, off, v);
        },
        dma_address: (ptr, len) => m.dmaAddress(ptr, len),
        irq_attach: (bdf, mode) => m.irqAttach(bdf, mode),
        irq_msi_address: (line) => m.msiAddress(line),
        irq_msi_data: (line) => m.msiData(line),
        irq_wait: (timeout) => m.irqWait(u64(timeout)) | 0,
        irq_ack: (line) => m.irqAck(line),
        request_done(tag, status, lba) {
          if (!requestDone) throw new GuestTrap("request_done called, but no block interface is linked");
          requestDone(tag, status, lba);
        },
        trace_begin(mask) {
          if (m.tracer) m.tracer.begin(mask);
        },
        trace_event(kind, where, ptr, len) {
          if (m.tracer) m.tracer.event(kind, where, ptr, len);
        },
      },
    };
  }

  async instantiateAlone(module) {
    const instance = await WebAssembly.instantiate(module, this.imports());
    return instance.exports.main;
  }

  // The driver, started, and the client linked to it; returns the client's main.
  async instantiateLinked(driverModule, clientModule, fsModule = null) {
    this.tracer = await Tracer.load(this, this.options.traceRecords ?? null);
    let link = null;
    const driver = await WebAssembly.instantiate(
      driverModule,
      this.imports((tag, status, lba) => link.requestDone(tag, status, lba)),
    );
    this.driver = driver;
    // A pair per client module linked below (the shell, and fs.wasm when given); the queues= boot
    // option may ask for more.
    driver.exports.io_queues(fsModule ? 2 : 1);
    driver.exports.start_cmdline(BUFFER_BYTES);
    link = new BlockLink(this, driver);
    this.link = link;
    const clientMemory = new WebAssembly.Memory({ initial: CLIENT_MEMORY_PAGES, maximum: CLIENT_MEMORY_PAGES });
    const total = driver.exports.buffer_bytes() >>> 0;
    const share = Math.min(SHELL_SHARE_BYTES, total);
    const blk = link.clientImports(() => clientMemory, share);
    // fs.wasm, a second client with its own memory and share, reached by the shell through fs.call
    // (host/module-link.js). Without it (not built, or no room) fs.call answers -1.
    let fsExports = null;
    const fsMemory = new WebAssembly.Memory({ initial: FS_MEMORY_PAGES, maximum: FS_MEMORY_PAGES });
    if (fsModule && total - share >= FS_SHARE_BYTES) {
      const fs = await WebAssembly.instantiate(fsModule, {
        env: { memory: fsMemory, abort: this.commonImports(fsMemory).abort },
        blk: link.clientImports(() => fsMemory, FS_SHARE_BYTES),
      });
      fsExports = fs.exports;
    }
    const client = await WebAssembly.instantiate(clientModule, {
      env: this.commonImports(clientMemory),
      blk,
      fs: serverImports(
        () => clientMemory,
        () => fsMemory,
        fsExports,
      ),
    });
    return client.exports.main;
  }

  // Stop every function the guest let master the bus (after a trap: a dead driver must not DMA).
  clearBusMastering() {
    for (const f of this.masterEnabled) {
      const cmd = f.configRead32(CFG.COMMAND) & 0xffff;
      f.configWrite32(CFG.COMMAND, cmd & ~CMD_BUS_MASTER);
    }
  }

  // Runs the guest and returns { code, output, reason, trap, guestCode }: the driver is instantiated
  // and started (start_cmdline: its options come from the command line), the client module is linked
  // to it through a BlockLink and its main() runs. A module that exports main() itself (the kernel
  // tests' probe guests) runs alone with the driver's imports.
  async run(driverBytes, clientBytes) {
    this.firmware();
    const build = await import("./build.js");
    const driverModule = await WebAssembly.compile(driverBytes ?? readFileSync(build.WASM));
    const alone = WebAssembly.Module.exports(driverModule).some((e) => e.name === "main");
    const clientModule = alone ? null : await WebAssembly.compile(clientBytes ?? readFileSync(build.SHELL_WASM));
    const fsModule =
      alone || !existsSync(build.FS_WASM) ? null : await WebAssembly.compile(readFileSync(build.FS_WASM));
    const result = { code: 0, output: "", reason: "return", trap: null, guestCode: 0 };
    const endTrap = (message) => {
      this.flushReadTrace();
      result.reason = "trap";
      result.trap = message;
      result.code = TRAP_EXIT;
      this.clearBusMastering();
      const line = `trap: ${message}\n`;
      this.outChunks.push(Buffer.from(line));
      this.errWrite(line);
    };
    this.startConsole();
    try {
      const main = alone
        ? await this.instantiateAlone(driverModule)
        : await this.instantiateLinked(driverModule, clientModule, fsModule);
      const r = main();
      result.guestCode = (r ?? 0) | 0;
      result.code = result.guestCode === 0 ? 0 : result.guestCode & 0xff || 1;
      this.trace(`main() returned ${result.guestCode} without poweroff`);
    } catch (e) {
      if (e instanceof PowerOff) {
        result.reason = "poweroff";
        result.guestCode = e.code;
        result.code = e.code === 0 ? 0 : e.code & 0xff || 1;
      } else if (e instanceof Interrupted) {
        result.reason = "interrupt";
        result.code = INTERRUPT_EXIT;
        this.clearBusMastering();
        const line = `\ninterrupted (${e.why})\n`;
        this.outChunks.push(Buffer.from(line));
        this.errWrite(line);
      } else if (e instanceof GuestTrap) {
        endTrap(e.message);
      } else if (e instanceof WebAssembly.RuntimeError) {
        endTrap(e.message);
      } else if (e instanceof RangeError && /call stack/i.test(e.message)) {
        endTrap("stack overflow");
      } else if (e instanceof DmaFault) {
        endTrap(`host: device did not handle ${e.message}`);
        this.hostError = e;
      } else {
        endTrap(`host: ${e && e.message ? e.message : String(e)}`);
        this.hostError = e;
        if (this.traceFn && e && e.stack) this.trace(e.stack);
      }
    } finally {
      this.stopConsole();
      this.flushReadTrace();
    }
    result.output = Buffer.concat(this.outChunks).toString("utf8");
    return result;
  }
}
