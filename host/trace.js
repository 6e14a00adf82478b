// The Node host's side of a trace (docs/trace.md): once the driver calls env.trace_begin(mask), the
// host hands build/trace.wasm, the decoder, what it sees — MMIO accesses, configuration writes,
// interrupts — and what the driver reports through env.trace_event — commands, completions, stages —
// and the decoder prints each as one line on the console. boot/host.c does the same with the same
// decoder, so a trace reads the same in both hosts.
//
// With `records` (an array), every event is also kept as { seq, ns, kind, lane, text } for
// `nvme-wasm sim --trace-json` and the sequence diagrams (host/trace-svg.js).
import { readFileSync } from "node:fs";
import { CFG } from "./pci.js";
import { msixTable, capability } from "./guard.js";

export const TRACE_REGS = 1,
  TRACE_CMDS = 2,
  TRACE_IRQ = 4;
const EVENT_COMMAND = 1,
  EVENT_COMPLETION = 2,
  EVENT_STAGE = 3,
  EVENT_QUIRK = 4,
  EVENT_REAP = 5;
const REGION_OTHER = 0,
  REGION_NVME = 1,
  REGION_MSIX = 2;
const NVME_CLASS = 0x010802;
const DECODER_PAGES = 4;

export class Tracer {
  // machine: whose memory, clock and console; wasmBytes: build/trace.wasm; records: optional array.
  constructor(machine, wasmBytes, records = null) {
    this.m = machine;
    this.mask = 0;
    this.records = records;
    this.seq = 0;
    this.text = null; // the current event's line, while the decoder prints it
    this.memory = new WebAssembly.Memory({ initial: DECODER_PAGES, maximum: DECODER_PAGES });
    const env = machine.commonImports(this.memory);
    const write = env.console_write;
    env.console_write = (ptr, len) => {
      if (this.text !== null) this.text += Buffer.from(this.memory.buffer, ptr >>> 0, len >>> 0).toString("latin1");
      write(ptr, len);
    };
    this.d = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes), { env }).exports;
    this.entry = this.d.buffer() >>> 0;
  }

  static load(machine, records) {
    return import("./build.js").then(({ TRACE_WASM }) => new Tracer(machine, readFileSync(TRACE_WASM), records));
  }

  begin(mask) {
    this.mask = mask >>> 0;
  }

  // Runs one decoder call, keeping its line as a record of `kind` between two lanes.
  emit(kind, lane, call) {
    if (!this.records) {
      call();
      return;
    }
    this.text = "";
    call();
    this.records.push({ seq: this.seq++, ns: Number(this.m.now), kind, lane, text: this.text.replace(/\n$/, "") });
    this.text = null;
  }

  // What part of a mapped BAR an access hits, worked out once per mapping.
  region(map, off) {
    map.traceRegion ??= {
      nvme: map.bar === 0 && map.func.configRead32(CFG.CLASS) >>> 8 === NVME_CLASS,
      msix: msixTable(map.func),
    };
    const t = map.traceRegion.msix;
    if (t && map.bar === t.bar && off >= t.start && off < t.end) return [REGION_MSIX, off - t.start];
    return [map.traceRegion.nvme ? REGION_NVME : REGION_OTHER, off];
  }

  mmio(map, off, value, write) {
    if (!(this.mask & TRACE_REGS)) return;
    const [region, at] = this.region(map, off);
    this.emit(write ? "mmio-write" : "mmio-read", write ? "driver>controller" : "controller>driver", () =>
      this.d.mmio(map.bdf, region, at, value >>> 0, write ? 1 : 0),
    );
  }

  config(func, bdf, off, value) {
    if (!(this.mask & TRACE_REGS)) return;
    const cap = capability(func, 0x11);
    this.emit("pci-write", "driver>controller", () => this.d.config(bdf, off, value >>> 0, cap));
  }

  // Interrupts delivered to the guest (irq_wait's answer); one line per line pending.
  irq(lines) {
    if (!(this.mask & TRACE_IRQ) || !lines) return;
    for (let n = 0; n < 32; n++) {
      if (!(lines & (1 << n))) continue;
      const l = this.m.lines[n];
      const msix = l && (l.mode === "msix" || l.mode === "msi"); // MSI too: the decoder names the vector either way
      const vector = msix ? this.m.msiDataOf(n) : l ? l.func.configRead32(CFG.INTERRUPT) & 0xff : 0;
      this.emit("irq", "interrupts>driver", () => this.d.irq(lines >>> 0, n, vector, msix ? 1 : 0));
    }
  }

  // env.trace_event of the driver: the entry is copied from the driver's memory into the decoder's.
  event(kind, where, ptr, len) {
    if (kind === EVENT_STAGE) {
      this.emit("stage", "stage", () => this.d.stage(where >>> 0));
      return;
    }
    if (kind === EVENT_QUIRK) {
      this.emit("quirk", "driver", () => this.d.quirk(where >>> 0));
      return;
    }
    if (kind === EVENT_REAP) {
      this.emit("reap", "driver", () => this.d.reap(where >>> 0));
      return;
    }
    ptr >>>= 0;
    len >>>= 0;
    if (len > 64 || ptr + len > this.m.memory.buffer.byteLength)
      throw new Error(`trace_event: entry [${ptr}, +${len}) outside the driver's memory`);
    new Uint8Array(this.memory.buffer).set(new Uint8Array(this.m.memory.buffer, ptr, len), this.entry);
    if (kind === EVENT_COMMAND) this.emit("command", "driver>controller", () => this.d.command(where >>> 0));
    else if (kind === EVENT_COMPLETION)
      this.emit("completion", "controller>driver", () => this.d.completion(where >>> 0));
  }
}
