// trace=… on bare metal: boot/host.c feeds build/trace.wasm (wasm2c -n trace) what it sees — MMIO,
// configuration writes, interrupts — and what the driver reports through env.trace_event, exactly as
// host/trace.js does under Node, and the decoder prints the same lines in both hosts. Here QEMU's
// real controller is traced: the events come in the driver's order, in the spec's words, and a
// stage-2 run prints the very lines the Node host prints against the model once the values that
// differ between the two controllers are masked (values only: every line of both runs is compared).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bootQemu, hasQemu, KERNEL, ROOT } from "./helpers.js";
import { buildMachine, closeDisks } from "../../host/sim.js";
import { tempDir, writeImage, noiseBytes, crcHex, linesOf } from "../lib/disk-images.js";

const enabled = hasQemu() || !!process.env.CI;
const MiB = 1 << 20;
const BANNER = "nvme-wasm: NVMe driver (AssemblyScript guest) starting";
// The decoder's lines (assembly/trace/main.ts): one per event. (The driver's own `pci 00:03.0 vid=…`
// line is not one.)
const TRACE_LINE =
  /^(mmio \S+ (read|write) |pci \S+ write |irq lines=|cmd nvme\d+ |cpl nvme\d+ |stage nvme\d+ |reap nvme\d+ |quirk nvme\d+ )/;
// Whether the driver sleeps for an interrupt or finds a completion already there depends on how
// fast QEMU's device thread runs against its vCPU (host load): interrupt lines are never expected
// at a given place. What always holds: each names the controller's line and vector, and there are
// exactly as many as the driver counted (`stats … interrupts=N`).
const isIrq = (l) => l.startsWith("irq ");
function irqsMatchStats(lines, vector) {
  const at = lines.findIndex((l) => l.startsWith("stats ctrl=nvme0 "));
  if (at < 0) return `no stats line:\n${lines.join("\n")}`;
  const irqs = lines.slice(0, at).filter(isIrq);
  const bad = irqs.filter((l) => l !== `irq lines=0x1 (line 0: MSI-X vector 0x${vector})`);
  if (bad.length) return `irq lines for another line or vector: ${bad.join(" | ")}`;
  const counted = Number(/ interrupts=(\d+)/.exec(lines[at])?.[1]);
  return irqs.length === counted ? null : `${irqs.length} irq lines traced, the driver counted interrupts=${counted}`;
}
const CC_ENABLED = "(EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B)";

function explain(r) {
  return `QEMU exit ${r.code} after ${r.ms} ms\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;
}

// The driver's part of a run: from its banner to the end (QEMU's kernel prints boot: and iommu:
// lines before it).
function driverPart(output) {
  const lines = output.replace(/\r/g, "").split("\n");
  const i = lines.indexOf(BANNER);
  if (i < 0) return [];
  const end = lines.indexOf("poweroff code=0", i);
  return lines.slice(i, end < 0 ? lines.length : end + 1);
}

const traceLines = (lines) => lines.filter((l) => TRACE_LINE.test(l));

// Each pattern matched by a line after the previous one's; null, or what is missing and where.
function missingInOrder(lines, patterns) {
  let at = 0;
  for (const p of patterns) {
    const i = lines.findIndex((l, k) => k >= at && p.test(l));
    if (i < 0) return `${p} not found after line ${at}: ${JSON.stringify(lines[at - 1] ?? null)}\n${lines.join("\n")}`;
    at = i + 1;
  }
  return null;
}

// What a stage-2 run shows, in the driver's order (docs/bring-up.md, stages 1 and 2; shutdown).
const STAGE2_ORDER = [
  /^stage nvme0 1: map BAR0, read CAP\/VS\/CSTS, reset$/,
  /^pci \S+ write COMMAND = 0x[0-9a-f]{4} \((IO )?MEM( BUSMASTER)?\)$/,
  /^mmio \S+ read CAP\[31:0\] = 0x[0-9a-f]{8} \(MQES=\d+ \(0-based\) CQR=1 AMS=\d TO=\d+ \(\d+ ms\)\)$/,
  /^mmio \S+ read CAP\[63:32\] = 0x[0-9a-f]{8} \(DSTRD=0 \(4-byte doorbells\) .*CSS=0x[0-9a-f]{2} \(NVM\) .*MPSMIN=4KiB/,
  /^mmio \S+ read VS = 0x00010400 \(1\.4\.0\)$/,
  /^mmio \S+ read CSTS = 0x[0-9a-f]{8} \(RDY=[01] CFS=0 SHST=normal\)$/,
  /^nvme0 cap=0x[0-9a-f]{16} version=1\.4\.0 /,
  /^mmio \S+ read CC = /,
  /^mmio \S+ write CC = 0x00000000 \(EN=0 /,
  /^mmio \S+ read CSTS = 0x00000000 \(RDY=0 CFS=0 SHST=normal\)$/,
  /^nvme0 reset ok us=\d+$/,
  /^stage nvme0 2: admin queue, interrupts, the first command: Identify$/,
  /^mmio \S+ write AQA = 0x001f001f \(ASQS=32 ACQS=32 entries\)$/,
  /^mmio \S+ write ASQ\[31:0\] = 0x[0-9a-f]{8}$/,
  /^mmio \S+ write ASQ\[63:32\] = 0x[0-9a-f]{8}$/,
  /^mmio \S+ write ACQ\[31:0\] = 0x[0-9a-f]{8}$/,
  /^mmio \S+ write ACQ\[63:32\] = 0x[0-9a-f]{8}$/,
  /^mmio \S+ write CC = 0x00460000 \(EN=0 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B\)$/,
  /^mmio \S+ write CC = 0x00460001 \(EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B\)$/,
  /^mmio \S+ read CSTS = 0x00000001 \(RDY=1 CFS=0 SHST=normal\)$/,
  /^nvme0 enable ok admin_entries=32 us=\d+$/,
  /^cmd nvme0 SQ0 cid=0 Identify CNS=01h \(controller\) nsid=0 prp1=0x[0-9a-f]+$/,
  /^mmio \S+ write SQ0 tail=1$/,
  /^cpl nvme0 CQ0 cid=0 sqhd=1 phase=1 Identify: Successful Completion \(generic sct=0 sc=0x00\)$/,
  /^mmio \S+ write CQ0 head=1$/,
  /^nvme0 identify controller, first 256 bytes:$/,
  /^nvme0 stopped at stage 2$/,
  /^mmio \S+ read CC = 0x00460001 /,
  /^mmio \S+ write CC = 0x00464001 \(EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=normal IOSQES=64B IOCQES=16B\)$/,
  /^mmio \S+ read CSTS = 0x00000009 \(RDY=1 CFS=0 SHST=complete\)$/,
  /^shutdown ctrl=nvme0 ok us=\d+$/,
  /^poweroff code=0$/,
];

// ---- the comparison with the Node host ----------------------------------------------------------
//
// What QEMU's SeaBIOS leaves behind, which the model's firmware does not do: SeaBIOS has an NVMe
// driver of its own, so when the kernel starts, QEMU's controller is enabled (CC = 0x00460001,
// CSTS.RDY = 1; the driver then reads CSTS once more before it clears CC.EN, 7.6.1) and the command
// register has I/O, memory, bus master and SERR# on (0x0107). The Node run below starts the model in
// that state, so both runs take the same path and every line can be compared.
const SEABIOS_COMMAND = 0x0107;
const SEABIOS_CC = 0x00460001;

// Values that differ between QEMU 7.2's controller and the model, masked alike in both runs; a
// masked line is still compared as a whole, and no line is left out.
const MASKS = [
  // PCI address: QEMU's controller is 00:03.0, the model's 00:04.0.
  [/\b[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\b/g, "BB:DD.F"],
  // Where the firmware put BAR0.
  [/\bbar0=0x[0-9a-f]+/g, "bar0=<bar>"],
  // Bus addresses from dma_address: the arena's physical address on bare metal, 0x1_2345_6000 + ptr
  // under Node.
  [/\b(ASQ|ACQ)\[(31:0|63:32)\] = 0x[0-9a-f]{8}$/g, "$1[$2] = <bus address>"],
  [/\bprp([12])=0x[0-9a-f]+/g, "prp$1=<bus address>"],
  // CAP: QEMU sets CSS bits 6 and 7 too (I/O command sets, no I/O command set); the fields the
  // driver uses (MQES, TO, DSTRD, MPSMIN/MAX, NVM) stay compared.
  [/\bCAP\[(31:0|63:32)\] = 0x[0-9a-f]{8}/g, "CAP[$1] = <cap>"],
  [/\bCSS=0x[0-9a-f]{2} \(NVM\)/g, "CSS=<css> (NVM)"],
  [/\bcap=0x[0-9a-f]{16}\b/g, "cap=<cap>"],
  // Time: real on QEMU, virtual (often 0) under Node.
  [/\bus=\d+\b/g, "us=<us>"],
  // Identify Controller as each controller fills it (serial, firmware revision, RTD3, OAES,
  // CTRATT…): the dump's lines stay, offsets and all, their bytes are masked.
  [/^([0-9a-f]{8})  [0-9a-f ]{49} \|.*\|$/g, "$1  <identify data>"],
];

// The model has no I/O space: its command register's IO bit stays 0, QEMU's keeps SeaBIOS's.
function maskCommandIo(line) {
  return line.replace(
    /\bCOMMAND = 0x([0-9a-f]{4}) \(([^)]*)\)/,
    (_, v, bits) =>
      `COMMAND = 0x${(parseInt(v, 16) & ~1).toString(16).padStart(4, "0")} (${bits
        .split(" ")
        .filter((b) => b !== "IO")
        .join(" ")})`,
  );
}

function maskLine(line) {
  let s = maskCommandIo(line);
  for (const [re, to] of MASKS) s = s.replace(re, to);
  return s;
}

// The same run under Node against the model (profile qemu), started in SeaBIOS's state.
async function nodeRun(image, cmd) {
  const { machine, opened } = await buildMachine({ disks: [image], cmd, stdout: null, stderr: null });
  try {
    machine.firmware();
    const c = machine.controllers[0];
    c.configWrite32(0x04, (c.configRead32(0x04) & 0xffff) | SEABIOS_COMMAND);
    c.mmioWrite32(0, 0x24, 0x001f001f); // AQA, ASQ, ACQ: SeaBIOS's queues
    c.mmioWrite32(0, 0x28, 0x7fd0000);
    c.mmioWrite32(0, 0x2c, 0);
    c.mmioWrite32(0, 0x30, 0x7fd1000);
    c.mmioWrite32(0, 0x34, 0);
    c.mmioWrite32(0, 0x14, SEABIOS_CC);
    const r = await machine.run(
      readFileSync(join(ROOT, "build", "nvme.wasm")),
      readFileSync(join(ROOT, "build", "shell.wasm")),
    );
    return { ...r, violations: c.violations };
  } finally {
    closeDisks(opened);
  }
}

describe.skipIf(!enabled)("trace= in QEMU: the host feeds build/trace.wasm, which prints what happened", () => {
  let tmp;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-trace-");
  });
  afterAll(() => tmp?.remove());

  let stage2 = null;
  async function qemuStage2() {
    if (!stage2) {
      const path = writeImage(tmp.path("stage2.img"), noiseBytes(8 * MiB, 21));
      stage2 = await bootQemu({ disks: [{ path }], cmd: "trace=all; stage=2; poweroff" });
    }
    return stage2;
  }

  it("stage 2: stage markers, CAP/VS/CSTS reads, CC writes, Identify, its doorbell, its completion, in the driver's order", async () => {
    const r = await qemuStage2();
    expect(r.code, explain(r)).toBe(0);
    const lines = driverPart(r.output);
    expect(missingInOrder(lines, STAGE2_ORDER)).toBe(null);
    // Doorbells by name, CC in words, every NVMe register access by its name.
    expect(lines).toContain("mmio 00:03.0 write SQ0 tail=1");
    expect(lines).toContain("mmio 00:03.0 write CQ0 head=1");
    expect(lines).toContain(`mmio 00:03.0 write CC = 0x00460001 ${CC_ENABLED}`);
    expect(
      lines.filter((l) => /^mmio \S+ (read|write) \+0x/.test(l)),
      "raw offsets in BAR0",
    ).toEqual([]);
    // QEMU's controller was left enabled by SeaBIOS: the driver waits for RDY before clearing EN.
    expect(lines.find((l) => / read CC = /.test(l))).toBe(`mmio 00:03.0 read CC = 0x00460001 ${CC_ENABLED}`);
    // One command, one completion, two doorbells: nothing doubled, nothing lost.
    expect(lines.filter((l) => l.startsWith("cmd ")).length).toBe(1);
    expect(lines.filter((l) => l.startsWith("cpl ")).length).toBe(1);
    expect(lines.filter((l) => / write (SQ|CQ)\d+ (tail|head)=/.test(l)).length).toBe(2);
    expect(lines.filter((l) => l.startsWith("stage ")).map((l) => l.slice(0, 14))).toEqual([
      "stage nvme0 1:",
      "stage nvme0 2:",
    ]);
  });

  it("stage 2: QEMU and the Node host print the same lines once the values that differ are masked", async () => {
    const r = await qemuStage2();
    expect(r.code, explain(r)).toBe(0);
    const n = await nodeRun(tmp.path("stage2.img"), "trace=all; stage=2; poweroff");
    expect(n.code, n.output).toBe(0);
    expect(n.violations).toEqual([]);
    // Interrupt lines aside (whether the driver slept for one depends on timing): each is the
    // controller's MSI-X line.
    const all = [...driverPart(r.output), ...driverPart(n.output)];
    expect(all.filter(isIrq).filter((l) => !/^irq lines=0x1 \(line 0: MSI-X vector 0x[0-9a-f]{2}\)$/.test(l))).toEqual(
      [],
    );
    const q = driverPart(r.output).filter((l) => !isIrq(l)),
      s = driverPart(n.output).filter((l) => !isIrq(l));
    expect(traceLines(q).length).toBeGreaterThan(25);
    // The masks change values only: as many lines, and the same kinds, before any masking.
    expect(q.length).toBe(s.length);
    expect(q.map((l) => l.split(" ")[0])).toEqual(s.map((l) => l.split(" ")[0]));
    expect(q.map(maskLine)).toEqual(s.map(maskLine));
    // And the masks are narrow: most lines compare unmasked but for the PCI address.
    const same = q.filter((l, i) => l.replace("00:03.0", "00:04.0") === s[i]).length;
    expect(same).toBeGreaterThan(q.length / 2);
  });

  // One IO queue pair (queues=1; the kernel asks for one per client module, each IO CQ then on an
  // MSI-X vector of its own: test/qemu/queues.test.js), so every interrupt is entry 0's vector.
  it("IO with MSI-X: the MSI-X table and interrupts, the IO queue pair, reads and doorbells; the crc is right", async () => {
    const bytes = noiseBytes(8 * MiB, 22);
    const path = writeImage(tmp.path("io.img"), bytes);
    const r = await bootQemu({
      disks: [{ path }],
      cmd: "trace=all; irq=msix; queues=1; crc nvme0n1 0 64; crc nvme0n1 100 8; stats; poweroff",
    });
    expect(r.code, explain(r)).toBe(0);
    expect(linesOf(r.output, "crc").map((l) => l.fields.crc32)).toEqual([
      crcHex(bytes.subarray(0, 64 * 512)),
      crcHex(bytes.subarray(100 * 512, 108 * 512)),
    ]);
    const lines = driverPart(r.output);
    const data = lines.find((l) => / write MSI-X entry 0 data = /.test(l));
    expect(data, lines.join("\n")).toMatch(/^mmio 00:03\.0 write MSI-X entry 0 data = 0x000000[0-9a-f]{2}$/);
    const vector = data.slice(-2);
    expect(
      missingInOrder(lines, [
        /^stage nvme0 2: /,
        /^pci 00:03\.0 write MSI-X control = 0x[0-9a-f]{4} \(enable=0 function-mask=1\)$/,
        /^mmio 00:03\.0 write MSI-X entry 0 address\[31:0\] = 0xfee[0-9a-f]{5}$/,
        /^mmio 00:03\.0 write MSI-X entry 0 address\[63:32\] = 0x00000000$/,
        /^mmio 00:03\.0 write MSI-X entry 0 data = /,
        /^mmio 00:03\.0 write MSI-X entry 0 vector control = 0x00000000 \(unmasked\)$/,
        /^pci 00:03\.0 write MSI-X control = 0x[0-9a-f]{4} \(enable=1 function-mask=0\)$/,
        /^pci 00:03\.0 write COMMAND = 0x[0-9a-f]{4} \(.*INTX-DISABLE\)$/,
        new RegExp(`^mmio 00:03\\.0 write CC = 0x00460001 \\${CC_ENABLED.slice(0, -1)}\\)$`),
        /^cmd nvme0 SQ0 cid=0 Identify CNS=01h \(controller\) /,
        /^stage nvme0 3: /,
        /^stage nvme0 4: /,
        /^cmd nvme0 SQ0 cid=\d+ Set Features FID=07h \(Number of Queues\) nsqr=\d+ ncqr=\d+$/,
        /^cmd nvme0 SQ0 cid=\d+ Create I\/O Completion Queue qid=1 qsize=\d+ iv=0 ien=1 pc=1 prp1=0x[0-9a-f]+$/,
        /^cpl nvme0 CQ0 cid=\d+ sqhd=\d+ phase=1 Create I\/O Completion Queue: Successful Completion/,
        /^cmd nvme0 SQ0 cid=\d+ Create I\/O Submission Queue qid=1 qsize=\d+ cqid=1 /,
        /^cpl nvme0 CQ0 cid=\d+ sqhd=\d+ phase=1 Create I\/O Submission Queue: Successful Completion/,
        /^stage nvme0 7: ready: IO$/,
        // SGLs (QEMU offers them; on by default): one Data Block descriptor of the command's length
        /^cmd nvme0 SQ1 cid=\d+ Read nsid=1 slba=0 nlb=64 sgl_addr=0x[0-9a-f]+ sgl_bytes=32768 sgl_type=0 SGL$/,
        /^mmio 00:03\.0 write SQ1 tail=1$/,
        /^cpl nvme0 CQ1 cid=\d+ sqhd=1 phase=1 Read: Successful Completion \(generic sct=0 sc=0x00\)$/,
        /^crc dev=nvme0n1 lba=0 count=64 /,
        /^cmd nvme0 SQ1 cid=\d+ Read nsid=1 slba=100 nlb=8 sgl_addr=0x[0-9a-f]+ sgl_bytes=4096 sgl_type=0 SGL$/,
        /^mmio 00:03\.0 write SQ1 tail=2$/,
        /^cpl nvme0 CQ1 cid=\d+ sqhd=2 phase=1 Read: /,
        /^crc dev=nvme0n1 lba=100 count=8 /,
        /^cmd nvme0 SQ0 cid=\d+ Delete I\/O Submission Queue qid=1$/,
        /^cmd nvme0 SQ0 cid=\d+ Delete I\/O Completion Queue qid=1$/,
        /^mmio 00:03\.0 write CC = 0x00464001 \(EN=1 .*SHN=normal/,
        /^shutdown ctrl=nvme0 ok us=\d+$/,
      ]),
    ).toBe(null);
    // Every interrupt handed to the driver was its MSI-X line, as many as it counted; every IO
    // command got its completion.
    expect(irqsMatchStats(lines, vector)).toBe(null);
    const ioCmds = lines.filter((l) => l.startsWith("cmd nvme0 SQ1 "));
    expect(lines.filter((l) => l.startsWith("cpl nvme0 CQ1 ")).length).toBe(ioCmds.length);
    expect(lines.filter((l) => /^mmio \S+ write SQ1 tail=\d+$/.test(l)).length).toBeGreaterThan(0);
    expect(lines.filter((l) => /^mmio \S+ write CQ1 head=\d+$/.test(l)).length).toBeGreaterThan(0);
  });

  it("trace=regs,cmds and trace=irq show only their kinds; without trace= not one line", async () => {
    const bytes = noiseBytes(4 * MiB, 23);
    const run = (t, name) =>
      bootQemu({
        disks: [{ path: writeImage(tmp.path(name), bytes) }],
        cmd: `${t}irq=msix; queues=1; crc nvme0n1 0 8; stats; poweroff`,
      });
    const rc = await run("trace=regs,cmds; ", "rc.img"),
      irq = await run("trace=irq; ", "irq.img"),
      off = await run("", "off.img");
    for (const r of [rc, irq, off]) expect(r.code, explain(r)).toBe(0);
    const kinds = (r) => new Set(traceLines(driverPart(r.output)).map((l) => l.split(" ")[0]));
    expect([...kinds(rc)].sort()).toEqual(["cmd", "cpl", "mmio", "pci", "stage"]);
    // trace=irq: stages, interrupts (as many as the driver counted: maybe none, when every
    // completion was already there) and the reaps of the IO queue.
    expect([...kinds(irq)]).toEqual(expect.arrayContaining(["reap", "stage"]));
    expect([...kinds(irq)].every((k) => k === "irq" || k === "stage" || k === "reap")).toBe(true);
    const vector = /MSI-X vector 0x([0-9a-f]{2})/.exec(driverPart(irq.output).find(isIrq) ?? "")?.[1] ?? "40";
    expect(irqsMatchStats(driverPart(irq.output), vector)).toBe(null);
    expect(traceLines(driverPart(off.output))).toEqual([]);
    expect(driverPart(off.output).length).toBeGreaterThan(5);
  });
});
