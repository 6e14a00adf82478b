// The driver module alone (build/nvme.wasm), driven from JavaScript through its exports against the
// controller model: what a kernel hosting the driver does, without the shell. The harness records
// every request_done, counts the waiting imports (relax, irq_wait) per export call, and pumps
// completions the way a host does (poll; irq_wait and interrupt; tick every millisecond).
import { readFileSync } from "node:fs";
import { buildMachine, closeDisks } from "../../host/sim.js";
import { buildWasm } from "../../host/build.js";

export const OP_READ = 1,
  OP_WRITE = 2,
  OP_FLUSH = 3,
  OP_WRITE_ZEROES = 4,
  OP_DEALLOCATE = 5,
  OP_FLAG_MORE = 0x100;
export const ERR = {
  TIMEOUT: 0x10000,
  FATAL: 0x10001,
  NOT_READY: 0x10002,
  BUSY: 0x10004,
  NO_NAMESPACE: 0x10005,
  RANGE: 0x10006,
  READ_ONLY: 0x10007,
  BAD_BUFFER: 0x10008,
  BAD_OP: 0x10009,
  UNUSABLE: 0x1000a,
  UNSUPPORTED: 0x1000b,
};
export const MiB = 1 << 20;
const TICK_NS = 1_000_000n;

let wasmBytes = null;

export async function driverAlone(opts = {}) {
  wasmBytes ??= readFileSync(await buildWasm({ quiet: true }));
  const { machine, opened } = await buildMachine({ seed: 1, stdout: null, stderr: null, ...opts });
  machine.firmware();
  const h = new DriverHarness(machine, opened);
  const imports = machine.imports((tag, status, lba) => h.onDone(tag, status, lba));
  for (const name of ["relax", "irq_wait"]) {
    const real = imports.env[name];
    imports.env[name] = (...args) => {
      h.waits[name]++;
      return real(...args);
    };
  }
  h.d = (await WebAssembly.instantiate(wasmBytes, imports)).instance.exports;
  return h;
}

export class DriverHarness {
  constructor(machine, opened) {
    this.m = machine;
    this.opened = opened;
    this.done = []; // { tag, status, lba } in order of arrival
    this.waits = { relax: 0, irq_wait: 0 };
    this.lastTick = 0n;
    this.linesFired = new Map(); // interrupt line -> times pump handed it to interrupt()
  }

  onDone(tag, status, lba) {
    this.done.push({ tag: BigInt.asUintN(64, tag), status: status >>> 0, lba: BigInt.asUintN(64, lba) });
  }

  // `queues`: the io_queues wish before start (left at the driver's default when not given).
  // `cmdline`: start_cmdline instead, its options read from the machine's command line (the `cmd`
  // option of driverAlone), as a host that boots with options does.
  start({ irq = 0, stage = 7, log = 1, bufferBytes = 8 * MiB, queues, cmdline = false } = {}) {
    if (queues !== undefined) this.queuesAnswer = this.d.io_queues(queues);
    const n = cmdline ? this.d.start_cmdline(bufferBytes) : this.d.start(irq, stage, log, bufferBytes);
    this.base = this.d.buffer_base() >>> 0;
    this.bufferBytes = this.d.buffer_bytes() >>> 0;
    return n;
  }

  output() {
    return Buffer.concat(this.m.outChunks).toString("utf8");
  }
  mem() {
    return new Uint8Array(this.m.memory.buffer);
  }
  model(i = 0) {
    return this.m.controllers[i];
  }
  disk(ctrl = 0, nsid = 1) {
    return this.model(ctrl).namespaces[nsid - 1].disk;
  }

  // submit with `offset` in the buffer memory; the status submit answered.
  submit(tag, op, ns, lba, blocks, offset = 0) {
    return this.d.submit(BigInt(tag), op, ns, BigInt(lba), blocks, this.base + offset) >>> 0;
  }

  // Calls an export and returns how many times it waited (relax or irq_wait) inside.
  waitsDuring(fn) {
    const before = this.waits.relax + this.waits.irq_wait;
    fn();
    return this.waits.relax + this.waits.irq_wait - before;
  }

  // What a host does between submissions, until `until()` holds or `limitNs` of virtual time pass.
  pump(until = () => this.d.outstanding() === 0, limitNs = 600_000_000_000n) {
    const m = this.m;
    const end = m.now + limitNs;
    while (!until()) {
      if (m.now >= end)
        throw new Error(`pump: nothing happened for ${limitNs} ns (outstanding ${this.d.outstanding()})`);
      this.d.poll();
      if (until()) break;
      if (this.d.wait_hint() === 2) m.relaxStepAdvance();
      else {
        const lines = m.irqWait(2_000_000n);
        for (let n = 0; n < 32; n++) if (lines & (1 << n)) this.linesFired.set(n, (this.linesFired.get(n) ?? 0) + 1);
        if (lines) this.d.interrupt(lines);
      }
      if (m.now - this.lastTick >= TICK_NS) {
        this.lastTick = m.now;
        this.d.tick();
      }
    }
  }

  namespace(i) {
    const p = this.d.describe_namespace(i) >>> 0;
    if (!p) return null;
    const v = new DataView(this.m.memory.buffer, p, 36);
    return {
      ctrl: v.getUint32(0, true),
      nsid: v.getUint32(4, true),
      blocks: v.getBigUint64(8, true),
      lbaShift: v.getUint32(16, true),
      metadata: v.getUint32(20, true),
      readonly: v.getUint32(24, true),
      refused: v.getUint32(28, true),
      format: v.getUint32(32, true),
    };
  }

  controller(i) {
    const p = this.d.describe_controller(i) >>> 0;
    if (!p) return null;
    const v = new DataView(this.m.memory.buffer, p, 156);
    const text = (off, len) =>
      Buffer.from(this.m.memory.buffer, p + off, len)
        .toString("latin1")
        .replace(/[ \0]+$/, "");
    return {
      index: v.getUint32(0, true),
      bdf: v.getUint32(4, true),
      vid: v.getUint16(8, true),
      did: v.getUint16(10, true),
      state: v.getUint32(12, true),
      stage: v.getUint32(16, true),
      irq: v.getUint32(20, true),
      version: v.getUint32(24, true),
      mqes: v.getUint32(28, true),
      dstrd: v.getUint32(32, true),
      timeoutMs: v.getUint32(36, true),
      mdtsBytes: v.getBigUint64(40, true),
      maxTransfer: v.getUint32(48, true),
      flags: v.getUint32(52, true),
      queues: v.getUint32(56, true),
      ioEntries: v.getUint32(60, true),
      namespaces: v.getUint32(64, true),
      failReason: v.getUint32(68, true),
      failStatus: v.getUint32(72, true),
      oncs: v.getUint32(76, true),
      serial: text(80, 20),
      model: text(100, 40),
      firmware: text(140, 8),
      ioQueues: v.getUint32(148, true),
      vectors: v.getUint32(152, true),
    };
  }

  stats(i) {
    const p = this.d.controller_stats(i) >>> 0;
    const v = new DataView(this.m.memory.buffer, p, 104);
    const names = [
      "commands",
      "completions",
      "errors",
      "retries",
      "readBytes",
      "writeBytes",
      "interrupts",
      "polls",
      "timeouts",
      "resets",
      "deviceNs",
      "deviceCommands",
      "eventsArmed",
    ];
    return Object.fromEntries(names.map((n, k) => [n, v.getBigUint64(k * 8, true)]));
  }

  // Every tag completed exactly once: returns a Map tag -> completion.
  completions() {
    const byTag = new Map();
    for (const c of this.done) {
      if (byTag.has(c.tag)) throw new Error(`tag ${c.tag} completed twice`);
      byTag.set(c.tag, c);
    }
    return byTag;
  }

  close() {
    closeDisks(this.opened);
  }
}
