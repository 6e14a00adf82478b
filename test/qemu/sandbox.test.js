// The bare-metal host as a sandbox (boot/README.md, "The sandbox"): a hostile probe guest of our
// own, compiled here from AssemblyScript, drives a real QEMU NVMe controller the way a buggy or
// malicious driver could and must be stopped: an MSI-X message the host did not hand out, admin
// queues outside the DMA window, a memory-space control register set, a command whose PRP points
// into kernel memory (a "bait" page the kernel fills with a pattern and checks at poweroff; its
// address comes from `nm kernel64.elf`). Without an IOMMU the host's own checks stop what they
// can and the bait shows what they cannot; with QEMU's intel-iommu the kernel's VT-d tables block
// the DMA and report it. Then the real driver and shell behind the IOMMU, the memory check, an
// over-long boot command line, and serial output that must not lose a byte while the reader stalls.
// Skipped only when QEMU is missing and CI is not set; under CI these must run.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootQemu, hasQemu, ROOT, KERNEL, PROBE_IMPORTS } from "./helpers.js";
import { tempDir, writeImage, readImage, noiseBytes, patternBytes, crcHex, linesOf } from "../lib/disk-images.js";

const RUN = hasQemu() || !!process.env.CI;
const TRAP = 125; // boot/kernel.h EXIT_TRAP
const NO_MEMORY = 124; // boot/kernel.h EXIT_BOOT
const MiB = 1 << 20;

const PROBE = `// A hostile probe: each ;-separated item of the command line is one attempt on the sandbox.
${PROBE_IMPORTS}
const OUT = memory.data(1024);
const LINE = memory.data(8192);
const ASQ = memory.data(4096, 4096);
const ACQ = memory.data(4096, 4096);
const IDBUF = memory.data(4096, 4096);
const WINDOW: u32 = 256 << 16;

let outLen = 0;
function put(s: string): void { for (let i = 0; i < s.length; i++) store<u8>(OUT + outLen++, <u8>s.charCodeAt(i)); }
function say(s: string): void { put(s); store<u8>(OUT + outLen++, 10); console_write(OUT, outLen); outLen = 0; }
function hex(v: u64): string { return "0x" + v.toString(16); }
function parseHex(s: string): u64 {
  let v: u64 = 0;
  for (let i = 2; i < s.length; i++) {
    const c = s.charCodeAt(i);
    v = v * 16 + <u64>(c <= 57 ? c - 48 : (c | 32) - 87);
  }
  return v;
}

// The first NVMe function (class 01/08/02), bus 0 and the buses behind it.
function findNvme(): u32 {
  for (let bus: u32 = 0; bus < 4; bus++)
    for (let dev: u32 = 0; dev < 32; dev++) {
      const bdf = (bus << 8) | (dev << 3);
      if ((pci_read32(bdf, 0) & 0xffff) == 0xffff) continue;
      if ((pci_read32(bdf, 8) >> 8) == 0x010802) return bdf;
    }
  say("no nvme");
  poweroff(3);
  return 0;
}

let bdf: u32 = 0, h: i32 = 0;
function wr(off: u32, v: u32): void { mmio_write32(h, off, v); }
function rd(off: u32): u32 { return mmio_read32(h, off); }
function waitRdy(want: u32): void {
  const t0 = now_ns();
  while ((rd(0x1c) & 1) != want && now_ns() - t0 < 2000000000) relax();
}

// Memory space and bus mastering on, the controller disabled, 16-entry admin queues at asq/acq.
function prepare(asq: u64, acq: u64): void {
  bdf = findNvme();
  h = mmio_map(bdf, 0);
  pci_write32(bdf, 4, (pci_read32(bdf, 4) & 0xffff) | 0x6);
  wr(0x14, 0);
  waitRdy(0);
  memory.fill(ASQ, 0, 4096); memory.fill(ACQ, 0, 4096);
  wr(0x24, (15 << 16) | 15);
  wr(0x28, <u32>asq); wr(0x2c, <u32>(asq >> 32));
  wr(0x30, <u32>acq); wr(0x34, <u32>(acq >> 32));
}
function enable(): void { wr(0x14, (4 << 20) | (6 << 16) | 1); waitRdy(1); }

// Programs MSI-X table entry 0 with the host's values, except the one field given a value of our own.
function msix(field: u32, value: u32): void {
  prepare(dma_address(ASQ, 4096), dma_address(ACQ, 4096));
  let cap = pci_read32(bdf, 0x34) & 0xfc;
  while (cap != 0 && (pci_read32(bdf, cap) & 0xff) != 0x11) cap = (pci_read32(bdf, cap) >> 8) & 0xfc;
  const table = pci_read32(bdf, cap + 4);
  const th = mmio_map(bdf, table & 7), base = table & ~7;
  const line = irq_attach(bdf, 1);
  const addr = irq_msi_address(line), data = irq_msi_data(line);
  say("msix line=" + line.toString() + " address=" + hex(addr) + " data=" + hex(data));
  mmio_write32(th, base + 12, 1); // Vector Control: any value passes
  mmio_write32(th, base, field == 0 ? value : <u32>addr);
  mmio_write32(th, base + 4, field == 4 ? value : <u32>(addr >> 32));
  mmio_write32(th, base + 8, field == 8 ? value : data);
  say("msix entry written");
}

let bait: u64 = 0;

// Identify Controller with PRP1 = prp1, queues inside the window; polls the completion (relax).
function identify(prp1: u64): void {
  prepare(dma_address(ASQ, 4096), dma_address(ACQ, 4096));
  enable();
  store<u32>(ASQ, 0x06 | (1 << 16));
  store<u64>(ASQ + 24, prp1);
  store<u32>(ASQ + 40, 1);
  wr(0x1000, 1);
  const t0 = now_ns();
  while (!(load<u32>(ACQ + 12) & 0x10000) && now_ns() - t0 < 2000000000) relax();
  const status = load<u32>(ACQ + 12) >> 17;
  say("identify prp1=" + hex(prp1) + " done=" + ((load<u32>(ACQ + 12) >> 16) & 1).toString() + " status=" + hex(status) +
      " sct=" + ((status >> 8) & 7).toString() + " sc=" + hex(status & 0xff));
  wr(0x1004, 1);
  wr(0x14, 0);
  waitRdy(0);
}

// Writes the bait address as the message address of the first plain MSI capability on bus 0.
// The first function with a plain MSI capability: "bait" writes the bait address into it, "ok" the
// message of an MSI line the host attached (mode 2), "data" that line's address with other data.
function msiCapability(how: string): void {
  for (let b: u32 = 0; b < 256; b++) {
    if ((pci_read32(b, 0) & 0xffff) == 0xffff || (pci_read32(b, 4) & (1 << 20)) == 0) continue;
    let cap = pci_read32(b, 0x34) & 0xfc;
    for (let k = 0; k < 48 && cap >= 0x40; k++) {
      const d = pci_read32(b, cap);
      if ((d & 0xff) == 5) {
        say("msi capability of " + hex(b) + " at " + hex(cap));
        const is64 = (d & (1 << 23)) != 0;
        if (how == "bait") { pci_write32(b, cap + 4, <u32>bait); say("msi written"); return; }
        const line = irq_attach(b, 2);
        say("msi line=" + line.toString());
        const address = irq_msi_address(line);
        pci_write32(b, cap + 4, <u32>address);
        if (is64) pci_write32(b, cap + 8, <u32>(address >> 32));
        pci_write32(b, cap + (is64 ? 12 : 8), how == "ok" ? irq_msi_data(line) : 0x4321);
        say("msi written");
        return;
      }
      cap = (d >> 8) & 0xfc;
    }
  }
  say("no msi capability");
}

export function main(): i32 {
  const n = cmdline(LINE, 8192);
  let text = "";
  for (let i = 0; i < min(n, 8192); i++) text += String.fromCharCode(load<u8>(LINE + i));
  const cmds = text.split(";");
  for (let c = 0; c < cmds.length; c++) {
    const w = cmds[c].trim().split(" ");
    const op = w[0];
    if (op == "") continue;
    if (op == "bait") bait = parseHex(w[1]);
    else if (op == "msix-lo") msix(0, <u32>bait);
    else if (op == "msix-hi") msix(4, 1);
    else if (op == "msix-data") msix(8, 0x4321);
    else if (op == "msix-ok") msix(12, 0);
    else if (op == "msi-capability") msiCapability("bait");
    else if (op == "msi-ok") msiCapability("ok");
    else if (op == "msi-data") msiCapability("data");
    else if (op == "msi-unattached") say("address " + hex(irq_msi_address(5)));
    else if (op == "msi-intx") { const l = irq_attach(findNvme(), 0); say("intx line=" + l.toString()); say("data " + hex(irq_msi_data(l))); }
    else if (op == "asq-out") { prepare(bait, dma_address(ACQ, 4096)); enable(); say("enabled"); }
    else if (op == "acq-out") { prepare(dma_address(ASQ, 4096), dma_address(0, 1) + WINDOW - 128); enable(); say("enabled"); }
    else if (op == "queues-edge") {
      // The window's last two pages (the queues must be page-aligned): inside, so accepted.
      prepare(dma_address(0, 1) + WINDOW - 4096, dma_address(0, 1) + WINDOW - 8192); enable();
      say("edge enabled rdy=" + (rd(0x1c) & 1).toString()); wr(0x14, 0); waitRdy(0);
    }
    else if (op == "msc-zero") {
      prepare(dma_address(ASQ, 4096), dma_address(ACQ, 4096));
      wr(0x48, 0); wr(0x4c, 0); wr(0x50, 0); wr(0x54, 0); wr(0xe14, 0); wr(0xe18, 0);
      say("memory space controls 0 accepted");
    }
    else if (op == "cmbmsc") { prepare(dma_address(ASQ, 4096), dma_address(ACQ, 4096)); wr(0x50, 3); say("cmbmsc written"); }
    else if (op == "pmrmsc") { prepare(dma_address(ASQ, 4096), dma_address(ACQ, 4096)); wr(0xe18, 0x1000); say("pmrmsc written"); }
    else if (op == "bpmbl") { prepare(dma_address(ASQ, 4096), dma_address(ACQ, 4096)); wr(0x48, <u32>bait); say("bpmbl written"); }
    else if (op == "identify-bait") identify(bait);
    else if (op == "wait") say("wait pending=" + hex(irq_wait(20000000)));
    else if (op == "identify-window") identify(dma_address(IDBUF, 4096));
    else if (op == "flood") {
      // Lines of 100 bytes, numbered: the test checks that every one arrives whole. Built in
      // place (the stub runtime never frees, so no string per character).
      const count = I32.parseInt(w[1]);
      for (let i = 0; i < count; i++) {
        outLen = 0;
        put("flood " + i.toString() + " ");
        while (outLen < 99) { store<u8>(OUT + outLen, <u8>(97 + (outLen + i) % 26)); outLen++; }
        store<u8>(OUT + outLen++, 10);
        console_write(OUT, outLen);
      }
      outLen = 0;
    }
    else say("unknown " + op);
  }
  poweroff(0);
  return 0;
}
`;

let tmp, kernel, baitHex, arena, disk;

async function buildProbe() {
  tmp = tempDir("nvme-wasm-sandbox-test-");
  const src = tmp.path("probe.ts");
  writeFileSync(src, PROBE);
  const asc = (await import("assemblyscript/asc")).default;
  let err = "";
  // --baseDir: compile in the temporary directory, so the project's asconfig.json (whose targets
  // write build/*.wat) is never consulted.
  const { error } = await asc.main(
    [
      src,
      "-o",
      tmp.path("probe.wasm"),
      "-O2",
      "--runtime",
      "stub",
      "--baseDir",
      tmp.dir,
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
  execFileSync(join(ROOT, "boot", "build.sh"), [tmp.path("probe.wasm"), tmp.dir], { stdio: "pipe" });
  kernel = tmp.path("kernel.elf");
  const syms = execFileSync("nm", [tmp.path("kernel64.elf")])
    .toString()
    .split("\n");
  const addr = (name) => {
    const l = syms.find((s) => s.endsWith(` ${name}`));
    if (!l) throw new Error(`no ${name} symbol in kernel64.elf`);
    return BigInt("0x" + l.split(" ")[0]);
  };
  baitHex = "0x" + addr("dma_bait").toString(16);
  arena = addr("guest_arena");
  disk = writeImage(tmp.path("disk.img"), noiseBytes(MiB, 1));
}

const probe = (cmd, opts = {}) =>
  bootQemu({ kernel, disks: [{ path: disk }], cmd: `bait ${baitHex}; ${cmd}`, timeoutMs: 60000, ...opts });
const pad = (hex, digits) => "0x" + BigInt(hex).toString(16).padStart(digits, "0");
const explain = (r) => `QEMU exit ${r.code}\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;

// A refused write: the one trap line, bus mastering cleared on the function, exit 125, and
// nothing the probe would have said after the write.
function expectTrap(r, line, after, busMaster = true) {
  expect(r.code, explain(r)).toBe(TRAP);
  const i = r.lines.indexOf(line);
  expect(i, explain(r)).toBeGreaterThanOrEqual(0);
  if (busMaster) expect(r.lines[i + 1], explain(r)).toMatch(/^host: bus mastering cleared on \d\d:\d\d\.\d$/);
  if (after) expect(r.lines).not.toContain(after);
}

describe.skipIf(!RUN)("the bare-metal sandbox: a hostile probe guest (QEMU)", { timeout: 120000 }, () => {
  beforeAll(buildProbe, 180000);
  afterAll(() => tmp?.remove());

  it("an MSI-X table entry with a message the host did not hand out is refused", async () => {
    const lo = await probe("msix-lo");
    expectTrap(
      lo,
      `trap: msi-x: 00:03.0 table entry 0: message address low ${pad(baitHex, 8)} is not one the host handed out`,
      "msix entry written",
    );
    expect(lo.lines).toContain("msix line=0 address=0xfee00000 data=0x40");
    expectTrap(
      await probe("msix-hi"),
      "trap: msi-x: 00:03.0 table entry 0: message address high 0x00000001 is not one the host handed out",
      "msix entry written",
    );
    expectTrap(
      await probe("msix-data", { iommu: true }),
      "trap: msi-x: 00:02.0 table entry 0: message data 0x00004321 is not one the host handed out",
      "msix entry written",
    );
    const ok = await probe("msix-ok");
    expect(ok.code, explain(ok)).toBe(0);
    expect(ok.lines).toContain("msix entry written");
  });

  it("a plain MSI capability takes only the message of an MSI line the host handed out (irq_attach mode 2)", async () => {
    const r = await probe("msi-capability", { machine: "q35" }); // q35's AHCI function has MSI
    expect(
      r.lines.some((l) => /^msi capability of /.test(l)),
      explain(r),
    ).toBe(true);
    const trap = r.lines.find((l) => l.startsWith("trap: msi: "));
    expect(trap, explain(r)).toMatch(
      new RegExp(
        `^trap: msi: 00:1f\\.2 message address low ${pad(baitHex, 8)} at offset 0x[0-9a-f]{2} of its MSI capability is not one the host handed out$`,
      ),
    );
    expect(r.code).toBe(TRAP);
    expect(r.lines).not.toContain("msi written");
    const ok = await probe("msi-ok", { machine: "q35" });
    expect(ok.code, explain(ok)).toBe(0);
    expect(ok.lines, explain(ok)).toContain("msi written");
    const data = await probe("msi-data", { machine: "q35" });
    expect(data.code, explain(data)).toBe(TRAP);
    expect(
      data.lines.find((l) => l.startsWith("trap: msi: ")),
      explain(data),
    ).toMatch(
      /^trap: msi: 00:1f\.2 message data 0x00004321 at offset 0x[0-9a-f]{2} of its MSI capability is not one the host handed out$/,
    );
  });

  it("irq_msi_address / irq_msi_data of a line that is not this guest's MSI-X or MSI line trap", async () => {
    expectTrap(
      await probe("msi-unattached"),
      "trap: irq: irq_msi_address of line 5: not an MSI-X or MSI line of this guest",
      null,
      false,
    );
    const intx = await probe("msi-intx");
    expect(intx.code, explain(intx)).toBe(TRAP);
    expect(intx.lines).toContain("intx line=0");
    expect(intx.lines).toContain("trap: irq: irq_msi_data of line 0: not an MSI-X or MSI line of this guest");
  });

  it("CC.EN=1 with an admin queue outside the DMA window is refused; the window's last bytes are fine", async () => {
    expectTrap(
      await probe("asq-out"),
      `trap: nvme: 00:03.0 CC.EN=1 with ASQ ${pad(baitHex, 16)} (+1024 bytes) outside the DMA window`,
      "enabled",
    );
    const acq = await probe("acq-out");
    const acqAddr = "0x" + (arena + 16n * BigInt(MiB) - 128n).toString(16).padStart(16, "0");
    expectTrap(acq, `trap: nvme: 00:03.0 CC.EN=1 with ACQ ${acqAddr} (+256 bytes) outside the DMA window`, "enabled");
    const edge = await probe("queues-edge");
    expect(edge.code, explain(edge)).toBe(0);
    expect(edge.lines, explain(edge)).toContain("edge enabled rdy=1");
  });

  it("BPMBL, CMBMSC and PMRMSC take 0 only", async () => {
    const zero = await probe("msc-zero");
    expect(zero.code, explain(zero)).toBe(0);
    expect(zero.lines).toContain("memory space controls 0 accepted");
    expectTrap(
      await probe("cmbmsc"),
      "trap: nvme: 00:03.0 write of 0x00000003 to CMBMSC refused: only 0 (disabled) is allowed",
      "cmbmsc written",
    );
    expectTrap(
      await probe("pmrmsc"),
      "trap: nvme: 00:03.0 write of 0x00001000 to PMRMSC refused: only 0 (disabled) is allowed",
      "pmrmsc written",
    );
    expectTrap(
      await probe("bpmbl"),
      `trap: nvme: 00:03.0 write of ${pad(baitHex, 8)} to BPMBL refused: only 0 (disabled) is allowed`,
      "bpmbl written",
    );
  });

  it("without an IOMMU a PRP into kernel memory is carried out: the bait page is overwritten", async () => {
    const r = await probe("identify-bait");
    expect(r.code, explain(r)).toBe(0);
    expect(r.lines.filter((l) => l.startsWith("iommu:"))).toEqual([
      "iommu: none (no ACPI DMAR table): devices can DMA anywhere",
    ]);
    expect(r.lines).toContain(`identify prp1=${baitHex} done=1 status=0x0 sct=0 sc=0x0`);
    expect(
      r.lines.find((l) => l.startsWith("boot: bait page changed by a device")),
      explain(r),
    ).toMatch(new RegExp(`^boot: bait page changed by a device: \\d+ of its 4096 bytes at ${baitHex} differ$`));
  });

  it("with intel-iommu the same DMA is blocked and reported; the bait is intact", async () => {
    const r = await probe("identify-bait; wait; identify-window", { iommu: true });
    expect(r.code, explain(r)).toBe(0);
    expect(r.lines.find((l) => l.startsWith("iommu: VT-d"))).toMatch(
      /translation on; devices the guest claims reach only the DMA window 0x[0-9a-f]+\.\.0x[0-9a-f]+ \(2 MiB pages, 3-level tables\)$/,
    );
    const fault = `iommu: fault: 00:02.0 write ${pad(baitHex, 16)} reason 0x05 (write to a page without write permission)`;
    expect(r.lines, explain(r)).toContain(fault);
    // The command completes: QEMU 7.2's NVMe does not look at the result of an admin command's data
    // transfer (nvme_tx ignores dma_buf_read's MemTxResult), so Identify reports success although the
    // IOMMU blocked its data. Only the fault line and the intact bait show what happened.
    expect(r.lines, explain(r)).toContain(`identify prp1=${baitHex} done=1 status=0x0 sct=0 sc=0x0`);
    // The controller goes on: an Identify into the window works.
    expect(r.lines.find((l) => l.startsWith("identify prp1=") && !l.includes(baitHex))).toMatch(/done=1 status=0x0 /);
    expect(r.lines.filter((l) => l.startsWith("iommu: fault:"))).toEqual([fault]);
    // Reported promptly: by the wait right after the command (the fault event interrupt wakes it),
    // before the next command's line.
    expect(r.lines.indexOf(fault)).toBeLessThan(r.lines.indexOf("wait pending=0x0"));
    expect(r.output).not.toMatch(/bait page changed/);
  });

  // Lines of 100 bytes, numbered; returns the indexes of the ones that did not arrive whole.
  function brokenFloodLines(r, count) {
    const got = new Map();
    for (const l of r.lines) {
      const m = l.match(/^flood (\d+) /);
      if (m) got.set(Number(m[1]), l);
    }
    const broken = [];
    for (let i = 0; i < count; i++) {
      let s = `flood ${i} `;
      while (s.length < 99) s += String.fromCharCode(97 + ((s.length + i) % 26));
      if (got.get(i) !== s) broken.push(i);
    }
    return broken;
  }

  it("serial: a reader that stalls for 0.6 s loses no byte (the UART is waited for, not polled a fixed count)", async () => {
    // 3000 lines of 100 bytes: far more than a pipe holds, so QEMU's UART holds THRE clear while the
    // test does not read.
    const r = await probe("flood 3000", { stallReaderMs: 600 });
    expect(r.code, r.output.slice(-2000)).toBe(0);
    expect(brokenFloodLines(r, 3000)).toEqual([]);
    expect(r.output).not.toMatch(/console: \d+ bytes of output may be lost/);
  });

  it("serial: a UART not ready for over 1 s is reported once, not dropped silently", async () => {
    // 3 s: the pipe fills within the first second even on a loaded machine (300 KB at ~100 KB/s
    // under TCG), and then stays full for well over the kernel's 1 s bound.
    const r = await probe("flood 3000", { stallReaderMs: 3000 });
    expect(r.code, r.output.slice(-2000)).toBe(0);
    const lost = r.lines.filter((l) =>
      /^console: \d+ bytes of output may be lost: the UART was not ready for 1 s$/.test(l),
    );
    expect(lost, r.output.slice(-3000)).toHaveLength(1);
    const broken = brokenFloodLines(r, 3000);
    expect(broken.length).toBeGreaterThan(0);
    expect(broken.length).toBeLessThan(10);
  });
});

describe.skipIf(!RUN)("the real driver and shell in the sandbox (QEMU)", { timeout: 120000 }, () => {
  let t;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    t = tempDir("nvme-wasm-sandbox-driver-");
  });
  afterAll(() => t?.remove());

  it("behind intel-iommu: info, crc, fill, verify with MSI-X, INTx and polling; no fault", async () => {
    const bytes = noiseBytes(4 * MiB, 21);
    for (const mode of ["msix", "intx", "poll"]) {
      const path = writeImage(t.path(`iommu-${mode}.img`), bytes);
      const r = await bootQemu({
        iommu: true,
        disks: [{ path }],
        cmd: `irq=${mode}; info; crc nvme0n1 0 8192; fill nvme0n1 100 300 9; verify nvme0n1 100 300 9; bench nvme0n1 read 8 1 100; stats; poweroff`,
      });
      expect(r.code, `irq=${mode}\n` + explain(r)).toBe(0);
      const iommu = r.lines.filter((l) => l.startsWith("iommu:"));
      expect(iommu, explain(r)).toHaveLength(1);
      expect(iommu[0]).toMatch(/^iommu: VT-d 1\.0 at 0xfed90000: translation on;/);
      expect(linesOf(r.output, "ctrl")[0].fields.irq).toBe(mode);
      expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
      expect(r.output).toContain("verify dev=nvme0n1 lba=100 count=300 seed=9 ok");
      const interrupts = Number(linesOf(r.output, "stats")[0].fields.interrupts);
      if (mode === "poll") expect(interrupts).toBe(0);
      else expect(interrupts).toBeGreaterThan(0);
      const after = readImage(path);
      expect(after.subarray(100 * 512, 400 * 512).equals(patternBytes(9, 100 * 512, 300 * 512))).toBe(true);
      expect(after.subarray(0, 100 * 512).equals(bytes.subarray(0, 100 * 512))).toBe(true);
      expect(after.subarray(400 * 512).equals(bytes.subarray(400 * 512))).toBe(true);
    }
  });

  it("behind intel-iommu with the controller behind a PCIe root port (bus 1)", async () => {
    const bytes = noiseBytes(2 * MiB, 22);
    const path = writeImage(t.path("rp.img"), bytes);
    const r = await bootQemu({
      iommu: true,
      rootPort: true,
      disks: [{ path }],
      cmd: "info; crc nvme0n1 0 4096; poweroff",
    });
    expect(r.code, explain(r)).toBe(0);
    expect(linesOf(r.output, "ctrl")[0].fields.pci).toBe("01:00.0");
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
    expect(r.output).not.toMatch(/iommu: fault/);
  });

  it("without an IOMMU the kernel says so in one line (pc, and q35 without intel-iommu)", async () => {
    const path = writeImage(t.path("none.img"), noiseBytes(MiB, 23));
    for (const machine of ["pc", "q35"]) {
      const r = await bootQemu({ machine, disks: [{ path }], cmd: "info; poweroff" });
      expect(r.code, explain(r)).toBe(0);
      expect(r.lines.filter((l) => l.startsWith("iommu:"))).toEqual([
        "iommu: none (no ACPI DMAR table): devices can DMA anywhere",
      ]);
    }
  });

  it("-m 18M: the kernel says the memory is too small and powers off with a failure", async () => {
    const r = await bootQemu({
      memory: "18M",
      disks: [{ path: writeImage(t.path("m.img"), noiseBytes(MiB, 24)) }],
      cmd: "info; poweroff",
    });
    expect(r.code, explain(r)).toBe(NO_MEMORY);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(
      /^boot: memory: 18 MiB is too small: the guests need 18 MiB of arenas above 1 MiB plus the kernel \(the kernel, its arenas and the command line end at 0x[0-9a-f]+, usable RAM at 0x[0-9a-f]+\); give QEMU -m 64M or more$/,
    );
  });

  it("a 5000-byte -append is refused whole: nothing of it runs", async () => {
    // QEMU 7.2 passes a multiboot command line of any length (no cut-off): the kernel hands the
    // guests its true length, and the shell and the driver both refuse it.
    const bytes = noiseBytes(MiB, 25);
    const path = writeImage(t.path("long.img"), bytes);
    const cmd = "irq=poll; info; fill nvme0n1 0 8 5; " + "x".repeat(4950) + "; fill nvme0n1 8 8 5; poweroff";
    expect(cmd.length).toBeGreaterThan(5000);
    const r = await bootQemu({ disks: [{ path }], cmd, input: "poweroff\r" });
    expect(r.code, explain(r)).toBe(1); // the shell's error line makes the run a failure
    expect(r.lines).toContain("error: boot command line longer than 4096 bytes, ignored");
    expect(linesOf(r.output, "ctrl")).toHaveLength(0);
    expect(r.output).not.toMatch(/fill dev=/);
    expect(r.output).toMatch(/nvme0 queues granted=\d+ io_entries=\d+ irq=msix/); // irq=poll was not applied
    expect(readImage(path).equals(bytes)).toBe(true);
  });
});
