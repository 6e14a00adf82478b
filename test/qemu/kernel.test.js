// The bare-metal kernel on its own: a probe guest of our own (compiled here from
// AssemblyScript) exercises every import of docs/abi.md under QEMU, in the configurations
// helpers.js builds. The probe exports main, so boot/build.sh builds it alone (probe mode: no
// client module, the kernel calls its main); test/qemu/link.test.js covers the driver + client link. The real driver's end-to-end tests live elsewhere and use helpers.js too.
// Skipped only when QEMU is missing and CI is not set; under CI these must run.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootQemu, hasQemu, ROOT, PROBE_IMPORTS } from "./helpers.js";

const RUN = hasQemu() || !!process.env.CI;
const TRAP = 125; // boot/kernel.h EXIT_TRAP
const EXCEPTION = 126; // boot/kernel.h EXIT_EXCEPTION

const PROBE = `// A probe guest for the bare-metal kernel's own tests: each ;-separated word of the command
// line exercises one import.
${PROBE_IMPORTS}
const OUT = memory.data(8192);
const LINE = memory.data(4096);
const ASQ = memory.data(4096, 4096);
const ACQ = memory.data(4096, 4096);
const IDBUF = memory.data(4096, 4096);
const TEXTS = memory.data(128); // abort_text's two Texts

let outLen = 0;
function put(s: string): void {
  for (let i = 0; i < s.length; i++) store<u8>(OUT + outLen++, <u8>s.charCodeAt(i));
}
function flush(): void { store<u8>(OUT + outLen++, 10); console_write(OUT, outLen); outLen = 0; }
function say(s: string): void { put(s); flush(); }
function hex(v: u64): string { return "0x" + v.toString(16); }
function bdfName(bdf: u32): string {
  const b = (bdf >> 8).toString(16), d = ((bdf >> 3) & 31).toString(16);
  return (b.length < 2 ? "0" + b : b) + ":" + (d.length < 2 ? "0" + d : d) + "." + (bdf & 7).toString();
}

let nvmes: u32[] = [];
function scan(): void {
  nvmes = [];
  for (let bus: u32 = 0; bus < 256; bus++) {
    for (let dev: u32 = 0; dev < 32; dev++) {
      for (let fn: u32 = 0; fn < 8; fn++) {
        const bdf = (bus << 8) | (dev << 3) | fn;
        const id = pci_read32(bdf, 0);
        if ((id & 0xffff) == 0xffff) { if (fn == 0) break; else continue; }
        const cls = pci_read32(bdf, 8) >> 8;
        if (cls == 0x010802) nvmes.push(bdf);
        say("pci " + bdfName(bdf) + " vid=" + hex(id & 0xffff) + " did=" + hex(id >> 16) + " class=" + hex(cls));
        if (fn == 0 && !(pci_read32(bdf, 12) & 0x800000)) break;
      }
    }
  }
}

function depth(n: i32): i32 { return n == 0 ? 0 : depth(n - 1) * 3 + 1; }

function wr(h: i32, off: u32, v: u32): void { mmio_write32(h, off, v); }
function rd(h: i32, off: u32): u32 { return mmio_read32(h, off); }

// A minimal NVMe bring-up to see interrupts arrive: two Identify commands on the admin
// queue, each completed through irq_wait, the second only if irq_ack unmasked the line.
function nvmeIrq(bdf: u32, mode: u32): void {
  const h = mmio_map(bdf, 0);
  const dstrd = rd(h, 4) & 0xf;
  const cmd = pci_read32(bdf, 4) & 0xffff;
  pci_write32(bdf, 4, (cmd | 0x6 | (mode == 1 ? 0x400 : 0)) & ~(mode == 0 ? 0x400 : 0));
  wr(h, 0x14, 0);
  while (rd(h, 0x1c) & 1) relax();
  memory.fill(ASQ, 0, 4096); memory.fill(ACQ, 0, 4096);
  wr(h, 0x24, (15 << 16) | 15);
  const asq = dma_address(ASQ, 4096), acq = dma_address(ACQ, 4096);
  wr(h, 0x28, <u32>asq); wr(h, 0x2c, <u32>(asq >> 32));
  wr(h, 0x30, <u32>acq); wr(h, 0x34, <u32>(acq >> 32));
  const line = irq_attach(bdf, mode);
  put("irq mode=" + (mode == 1 ? "msix" : "intx") + " line=" + line.toString());
  if (line < 0) { flush(); return; }
  if (mode == 1) {
    let cap = pci_read32(bdf, 0x34) & 0xfc;
    while (cap != 0 && (pci_read32(bdf, cap) & 0xff) != 0x11) cap = (pci_read32(bdf, cap) >> 8) & 0xfc;
    const table = pci_read32(bdf, cap + 4);
    const th = mmio_map(bdf, table & 7);
    const base = table & ~7;
    const addr = irq_msi_address(line);
    wr(th, base, <u32>addr); wr(th, base + 4, <u32>(addr >> 32)); wr(th, base + 8, irq_msi_data(line)); wr(th, base + 12, 0);
    pci_write32(bdf, cap, pci_read32(bdf, cap) | 0x80000000);
    put(" msi_address=" + hex(addr) + " msi_data=" + hex(irq_msi_data(line)) + " table=" + hex(table) + " ctl=" + hex(pci_read32(bdf, cap)) + " e0=" + hex(rd(th, base)) + "," + hex(rd(th, base + 8)) + "," + hex(rd(th, base + 12)) + " pba=" + hex(pci_read32(bdf, cap + 8)) + " cmd=" + hex(pci_read32(bdf, 4)));
  }
  wr(h, 0x14, (4 << 20) | (6 << 16) | 1);
  while (!(rd(h, 0x1c) & 1)) relax();
  for (let i: u32 = 0; i < 2; i++) {
    const sqe = ASQ + i * 64;
    store<u32>(sqe, 6 | ((i + 1) << 16));
    store<u64>(sqe + 24, dma_address(IDBUF, 4096));
    store<u32>(sqe + 40, 1);
    wr(h, 0x1000, i + 1);
    const t0 = now_ns();
    let pending = irq_wait(2000000000);
    const us = (now_ns() - t0) / 1000;
    const dw3 = load<u32>(ACQ + i * 16 + 12);
    put(" wait" + i.toString() + "=" + hex(pending) + " phase=" + ((dw3 >> 16) & 1).toString() + " status=" + hex(dw3 >> 17) + " us=" + us.toString());
    wr(h, 0x1000 + (4 << dstrd), i + 1);
    irq_ack(line);
  }
  let model = "";
  for (let i = 24; i < 64; i++) { const c = load<u8>(IDBUF + i); if (c > 32 && c < 127) model += String.fromCharCode(c); }
  put(" model=" + model);
  flush();
  wr(h, 0x14, 0);
}

export function main(): i32 {
  const n = cmdline(LINE, 4096);
  const text = String.UTF8.decodeUnsafe(LINE, <usize>min(n, 4096)); // one string: the stub runtime never frees
  say("probe: cmdline=[" + text + "] len=" + n.toString());
  const cmds = text.split(";");
  for (let c = 0; c < cmds.length; c++) {
    const w = cmds[c].trim().split(" ");
    const op = w[0];
    if (op == "") continue;
    if (op == "pci") scan();
    else if (op == "bar") {
      if (nvmes.length == 0) scan();
      for (let i = 0; i < nvmes.length; i++) {
        const bdf = nvmes[i];
        const lo = pci_read32(bdf, 0x10), hi = pci_read32(bdf, 0x14);
        const h = mmio_map(bdf, 0);
        const cap = (<u64>rd(h, 4) << 32) | rd(h, 0);
        say("bar " + bdfName(bdf) + " bar0=" + hex(((<u64>hi << 32) | lo) & ~0xf) + " handle=" + h.toString() +
            " size=" + hex(mmio_size(h)) + " cap=" + hex(cap) + " vs=" + hex(rd(h, 8)) + " again=" + mmio_map(bdf, 0).toString());
      }
    } else if (op == "badmap") {
      if (nvmes.length == 0) scan();
      say("badmap nofn=" + mmio_map(0xff << 8 | 31 << 3 | 7, 0).toString() + " iobar=" + mmio_map(1 << 3 | 1, 4).toString() +
          " unassigned=" + mmio_map(nvmes[0], 5).toString());
    } else if (op == "barwrite") {
      if (nvmes.length == 0) scan();
      const before = pci_read32(nvmes[0], 0x10);
      pci_write32(nvmes[0], 0x10, 0x12340000);
      say("barwrite before=" + hex(before) + " after=" + hex(pci_read32(nvmes[0], 0x10)));
    } else if (op == "oob" || op == "misaligned") {
      if (nvmes.length == 0) scan();
      const h = mmio_map(nvmes[0], 0);
      mmio_read32(h, op == "oob" ? mmio_size(h) : 2);
      say("not reached");
    } else if (op == "unreachable") unreachable();
    else if (op == "load") say("loaded " + load<u32>(<usize>0x1000000).toString());
    // The memory's edges as the generated code sees them (boot/guest-memory.h): its last word
    // reads, a word past it, a word across it, and an address past 4 GiB with the offset added.
    else if (op == "edge") { store<u32>(<usize>0xfffffc, 0x5a5aa5a5); say("edge " + hex(load<u32>(<usize>0xfffffc))); }
    else if (op == "store") { store<u32>(<usize>0x1000000, 1); say("not reached"); }
    else if (op == "straddle") say("loaded " + load<u64>(<usize>0xfffffc).toString());
    else if (op == "wrap") say("loaded " + load<u32>(<usize>(<u32>0xfffffff0 + <u32>(n - n)), 0x20).toString());
    else if (op == "abort") assert(n < 0, "deliberate abort");
    else if (op == "abort_text") { // as the transform's asserts call it: Texts, bit 31 set (docs/abi.md)
      const words = ["deliberate text abort", "assembly/probe-text.ts"];
      for (let k = 0; k < 2; k++) {
        const at = TEXTS + <usize>k * 64;
        store<u8>(at, <u8>words[k].length);
        for (let j = 0; j < words[k].length; j++) store<u8>(at + 1 + <usize>j, <u8>words[k].charCodeAt(j));
      }
      abort(changetype<string>(TEXTS | 0x80000000), changetype<string>((TEXTS + 64) | 0x80000000), 7, 9);
    }
    else if (op == "deep") say("deep " + depth(100000).toString());
    else if (op == "div") say("div " + (<i32>100 / (n - n)).toString());
    else if (op == "exit") poweroff(I32.parseInt(w[1]));
    else if (op == "return") return I32.parseInt(w[1]);
    else if (op == "dma") say("dma base=" + hex(dma_address(0, 4096)) + " end=" + hex(dma_address(0xfff000, 0x1000)) + " out=" + hex(dma_address(0xfff000, 0x1001)));
    else if (op == "time") {
      const t0 = now_ns();
      while (now_ns() - t0 < 50000000) relax();
      const t1 = now_ns();
      const p = irq_wait(100000000);
      const t2 = now_ns();
      say("time spin_ms=" + ((t1 - t0) / 1000000).toString() + " wait_ms=" + ((t2 - t1) / 1000000).toString() + " pending=" + p.toString());
    } else if (op == "read") {
      const t0 = now_ns();
      const k = console_read(LINE, 64, 200000000);
      let s = "";
      for (let i = 0; i < k; i++) s += String.fromCharCode(load<u8>(LINE + i));
      say("read n=" + k.toString() + " ms=" + ((now_ns() - t0) / 1000000).toString() + " text=[" + s.trim() + "]");
    } else if (op == "line") {
      let s = "", k = 0, t0 = now_ns();
      while (now_ns() - t0 < 5000000000) {
        const got = console_read(LINE, 64, 100000000);
        for (let i = 0; i < got; i++) s += String.fromCharCode(load<u8>(LINE + i));
        k += got;
        if (s.indexOf(String.fromCharCode(13)) >= 0) break;
      }
      say("line n=" + k.toString() + " text=[" + s.trim() + "]");
    } else if (op == "intx" || op == "msix") {
      if (nvmes.length == 0) scan();
      for (let i = 0; i < nvmes.length; i++) nvmeIrq(nvmes[i], op == "msix" ? 1 : 0);
    } else say("unknown " + op);
  }
  poweroff(0);
  return 0;
}
`;

let dir, kernel, disk, disk2;

async function buildProbe() {
  dir = mkdtempSync(join(tmpdir(), "nvme-wasm-kernel-test-"));
  writeFileSync(join(dir, "probe.ts"), PROBE);
  const asc = (await import("assemblyscript/asc")).default;
  let err = "";
  const { error } = await asc.main(
    // --baseDir: compile in the temporary directory, never under the project's asconfig.json
    // (whose targets write build/*.wat).
    [
      join(dir, "probe.ts"),
      "-o",
      join(dir, "probe.wasm"),
      "-O2",
      "--runtime",
      "stub",
      "--baseDir",
      dir,
      "--importMemory",
      "--initialMemory",
      "256",
      "--maximumMemory",
      "256",
    ],
    {
      stderr: {
        write: (s) => {
          err += s;
          return true;
        },
      },
      stdout: { write: () => true },
    },
  );
  if (error) throw new Error(`asc failed: ${err}`);
  execFileSync(join(ROOT, "boot", "build.sh"), [join(dir, "probe.wasm"), dir], { stdio: "pipe" });
  kernel = join(dir, "kernel.elf");
  disk = join(dir, "disk.img");
  disk2 = join(dir, "disk2.img");
  execFileSync("node", [join(ROOT, "boot", "mkdisk.js"), disk, "8"]);
  execFileSync("node", [join(ROOT, "boot", "mkdisk.js"), disk2, "8"]);
}

function probe(cmd, opts = {}) {
  return bootQemu({ kernel, disks: [{ path: disk }], cmd, timeoutMs: 60000, ...opts });
}
const line = (r, prefix) => r.lines.find((l) => l.startsWith(prefix));

describe.skipIf(!RUN)("bare-metal kernel (QEMU)", { timeout: 120000 }, () => {
  beforeAll(buildProbe, 180000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("boots, hands the -append text to the guest and powers off with 0 (pc)", async () => {
    const r = await probe("dma; exit 0");
    expect(r.code, r.output).toBe(0);
    expect(line(r, "boot: nvme-wasm bare-metal host")).toBeTruthy();
    expect(r.lines).toContain("probe: cmdline=[dma; exit 0] len=11");
  });

  it("a -append longer than the kernel keeps: cmdline gives its true length and the first 4096 bytes", async () => {
    const text = "dma; " + Array.from({ length: 5000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
    const r = await probe(text);
    expect(r.code, r.output.slice(0, 500)).toBe(0);
    expect(r.lines).toContain(`probe: cmdline=[${text.slice(0, 4096)}] len=${text.length}`);
  });

  it("exit codes: poweroff(3) -> 3, main returning 7 -> 7, poweroff(0) on q35 -> 0", async () => {
    expect((await probe("exit 3")).code).toBe(3);
    const r7 = await probe("return 7");
    expect(r7.code).toBe(7);
    expect(r7.lines).toContain("boot: main returned 7 without poweroff");
    expect((await probe("exit 0", { machine: "q35" })).code).toBe(0);
    expect((await probe("exit 5", { machine: "q35" })).code).toBe(5);
  });

  it("PCI: enumerates, maps BAR0 uncached, reads CAP/VS; refuses bad maps and BAR writes", async () => {
    const r = await probe("pci; bar; badmap; barwrite");
    expect(r.code, r.output).toBe(0);
    expect(r.lines).toContain("pci 00:03.0 vid=0x1b36 did=0x10 class=0x10802");
    const bar = line(r, "bar 00:03.0");
    expect(bar).toMatch(/bar0=0xfebf0000 handle=1 size=0x4000 cap=0x[0-9a-f]+ vs=0x10400 again=1/);
    expect(r.lines).toContain("badmap nofn=-1 iobar=-2 unassigned=-2");
    expect(line(r, "barwrite")).toMatch(/before=(0x[0-9a-f]+) after=\1$/);
  });

  it("DMA: the arena is 4 KiB-aligned, identity-mapped, 16 MiB; out of range is 0", async () => {
    const r = await probe("dma");
    const m = line(r, "dma").match(/base=0x([0-9a-f]+) end=0x([0-9a-f]+) out=0x0$/);
    expect(m).toBeTruthy();
    const base = BigInt("0x" + m[1]);
    expect(base % 4096n).toBe(0n);
    expect(BigInt("0x" + m[2]) - base).toBe(0xfff000n);
  });

  it("time: now_ns follows the PIT-calibrated TSC; irq_wait and console_read time out", async () => {
    const r = await probe("time; read");
    const t = line(r, "time").match(/spin_ms=(\d+) wait_ms=(\d+) pending=0/);
    expect(t, r.output).toBeTruthy();
    // The spin ends at the first now_ns at or past 50 ms; a busy build machine may hold the vCPU
    // a little longer, never less.
    expect(Number(t[1])).toBeGreaterThanOrEqual(50);
    expect(Number(t[1])).toBeLessThan(1000);
    expect(Number(t[2])).toBeGreaterThanOrEqual(100);
    expect(Number(t[2])).toBeLessThan(2000);
    const rd = line(r, "read").match(/n=0 ms=(\d+)/);
    expect(Number(rd[1])).toBeGreaterThanOrEqual(200);
  });

  it("console_read returns typed bytes", async () => {
    const r = await probe("line", { input: "hello, kernel\r" });
    expect(line(r, "line")).toBe("line n=14 text=[hello, kernel]"); // every byte, none lost at boot
  });

  it("the last word of the memory reads back what was stored there", async () => {
    const r = await probe("edge; exit 0");
    expect(r.code, r.output).toBe(0);
    expect(line(r, "edge")).toBe("edge 0x5a5aa5a5");
  });

  const traps = [
    ["oob", /^trap: mmio: mmio_read32 offset 0x4000 is outside BAR0 of 00:03.0 \(size 0x4000\)$/],
    ["misaligned", /^trap: mmio: mmio_read32 offset 0x2 is not dword-aligned in BAR0 of 00:03.0/],
    ["unreachable", /^trap: unreachable$/],
    ["load", /^trap: out of bounds memory access$/],
    ["store", /^trap: out of bounds memory access$/],
    ["straddle", /^trap: out of bounds memory access$/],
    ["wrap", /^trap: out of bounds memory access$/],
    ["abort", /^trap: abort: deliberate abort at .*probe\.ts:\d+:\d+$/],
    ["abort_text", /^trap: abort: deliberate text abort at assembly\/probe-text\.ts:7:9$/],
    ["deep", /^trap: call stack exhausted$/],
    ["div", /^trap: integer divide by zero$/],
  ];
  for (const [cmd, re] of traps) {
    it(`trap '${cmd}': one clear line and exit ${TRAP}`, async () => {
      const r = await probe(`${cmd}; exit 0`);
      expect(r.code, r.output).toBe(TRAP);
      expect(
        r.lines.some((l) => re.test(l)),
        r.output,
      ).toBe(true);
      expect(r.lines).not.toContain("not reached");
    });
  }

  for (const fault of ["pf", "ud", "stack"]) {
    it(`CPU exception (${fault}) is reported with vector and RIP, never a silent triple fault`, async () => {
      const r = await probe(`boot.fault=${fault}`);
      expect(r.code, r.output).toBe(EXCEPTION);
      const e = line(r, "exception: vector");
      expect(e).toMatch(/rip=0x[0-9a-f]+/);
      if (fault === "ud") expect(e).toMatch(/vector 6 /);
      else expect(e).toMatch(/vector 14 .* cr2=0x[0-9a-f]+/);
      if (fault === "stack") expect(e).toMatch(/kernel stack overflow/);
    });
  }

  it("a triple fault (reset) is caught on the second boot and reported, not looped or taken for success", async () => {
    const r = await probe("boot.fault=reset");
    expect(r.code, r.output).toBe(EXCEPTION);
    expect(line(r, "boot: this QEMU run booted the kernel a second time")).toBeTruthy();
  });

  it("a trap clears bus mastering on the functions the guest enabled", async () => {
    const r = await probe("intx; unreachable");
    expect(r.code, r.output).toBe(TRAP);
    const i = r.lines.indexOf("trap: unreachable");
    expect(r.lines[i + 1]).toBe("host: bus mastering cleared on 00:03.0");
  });

  for (const machine of ["pc", "q35"]) {
    it(`interrupts on ${machine}: INTx through the PIC and MSI-X through the local APIC`, async () => {
      const r = await probe("intx; msix", { machine });
      expect(r.code, r.output).toBe(0);
      const intx = line(r, "irq mode=intx");
      const msix = line(r, "irq mode=msix");
      expect(intx).toMatch(/line=0 wait0=0x1 phase=1 status=0x0 .* wait1=0x1 phase=1 status=0x0 .*model=QEMUNVMeCtrl/);
      expect(msix).toMatch(
        /line=1 msi_address=0xfee00000 msi_data=0x41 .* wait0=0x2 phase=1 status=0x0 .* wait1=0x2 phase=1/,
      );
    });
  }

  it("BAR0 above 4 GiB (highBars) is decoded, mapped and readable", async () => {
    for (const machine of ["pc", "q35"]) {
      const r = await probe("bar; msix", { machine, highBars: true });
      expect(r.code, r.output).toBe(0);
      const m = line(r, "bar ").match(/bar0=0x([0-9a-f]+) handle=1 size=0x4000 cap=0x[0-9a-f]+ vs=0x10400/);
      expect(m, r.output).toBeTruthy();
      expect(BigInt("0x" + m[1])).toBeGreaterThanOrEqual(1n << 32n);
      expect(line(r, "irq mode=msix")).toMatch(/wait0=0x1 /);
    }
  });

  it("controllers behind bridges (bus > 0), several controllers and namespaces", async () => {
    const q = await probe("bar; intx", {
      machine: "q35",
      rootPort: true,
      disks: [{ path: disk }, { path: disk2, readonly: true }],
    });
    expect(q.code, q.output).toBe(0);
    expect(line(q, "bar 01:00.0")).toMatch(/vs=0x10400/);
    expect(line(q, "bar 02:00.0")).toMatch(/vs=0x10400/);
    const p = await probe("bar", { machine: "pc", rootPort: true });
    expect(line(p, "bar 01:01.0"), p.output).toMatch(/vs=0x10400/);
    const n = await probe("bar", {
      disks: [{ ns: [{ path: disk }, { path: disk2, lbaBytes: 4096, readonly: true }] }],
      controllers: 2,
      mdts: 3,
      maxIoqpairs: 1,
    });
    expect(n.code, n.output).toBe(0);
    expect(n.lines.filter((l) => l.startsWith("bar ")).length).toBe(2);
  });

  it("a QEMU that never ends is killed at the timeout and reported", async () => {
    const r = await probe("read; read; read; read; read; read; read; read; read; read", { timeoutMs: 1500 });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBe(null);
    expect(r.output).toMatch(/QEMU killed after 1500 ms/);
  });
});
