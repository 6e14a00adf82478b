// The trace decoder's lines (docs/trace.md), checked under Node: traced runs of the driver against
// the controller model, whose bus addresses and timing are fixed by the seed, so most lines are
// asserted exactly; then build/trace.wasm called directly, for decodings a normal run never reaches.
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync } from "node:fs";
import { runSim } from "../../host/sim.js";
import { buildWasm, TRACE_WASM } from "../../host/build.js";
import { CFG } from "../../host/pci.js";

// A line of the decoder, as opposed to the driver's and the shell's own lines ("pci 00:04.0 vid=…"
// is the driver's enumeration line; the decoder's pci lines are configuration writes).
const TRACE_LINE = /^(stage|quirk|mmio|cmd|cpl|irq|reap) |^pci \S+ write /;

// The runs take the plain path (PRPs, doorbell registers: `dbbuf=off; sgl=off`) with one IO queue
// pair (`queues=1`; the Node host asks for one per client module), whose lines these tests pin;
// test/driver/dbbuf-sgl.test.js traces SGLs and shadow doorbells, test/driver/queues.test.js pairs.
async function traced(cmd, opts = {}) {
  const records = [];
  const o = { disks: ["mem:64M"], seed: 1, cmd: `dbbuf=off; sgl=off; queues=1; ${cmd}`, ...opts };
  const r = await runSim({ ...o, traceRecords: records });
  const lines = r.output.split("\n");
  return {
    code: r.code,
    output: r.output,
    lines,
    records,
    machine: r.machine,
    trace: lines.filter((l) => TRACE_LINE.test(l)),
    why: `replay: ${JSON.stringify(o)}\n--- output ---\n${r.output}`,
  };
}

// `block` appears in `lines` as consecutive lines (the diff on failure starts at its first line).
function expectBlock(lines, block, why) {
  const at = lines.findIndex((_, i) => block.every((b, k) => lines[i + k] === b));
  if (at >= 0) return at;
  const first = lines.indexOf(block[0]);
  expect(first, `${block[0]}\n${why}`).toBeGreaterThanOrEqual(0);
  expect(lines.slice(first, first + block.length), why).toEqual(block);
  return first;
}

const only = (lines, re) => lines.filter((l) => re.test(l));

// docs/trace.md, "Sequence diagrams": the kind of each line and who talks to whom.
function kindOf(text) {
  if (text.startsWith("stage ")) return "stage";
  if (text.startsWith("quirk ")) return "quirk";
  if (/^mmio \S+ read /.test(text)) return "mmio-read";
  if (/^mmio \S+ write /.test(text)) return "mmio-write";
  if (/^pci \S+ write /.test(text)) return "pci-write";
  if (text.startsWith("cmd ")) return "command";
  if (text.startsWith("cpl ")) return "completion";
  if (text.startsWith("irq ")) return "irq";
  if (text.startsWith("reap ")) return "reap";
  return null;
}
const LANE = {
  stage: "stage",
  quirk: "driver",
  reap: "driver",
  "mmio-write": "driver>controller",
  "pci-write": "driver>controller",
  command: "driver>controller",
  "mmio-read": "controller>driver",
  completion: "controller>driver",
  irq: "interrupts>driver",
};

// Every doorbell write counts exactly the lines before it: `SQq tail=T` the cmd lines on SQq, `CQq
// head=H` the cpl lines on CQq (modulo the queue's size, from AQA and the Create commands). So each
// command is printed before the doorbell that submits it, each completion before the doorbell that
// releases it. One controller, no reset in the run. Returns how many doorbells were checked.
function checkDoorbells(trace, why) {
  const size = {};
  const lines = {};
  let doorbells = 0;
  for (const l of trace) {
    let m = /^mmio \S+ write AQA = 0x[0-9a-f]+ \(ASQS=(\d+) ACQS=(\d+) entries\)$/.exec(l);
    if (m) {
      size.SQ0 = Number(m[1]);
      size.CQ0 = Number(m[2]);
    }
    m = /^cmd nvme0 SQ0 cid=\d+ Create I\/O (Submission|Completion) Queue qid=(\d+) qsize=(\d+) /.exec(l);
    if (m) size[`${m[1] === "Submission" ? "SQ" : "CQ"}${m[2]}`] = Number(m[3]);
    m = /^(?:cmd nvme0 (SQ\d+)|cpl nvme0 (CQ\d+)) /.exec(l);
    if (m) {
      const q = m[1] ?? m[2];
      lines[q] = (lines[q] ?? 0) + 1;
    }
    m = /^mmio \S+ write ((?:SQ|CQ)\d+) (?:tail|head)=(\d+)$/.exec(l);
    if (m) {
      doorbells++;
      expect(size[m[1]], `${m[1]}'s size is known before "${l}"\n${why}`).toBeGreaterThan(0);
      expect(
        Number(m[2]),
        `"${l}" after ${lines[m[1]] ?? 0} ${m[1].startsWith("SQ") ? "cmd" : "cpl"} lines on ${m[1]}\n${why}`,
      ).toBe((lines[m[1]] ?? 0) % size[m[1]]);
    }
  }
  return doorbells;
}

// Each `reap nvme0 CQ1 entries=N` counts the IO cpl lines since the previous reap line. Returns the
// reaps and IO completions seen.
function checkReaps(trace, why) {
  let since = 0,
    reaps = 0,
    completions = 0;
  for (const l of trace) {
    if (l.startsWith("cpl nvme0 CQ1 ")) {
      since++;
      completions++;
    }
    const m = /^reap nvme0 CQ1 entries=(\d+)$/.exec(l);
    if (m) {
      expect(Number(m[1]), `"${l}" after ${since} IO cpl lines\n${why}`).toBe(since);
      since = 0;
      reaps++;
    }
  }
  expect(since, `IO cpl lines after the last reap\n${why}`).toBe(0);
  return { reaps, completions };
}

// The records of a run (traceRecords, --trace-json): one per printed line, in order.
function checkRecords(run) {
  expect(
    run.records.map((r) => r.text),
    run.why,
  ).toEqual(run.trace);
  let ns = -1;
  run.records.forEach((r, i) => {
    expect(Object.keys(r).sort()).toEqual(["kind", "lane", "ns", "seq", "text"]);
    expect(r.seq).toBe(i);
    expect(r.kind, r.text).toBe(kindOf(r.text));
    expect(r.lane, r.text).toBe(LANE[r.kind]);
    expect(Number.isInteger(r.ns) && r.ns >= ns, `${r.text}: ns ${r.ns} after ${ns}`).toBe(true);
    ns = r.ns;
  });
}

// The whole trace of `trace=all; fill nvme0n1 0 16 7; crc nvme0n1 0 16; poweroff` on a 64 MiB
// namespace of the qemu profile, seed 1: bring-up, a Write, a Read, and the shutdown.
const FULL_RUN = [
  "stage nvme0 1: map BAR0, read CAP/VS/CSTS, reset",
  "pci 00:04.0 write COMMAND = 0x0002 (MEM)",
  "mmio 00:04.0 read CAP[31:0] = 0x0f0107ff (MQES=2047 (0-based) CQR=1 AMS=0 TO=15 (7500 ms))",
  "mmio 00:04.0 read CAP[63:32] = 0x00400020 (DSTRD=0 (4-byte doorbells) NSSRS=0 CSS=0x01 (NVM) BPS=0 MPSMIN=4KiB MPSMAX=64KiB PMRS=0 CMBS=0)",
  "mmio 00:04.0 read VS = 0x00010400 (1.4.0)",
  "mmio 00:04.0 read CSTS = 0x00000000 (RDY=0 CFS=0 SHST=normal)",
  "mmio 00:04.0 read CC = 0x00000000 (EN=0 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=1B IOCQES=1B)",
  "mmio 00:04.0 write CC = 0x00000000 (EN=0 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=1B IOCQES=1B)",
  "mmio 00:04.0 read CSTS = 0x00000000 (RDY=0 CFS=0 SHST=normal)",
  "stage nvme0 2: admin queue, interrupts, the first command: Identify",
  "pci 00:04.0 write COMMAND = 0x0006 (MEM BUSMASTER)",
  "pci 00:04.0 write MSI-X control = 0x4040 (enable=0 function-mask=1)",
  "mmio 00:04.0 write MSI-X entry 0 address[31:0] = 0xfee00000",
  "mmio 00:04.0 write MSI-X entry 0 address[63:32] = 0x00000000",
  "mmio 00:04.0 write MSI-X entry 0 data = 0x00000040",
  "mmio 00:04.0 write MSI-X entry 0 vector control = 0x00000000 (unmasked)",
  "pci 00:04.0 write MSI-X control = 0x8040 (enable=1 function-mask=0)",
  "pci 00:04.0 write COMMAND = 0x0406 (MEM BUSMASTER INTX-DISABLE)",
  "mmio 00:04.0 write AQA = 0x001f001f (ASQS=32 ACQS=32 entries)",
  "mmio 00:04.0 write ASQ[31:0] = 0x23ca3000",
  "mmio 00:04.0 write ASQ[63:32] = 0x00000001",
  "mmio 00:04.0 write ACQ[31:0] = 0x23ca4000",
  "mmio 00:04.0 write ACQ[63:32] = 0x00000001",
  "mmio 00:04.0 write CC = 0x00460000 (EN=0 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B)",
  "mmio 00:04.0 write CC = 0x00460001 (EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B)",
  "mmio 00:04.0 read CSTS = 0x00000001 (RDY=1 CFS=0 SHST=normal)",
  "cmd nvme0 SQ0 cid=0 Identify CNS=01h (controller) nsid=0 prp1=0x123ca1000",
  "mmio 00:04.0 write SQ0 tail=1",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=0 sqhd=1 phase=1 Identify: Successful Completion (generic sct=0 sc=0x00)",
  "mmio 00:04.0 write CQ0 head=1",
  "stage nvme0 3: decode Identify, find and identify the namespaces",
  "cmd nvme0 SQ0 cid=0 Identify CNS=02h (active namespace list) nsid=0 prp1=0x123ca2000",
  "mmio 00:04.0 write SQ0 tail=2",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=0 sqhd=2 phase=1 Identify: Successful Completion (generic sct=0 sc=0x00)",
  "mmio 00:04.0 write CQ0 head=2",
  "cmd nvme0 SQ0 cid=0 Identify CNS=00h (namespace) nsid=1 prp1=0x123ca2000",
  "mmio 00:04.0 write SQ0 tail=3",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=0 sqhd=3 phase=1 Identify: Successful Completion (generic sct=0 sc=0x00)",
  "mmio 00:04.0 write CQ0 head=3",
  "cmd nvme0 SQ0 cid=0 Identify CNS=03h (namespace identification descriptors) nsid=1 prp1=0x123ca2000",
  "mmio 00:04.0 write SQ0 tail=4",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=0 sqhd=4 phase=1 Identify: Successful Completion (generic sct=0 sc=0x00)",
  "mmio 00:04.0 write CQ0 head=4",
  "stage nvme0 4: Number of Queues, the IO queue pair",
  "cmd nvme0 SQ0 cid=0 Set Features FID=07h (Number of Queues) nsqr=1 ncqr=1",
  "mmio 00:04.0 write SQ0 tail=5",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=0 sqhd=5 phase=1 Set Features: Successful Completion (generic sct=0 sc=0x00) dw0=0x003f003f (NSQA=64 NCQA=64)",
  "mmio 00:04.0 write CQ0 head=5",
  "cmd nvme0 SQ0 cid=0 Create I/O Completion Queue qid=1 qsize=256 iv=0 ien=1 pc=1 prp1=0x123cab000",
  "mmio 00:04.0 write SQ0 tail=6",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=0 sqhd=6 phase=1 Create I/O Completion Queue: Successful Completion (generic sct=0 sc=0x00)",
  "mmio 00:04.0 write CQ0 head=6",
  "cmd nvme0 SQ0 cid=0 Create I/O Submission Queue qid=1 qsize=256 cqid=1 qprio=0 pc=1 prp1=0x123ca7000",
  "mmio 00:04.0 write SQ0 tail=7",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=0 sqhd=7 phase=1 Create I/O Submission Queue: Successful Completion (generic sct=0 sc=0x00)",
  "mmio 00:04.0 write CQ0 head=7",
  "stage nvme0 7: ready: IO",
  "cmd nvme0 SQ0 cid=0 Set Features FID=0bh (Asynchronous Event Configuration) cdw11=0xff",
  "mmio 00:04.0 write SQ0 tail=8",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=0 sqhd=8 phase=1 Set Features: Successful Completion (generic sct=0 sc=0x00)",
  "mmio 00:04.0 write CQ0 head=8",
  "cmd nvme0 SQ0 cid=0 Asynchronous Event Request",
  "mmio 00:04.0 write SQ0 tail=9",
  "cmd nvme0 SQ1 cid=0 Write nsid=1 slba=0 nlb=16 prp1=0x123480000 prp2=0x123481000",
  "mmio 00:04.0 write SQ1 tail=1",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ1 cid=0 sqhd=1 phase=1 Write: Successful Completion (generic sct=0 sc=0x00)",
  "reap nvme0 CQ1 entries=1",
  "cmd nvme0 SQ1 cid=0 Read nsid=1 slba=0 nlb=16 prp1=0x123480000 prp2=0x123481000",
  "mmio 00:04.0 write SQ1 tail=2",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ1 cid=0 sqhd=2 phase=1 Read: Successful Completion (generic sct=0 sc=0x00)",
  "reap nvme0 CQ1 entries=1",
  "cmd nvme0 SQ1 cid=0 Flush nsid=1",
  "mmio 00:04.0 write SQ1 tail=3",
  "cpl nvme0 CQ1 cid=0 sqhd=3 phase=1 Flush: Successful Completion (generic sct=0 sc=0x00)",
  "reap nvme0 CQ1 entries=1",
  "mmio 00:04.0 write CQ1 head=3",
  "cmd nvme0 SQ0 cid=1 Delete I/O Submission Queue qid=1",
  "mmio 00:04.0 write SQ0 tail=10",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=1 sqhd=10 phase=1 Delete I/O Submission Queue: Successful Completion (generic sct=0 sc=0x00)",
  "mmio 00:04.0 write CQ0 head=9",
  "cmd nvme0 SQ0 cid=1 Delete I/O Completion Queue qid=1",
  "mmio 00:04.0 write SQ0 tail=11",
  "irq lines=0x1 (line 0: MSI-X vector 0x40)",
  "cpl nvme0 CQ0 cid=1 sqhd=11 phase=1 Delete I/O Completion Queue: Successful Completion (generic sct=0 sc=0x00)",
  "mmio 00:04.0 write CQ0 head=10",
  "mmio 00:04.0 read CC = 0x00460001 (EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B)",
  "mmio 00:04.0 write CC = 0x00464001 (EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=normal IOSQES=64B IOCQES=16B)",
  "mmio 00:04.0 read CSTS = 0x00000009 (RDY=1 CFS=0 SHST=complete)",
];

describe("trace=all of a bring-up, a 16-block fill and crc (qemu profile, seed 1)", () => {
  let run;
  beforeAll(async () => {
    run = await traced("trace=all; fill nvme0n1 0 16 7; crc nvme0n1 0 16; poweroff");
  });

  it("the run succeeds and prints exactly the expected trace, line for line", () => {
    expect(run.code, run.why).toBe(0);
    expect(run.trace, run.why).toEqual(FULL_RUN);
  });

  it("trace lines sit between the driver's own lines where it acts: stage 1 before the cap line, CSTS RDY=1 before `enable ok`", () => {
    expectBlock(
      run.lines,
      ["stage nvme0 1: map BAR0, read CAP/VS/CSTS, reset", "pci 00:04.0 write COMMAND = 0x0002 (MEM)"],
      run.why,
    );
    const cap = run.lines.findIndex((l) => l.startsWith("nvme0 cap="));
    expect(run.lines[cap - 1]).toBe("mmio 00:04.0 read CSTS = 0x00000000 (RDY=0 CFS=0 SHST=normal)");
    const enable = run.lines.findIndex((l) => l.startsWith("nvme0 enable ok"));
    expect(run.lines[enable - 1]).toBe("mmio 00:04.0 read CSTS = 0x00000001 (RDY=1 CFS=0 SHST=normal)");
  });

  it("CAP is two halves CAP[31:0]/CAP[63:32] with MQES, CQR, AMS, TO in ms, DSTRD, CSS, MPSMIN/MAX decoded; VS as major.minor.tertiary", () => {
    expectBlock(
      run.trace,
      [
        "mmio 00:04.0 read CAP[31:0] = 0x0f0107ff (MQES=2047 (0-based) CQR=1 AMS=0 TO=15 (7500 ms))",
        "mmio 00:04.0 read CAP[63:32] = 0x00400020 (DSTRD=0 (4-byte doorbells) NSSRS=0 CSS=0x01 (NVM) BPS=0 MPSMIN=4KiB MPSMAX=64KiB PMRS=0 CMBS=0)",
        "mmio 00:04.0 read VS = 0x00010400 (1.4.0)",
      ],
      run.why,
    );
    // the driver's own line gives the same 64-bit CAP the two halves make
    expect(run.output).toMatch(/^nvme0 cap=0x004000200f0107ff version=1\.4\.0 /m);
  });

  it("CC writes spell EN, CSS, MPS, AMS, SHN, IOSQES, IOCQES in words: enable, then SHN=normal at shutdown", () => {
    const cc = only(run.trace, /^mmio \S+ (read|write) CC = /);
    expect(cc).toEqual([
      "mmio 00:04.0 read CC = 0x00000000 (EN=0 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=1B IOCQES=1B)",
      "mmio 00:04.0 write CC = 0x00000000 (EN=0 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=1B IOCQES=1B)",
      "mmio 00:04.0 write CC = 0x00460000 (EN=0 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B)",
      "mmio 00:04.0 write CC = 0x00460001 (EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B)",
      "mmio 00:04.0 read CC = 0x00460001 (EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B)",
      "mmio 00:04.0 write CC = 0x00464001 (EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=normal IOSQES=64B IOCQES=16B)",
    ]);
  });

  it("CSTS reads decode RDY, CFS and SHST: not ready, ready, shutdown complete", () => {
    expect([...new Set(only(run.trace, /^mmio \S+ read CSTS /))]).toEqual([
      "mmio 00:04.0 read CSTS = 0x00000000 (RDY=0 CFS=0 SHST=normal)",
      "mmio 00:04.0 read CSTS = 0x00000001 (RDY=1 CFS=0 SHST=normal)",
      "mmio 00:04.0 read CSTS = 0x00000009 (RDY=1 CFS=0 SHST=complete)",
    ]);
  });

  it("AQA gives both queue sizes in entries; ASQ and ACQ are written as [31:0]/[63:32] halves of the admin queues' bus addresses", () => {
    expectBlock(
      run.trace,
      [
        "mmio 00:04.0 write AQA = 0x001f001f (ASQS=32 ACQS=32 entries)",
        "mmio 00:04.0 write ASQ[31:0] = 0x23ca3000",
        "mmio 00:04.0 write ASQ[63:32] = 0x00000001",
        "mmio 00:04.0 write ACQ[31:0] = 0x23ca4000",
        "mmio 00:04.0 write ACQ[63:32] = 0x00000001",
      ],
      run.why,
    );
  });

  it("doorbells are `SQy tail=N` / `CQy head=N` and no NVMe register access is a raw `+0x` or `reg+` offset", () => {
    const bells = only(run.trace, /^mmio \S+ write [SC]Q\d+ /);
    expect(bells.length).toBe(25);
    for (const b of bells) expect(b).toMatch(/^mmio 00:04\.0 write (SQ[01] tail|CQ[01] head)=\d+$/);
    for (const l of only(run.trace, /^mmio /)) expect(l).not.toMatch(/ (reg)?\+0x/);
    expect(bells).toContain("mmio 00:04.0 write SQ1 tail=3");
    expect(bells).toContain("mmio 00:04.0 write CQ1 head=3");
  });

  it("configuration writes decode COMMAND (MEM BUSMASTER INTX-DISABLE) and MSI-X control; MSI-X table writes are entries and fields", () => {
    expect(only(run.trace, /^pci /)).toEqual([
      "pci 00:04.0 write COMMAND = 0x0002 (MEM)",
      "pci 00:04.0 write COMMAND = 0x0006 (MEM BUSMASTER)",
      "pci 00:04.0 write MSI-X control = 0x4040 (enable=0 function-mask=1)",
      "pci 00:04.0 write MSI-X control = 0x8040 (enable=1 function-mask=0)",
      "pci 00:04.0 write COMMAND = 0x0406 (MEM BUSMASTER INTX-DISABLE)",
    ]);
    expect(only(run.trace, /MSI-X entry/)).toEqual([
      "mmio 00:04.0 write MSI-X entry 0 address[31:0] = 0xfee00000",
      "mmio 00:04.0 write MSI-X entry 0 address[63:32] = 0x00000000",
      "mmio 00:04.0 write MSI-X entry 0 data = 0x00000040",
      "mmio 00:04.0 write MSI-X entry 0 vector control = 0x00000000 (unmasked)",
    ]);
  });

  it("admin commands in the spec's words: Identify CNS 01h/02h/00h/03h, Set Features Number of Queues, Create I/O CQ/SQ with their fields", () => {
    expect(only(run.trace, /^cmd nvme0 SQ0 /).slice(0, 7)).toEqual([
      "cmd nvme0 SQ0 cid=0 Identify CNS=01h (controller) nsid=0 prp1=0x123ca1000",
      "cmd nvme0 SQ0 cid=0 Identify CNS=02h (active namespace list) nsid=0 prp1=0x123ca2000",
      "cmd nvme0 SQ0 cid=0 Identify CNS=00h (namespace) nsid=1 prp1=0x123ca2000",
      "cmd nvme0 SQ0 cid=0 Identify CNS=03h (namespace identification descriptors) nsid=1 prp1=0x123ca2000",
      "cmd nvme0 SQ0 cid=0 Set Features FID=07h (Number of Queues) nsqr=1 ncqr=1",
      "cmd nvme0 SQ0 cid=0 Create I/O Completion Queue qid=1 qsize=256 iv=0 ien=1 pc=1 prp1=0x123cab000",
      "cmd nvme0 SQ0 cid=0 Create I/O Submission Queue qid=1 qsize=256 cqid=1 qprio=0 pc=1 prp1=0x123ca7000",
    ]);
  });

  it("once ready: Set Features Asynchronous Event Configuration and the Asynchronous Event Request; then IO commands: Write and Read with nsid, slba, nlb (1-based), prp1 and prp2 for 8 KiB; Flush with nsid only; then Delete I/O SQ and CQ at shutdown", () => {
    expect(only(run.trace, /^cmd /).slice(7)).toEqual([
      "cmd nvme0 SQ0 cid=0 Set Features FID=0bh (Asynchronous Event Configuration) cdw11=0xff",
      "cmd nvme0 SQ0 cid=0 Asynchronous Event Request",
      "cmd nvme0 SQ1 cid=0 Write nsid=1 slba=0 nlb=16 prp1=0x123480000 prp2=0x123481000",
      "cmd nvme0 SQ1 cid=0 Read nsid=1 slba=0 nlb=16 prp1=0x123480000 prp2=0x123481000",
      "cmd nvme0 SQ1 cid=0 Flush nsid=1",
      "cmd nvme0 SQ0 cid=1 Delete I/O Submission Queue qid=1", // cid 0 is the event request's
      "cmd nvme0 SQ0 cid=1 Delete I/O Completion Queue qid=1",
    ]);
  });

  it("completions are named after their command, with the status in words, and Number of Queues' dw0 as NSQA/NCQA", () => {
    const cpl = only(run.trace, /^cpl /);
    expect(cpl.length).toBe(only(run.trace, /^cmd /).length - 1); // the Asynchronous Event Request is outstanding to the end
    expect(cpl.map((l) => /^cpl nvme0 CQ\d cid=\d sqhd=\d+ phase=1 ([^:]+): /.exec(l)?.[1])).toEqual([
      "Identify",
      "Identify",
      "Identify",
      "Identify",
      "Set Features",
      "Create I/O Completion Queue",
      "Create I/O Submission Queue",
      "Set Features",
      "Write",
      "Read",
      "Flush",
      "Delete I/O Submission Queue",
      "Delete I/O Completion Queue",
    ]);
    for (const l of cpl) expect(l).toMatch(/: Successful Completion \(generic sct=0 sc=0x00\)( dw0=.*)?$/);
    expect(cpl[4]).toBe(
      "cpl nvme0 CQ0 cid=0 sqhd=5 phase=1 Set Features: Successful Completion (generic sct=0 sc=0x00) dw0=0x003f003f (NSQA=64 NCQA=64)",
    );
    expect(only(cpl, / dw0=/)).toEqual([cpl[4]]);
    // the driver's own line agrees with the decoded dw0
    expect(run.output).toMatch(/^nvme0 queues granted=64 /m);
  });

  it("order: each SQ tail doorbell counts exactly the cmd lines before it, each CQ head doorbell exactly the cpl lines before it", () => {
    expect(checkDoorbells(run.trace, run.why)).toBe(25);
  });

  it("during bring-up every irq line is followed by exactly one admin cpl before the next command", () => {
    const start = run.trace.indexOf("stage nvme0 2: admin queue, interrupts, the first command: Identify");
    const end = run.trace.indexOf("stage nvme0 7: ready: IO");
    const events = only(run.trace.slice(start, end), /^(cmd|cpl|irq) /).map((l) => l.split(" ")[0]);
    expect(events.join(" ")).toBe(Array(7).fill("cmd irq cpl").join(" "));
  });

  it("each reap line counts the IO cpl lines since the previous reap", () => {
    expect(checkReaps(run.trace, run.why)).toEqual({ reaps: 3, completions: 3 });
  });

  it("records: one per printed trace line with the same text, seq from 0, ns never decreasing, kind and lane as documented", () => {
    checkRecords(run);
    expect(new Set(run.records.map((r) => r.kind))).toEqual(
      new Set(["stage", "pci-write", "mmio-read", "mmio-write", "command", "completion", "irq", "reap"]),
    );
    expect(run.records.at(-1).ns).toBeGreaterThan(0);
  });
});

describe("Write Zeroes and Dataset Management in the spec's words", () => {
  it("zero and trim: Write Zeroes with slba and nlb and no PRP, Dataset Management with nr, AD and its range list's prp1", async () => {
    const t = await traced("trace=cmds; zero nvme0n1 16 8; trim nvme0n1 64 32; poweroff");
    expect(t.code, t.why).toBe(0);
    expect(only(t.trace, / SQ1 /), t.why).toEqual([
      "cmd nvme0 SQ1 cid=0 Write Zeroes nsid=1 slba=16 nlb=8",
      expect.stringMatching(/^cmd nvme0 SQ1 cid=0 Dataset Management nsid=1 nr=1 AD prp1=0x[0-9a-f]+000$/),
      "cmd nvme0 SQ1 cid=0 Flush nsid=1",
    ]);
    expect(
      only(t.trace, /^cpl nvme0 CQ1 /).map((l) => l.replace(/^.* phase=\d /, "")),
      t.why,
    ).toEqual([
      "Write Zeroes: Successful Completion (generic sct=0 sc=0x00)",
      "Dataset Management: Successful Completion (generic sct=0 sc=0x00)",
      "Flush: Successful Completion (generic sct=0 sc=0x00)",
    ]);
  });

  it("a controller with Linux's DISABLE_WRITE_ZEROES quirk: a quirk line, and no Write Zeroes command at all", async () => {
    const t = await traced("trace=cmds; zero nvme0n1 0 8; poweroff", { profile: "skhynix-pc400" });
    expect(t.code, t.why).toBe(0);
    expect(t.trace, t.why).toContain(
      "quirk nvme0 DISABLE_WRITE_ZEROES: Write Zeroes refused (ERR_UNSUPPORTED), never sent",
    );
    expect(
      t.trace.filter((l) => / Write Zeroes /.test(l) && l.startsWith("cmd ")),
      t.why,
    ).toEqual([]);
  });
});

describe("IO batches, interrupts and reaps", () => {
  let fill, intx, two;
  beforeAll(async () => {
    fill = await traced("trace=all; fill nvme0n1 0 8192 7; verify nvme0n1 0 8192 7; poweroff");
    intx = await traced("irq=intx; trace=all; crc nvme0n1 0 8; poweroff");
    two = await traced("trace=all; crc nvme1n1 0 8; poweroff", { disks: ["mem:16M", "mem:16M,ctrl=1"] });
  });

  it("a batch of 8 Writes is 8 cmd lines, then the one `SQ1 tail=8` doorbell that submits them all", () => {
    expect(fill.code, fill.why).toBe(0);
    const at = fill.trace.indexOf("cmd nvme0 SQ0 cid=0 Asynchronous Event Request") + 1; // and its doorbell
    const batch = [];
    for (let k = 0; k < 8; k++) {
      batch.push(
        `cmd nvme0 SQ1 cid=${k} Write nsid=1 slba=${k * 1024} nlb=1024 prp1=0x${(0x123480000 + k * 0x80000).toString(16)} prp2=0x${(0x123cf0000 - k * 0x1000).toString(16)}`,
      );
    }
    expect(fill.trace.slice(at + 1, at + 10)).toEqual([...batch, "mmio 00:04.0 write SQ1 tail=8"]);
    expect(checkDoorbells(fill.trace, fill.why)).toBeGreaterThan(20);
  });

  it("each `reap nvme0 CQ1 entries=N` counts the IO cpl lines since the previous reap, also when one interrupt brings several", () => {
    const { reaps, completions } = checkReaps(fill.trace, fill.why);
    expect(completions).toBe(17); // 8 Writes, 8 Reads, the Flush
    expect(reaps).toBeLessThan(completions);
    expect(only(fill.trace, /^reap /).some((l) => Number(l.split("=")[1]) > 1)).toBe(true);
    checkRecords(fill);
  });

  it("MSI-X: `irq lines=0x1 (line 0: MSI-X vector 0x40)`, the vector being the data the driver wrote in MSI-X entry 0", () => {
    const data = /MSI-X entry 0 data = (0x[0-9a-f]+)$/.exec(only(fill.trace, /MSI-X entry 0 data/)[0])[1];
    expect(Number(data)).toBe(0x40);
    const irqs = only(fill.trace, /^irq /);
    expect(irqs.length).toBeGreaterThan(10);
    expect(new Set(irqs)).toEqual(new Set(["irq lines=0x1 (line 0: MSI-X vector 0x40)"]));
  });

  it("irq=intx: `(line 0: INTx IRQ 0x0a)` with the function's interrupt line, COMMAND without INTX-DISABLE, INTMC decoded, no MSI-X line", () => {
    expect(intx.code, intx.why).toBe(0);
    const func = intx.machine.bus.resolve(0x20).func;
    expect(func.configRead32(CFG.INTERRUPT) & 0xff).toBe(0x0a);
    const irqs = only(intx.trace, /^irq /);
    expect(irqs.length).toBe(11); // 7 in bring-up, Asynchronous Event Configuration's, the Read's, one per Delete
    expect(new Set(irqs)).toEqual(new Set(["irq lines=0x1 (line 0: INTx IRQ 0x0a)"]));
    expect(only(intx.trace, /^pci /)).toEqual([
      "pci 00:04.0 write COMMAND = 0x0002 (MEM)",
      "pci 00:04.0 write COMMAND = 0x0006 (MEM BUSMASTER)",
      "pci 00:04.0 write COMMAND = 0x0006 (MEM BUSMASTER)",
    ]);
    expect(only(intx.trace, /MSI-X/)).toEqual([]);
    expect(intx.trace).toContain("mmio 00:04.0 write INTMC = 0x00000001 (vectors 0x1)");
    expectBlock(
      intx.trace,
      [
        "cmd nvme0 SQ1 cid=0 Read nsid=1 slba=0 nlb=8 prp1=0x123480000",
        "mmio 00:04.0 write SQ1 tail=1",
        "irq lines=0x1 (line 0: INTx IRQ 0x0a)",
        "cpl nvme0 CQ1 cid=0 sqhd=1 phase=1 Read: Successful Completion (generic sct=0 sc=0x00)",
        "reap nvme0 CQ1 entries=1",
        "mmio 00:04.0 write CQ1 head=1",
      ],
      intx.why,
    );
    checkDoorbells(intx.trace, intx.why);
    checkReaps(intx.trace, intx.why);
  });

  it("a second controller's lines name nvme1 and 00:05.0, and its interrupt is line 1, MSI-X vector 0x41", () => {
    expect(two.code, two.why).toBe(0);
    expect(two.trace).toContain("stage nvme1 1: map BAR0, read CAP/VS/CSTS, reset");
    expect(two.trace).toContain("mmio 00:05.0 write MSI-X entry 0 data = 0x00000041");
    expectBlock(
      two.trace,
      [
        "cmd nvme1 SQ1 cid=0 Read nsid=1 slba=0 nlb=8 prp1=0x123480000",
        "mmio 00:05.0 write SQ1 tail=1",
        "irq lines=0x2 (line 1: MSI-X vector 0x41)",
        "cpl nvme1 CQ1 cid=0 sqhd=1 phase=1 Read: Successful Completion (generic sct=0 sc=0x00)",
        "reap nvme1 CQ1 entries=1",
      ],
      two.why,
    );
    // every line about nvme1's queues is on 00:05.0, every interrupt of line 1 is vector 0x41
    for (const l of only(two.trace, /^irq lines=0x2 /)) expect(l).toBe("irq lines=0x2 (line 1: MSI-X vector 0x41)");
    checkRecords(two);
  });
});

describe("faults in the trace", () => {
  it("a media error (error=1): each try of the Read completes `Read: Unrecovered Read Error (media error sct=2 sc=0x81)`, the shell's error in the same words", async () => {
    const run = await traced("trace=all; crc nvme0n1 0 8; poweroff", { faults: { error: 1 } });
    expect(run.code, run.why).toBe(1);
    const read = "cmd nvme0 SQ1 cid=0 Read nsid=1 slba=0 nlb=8 prp1=0x123480000";
    const io = only(run.trace.slice(run.trace.indexOf("stage nvme0 7: ready: IO")), /^(cmd|cpl|irq|reap) /);
    const tries = [1, 2, 3, 4].flatMap((n) => [
      read,
      "irq lines=0x1 (line 0: MSI-X vector 0x40)",
      `cpl nvme0 CQ1 cid=0 sqhd=${n} phase=1 Read: Unrecovered Read Error (media error sct=2 sc=0x81)`,
      "reap nvme0 CQ1 entries=1",
    ]);
    expect(io.slice(0, 4)).toEqual([
      // once ready, before any IO
      "cmd nvme0 SQ0 cid=0 Set Features FID=0bh (Asynchronous Event Configuration) cdw11=0xff",
      "irq lines=0x1 (line 0: MSI-X vector 0x40)",
      "cpl nvme0 CQ0 cid=0 sqhd=8 phase=1 Set Features: Successful Completion (generic sct=0 sc=0x00)",
      "cmd nvme0 SQ0 cid=0 Asynchronous Event Request",
    ]);
    expect(io.slice(4, 20)).toEqual(tries);
    expect(io.slice(20, 23)).toEqual([
      "cmd nvme0 SQ1 cid=0 Flush nsid=1",
      "cpl nvme0 CQ1 cid=0 sqhd=5 phase=1 Flush: Successful Completion (generic sct=0 sc=0x00)",
      "reap nvme0 CQ1 entries=1",
    ]);
    expect(run.output).toMatch(
      /^error: crc dev=nvme0n1 lba=0 count=8: at lba=0: Unrecovered Read Error \(media error sct=2 sc=0x81\)$/m,
    );
    checkDoorbells(run.trace, run.why);
    checkReaps(run.trace, run.why);
    checkRecords(run);
  });

  it("a controller fatal status (cfs=1) reads `CSTS = 0x00000003 (RDY=1 CFS=1 SHST=normal)` before the driver's reset", async () => {
    const run = await traced("trace=regs; fill nvme0n1 0 600 7; poweroff", { faults: { cfs: 1 } });
    const reset = run.lines.indexOf("nvme0 resetting after: controller fatal status (CSTS.CFS)");
    expect(reset, run.why).toBeGreaterThan(0);
    expect(run.lines[reset - 1]).toBe("mmio 00:04.0 read CSTS = 0x00000003 (RDY=1 CFS=1 SHST=normal)");
    expectBlock(
      run.lines,
      [
        "mmio 00:04.0 read CC = 0x00460001 (EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=64B IOCQES=16B)",
        "mmio 00:04.0 read CSTS = 0x00000003 (RDY=1 CFS=1 SHST=normal)",
        "mmio 00:04.0 write CC = 0x00000000 (EN=0 CSS=NVM MPS=4KiB AMS=RR SHN=none IOSQES=1B IOCQES=1B)",
        "mmio 00:04.0 read CSTS = 0x00000000 (RDY=0 CFS=0 SHST=normal)",
        "nvme0 reset ok us=0",
      ],
      run.why,
    );
    checkRecords(run);
  });
});

describe("the strict profile: 16-byte doorbell stride, MSI-X table in BAR 4, SHST=occurring", () => {
  let run;
  const raw = [];
  beforeAll(async () => {
    run = await traced("trace=all; fill nvme0n1 0 600 7; poweroff", {
      profile: "strict",
      trace: (line) => raw.push(line),
    });
  });

  it("CAP[63:32] says DSTRD=2 (16-byte doorbells) and the doorbells still count the cmd and cpl lines", () => {
    expect(run.code, run.why).toBe(0);
    expect(run.trace).toContain(
      "mmio 00:04.0 read CAP[63:32] = 0x00400022 (DSTRD=2 (16-byte doorbells) NSSRS=0 CSS=0x01 (NVM) BPS=0 MPSMIN=4KiB MPSMAX=64KiB PMRS=0 CMBS=0)",
    );
    expect(checkDoorbells(run.trace, run.why)).toBe(24); // 11 SQ0 (2 for the event request), 10 CQ0, SQ1 tail=3 and 4, CQ1 head=4
    expect(run.trace).toContain("mmio 00:04.0 write SQ1 tail=3");
    expect(run.trace).toContain("mmio 00:04.0 write CQ1 head=4");
  });

  it("every MMIO write the host saw is its decoded line: registers by name, doorbells by the 16-byte stride, BAR 4's MSI-X table as entries", () => {
    const NAMES = {
      0x0c: "INTMS",
      0x10: "INTMC",
      0x14: "CC",
      0x24: "AQA",
      0x28: "ASQ[31:0]",
      0x2c: "ASQ[63:32]",
      0x30: "ACQ[31:0]",
      0x34: "ACQ[63:32]",
    };
    const FIELDS = ["address[31:0]", "address[63:32]", "data", "vector control"];
    const expected = [];
    for (const l of raw) {
      const m = /^mmio: write 00:04\.0 bar(\d)\+0x([0-9a-f]+) = 0x([0-9a-f]{8})$/.exec(l);
      if (!m) continue;
      const [bar, off, v] = [Number(m[1]), parseInt(m[2], 16), parseInt(m[3], 16)];
      if (bar === 4) expected.push(`MSI-X entry ${off >> 4} ${FIELDS[(off & 15) >> 2]} = 0x${m[3]}`);
      else if (off >= 0x1000) {
        const i = (off - 0x1000) / 16;
        expected.push(i & 1 ? `CQ${i >> 1} head=${v}` : `SQ${i >> 1} tail=${v}`);
      } else expected.push(`${NAMES[off]} = 0x${m[3]}`);
    }
    const decoded = only(run.trace, /^mmio \S+ write /).map((l) => l.replace(/^mmio 00:04\.0 write /, ""));
    expect(decoded.length).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(30);
    decoded.forEach((d, i) => expect(d.startsWith(expected[i]), `${d} is ${expected[i]}`).toBe(true));
    expect(only(raw, /bar4\+/).length).toBe(4);
    expect(only(raw, /bar0\+0x10[0-9a-f]{2} /).some((l) => /bar0\+0x1030 /.test(l))).toBe(true); // CQ1's doorbell at 0x1000 + 3 * 16
  });

  it("a shutdown that takes time reads CSTS SHST=occurring until SHST=complete", () => {
    const csts = only(
      run.trace.slice(
        run.trace.lastIndexOf(
          "mmio 00:04.0 write CC = 0x00464001 (EN=1 CSS=NVM MPS=4KiB AMS=RR SHN=normal IOSQES=64B IOCQES=16B)",
        ) + 1,
      ),
      /CSTS/,
    );
    expect(csts.length).toBeGreaterThan(2);
    expect(
      csts.slice(0, -1).every((l) => l === "mmio 00:04.0 read CSTS = 0x00000005 (RDY=1 CFS=0 SHST=occurring)"),
    ).toBe(true);
    expect(csts.at(-1)).toBe("mmio 00:04.0 read CSTS = 0x00000009 (RDY=1 CFS=0 SHST=complete)");
  });
});

describe("what each trace= word prints", () => {
  const STAGES = [
    "stage nvme0 1: map BAR0, read CAP/VS/CSTS, reset",
    "stage nvme0 2: admin queue, interrupts, the first command: Identify",
    "stage nvme0 3: decode Identify, find and identify the namespaces",
    "stage nvme0 4: Number of Queues, the IO queue pair",
    "stage nvme0 7: ready: IO",
  ];
  const CASES = [
    ["regs", ["stage", "mmio-read", "mmio-write", "pci-write"]],
    ["cmds", ["stage", "command", "completion"]],
    ["irq", ["stage", "irq", "reap"]],
    ["regs,cmds", ["stage", "mmio-read", "mmio-write", "pci-write", "command", "completion"]],
  ];
  for (const [word, kinds] of CASES) {
    it(`trace=${word} prints only ${kinds.join("/")} lines, every one of those kinds, and the stage lines`, async () => {
      const run = await traced(`trace=${word}; crc nvme0n1 0 8; poweroff`);
      expect(run.code, run.why).toBe(0);
      expect(new Set(run.trace.map(kindOf))).toEqual(new Set(kinds));
      expect(only(run.trace, /^stage /)).toEqual(STAGES);
      checkRecords(run);
    });
  }

  it("no trace= word prints no trace line and keeps no record", async () => {
    const run = await traced("crc nvme0n1 0 8; poweroff");
    expect(run.code, run.why).toBe(0);
    expect(run.trace).toEqual([]);
    expect(run.records).toEqual([]);
  });

  it("trace=foo is the error line `boot option not understood: trace=foo`, nothing is traced, and the exit code is 1", async () => {
    const run = await traced("trace=foo; crc nvme0n1 0 8; poweroff");
    expect(run.code, run.why).toBe(1);
    expect(only(run.lines, /^error: /)).toEqual(["error: boot option not understood: trace=foo"]);
    expect(run.output).toMatch(/^crc dev=nvme0n1 lba=0 count=8 crc32=0x[0-9a-f]{8}$/m);
    expect(run.trace).toEqual([]);
    expect(run.records).toEqual([]);
  });

  it("a known word joined to an unknown one (trace=regs,foo) is refused whole", async () => {
    const run = await traced("trace=regs,foo; poweroff");
    expect(run.code, run.why).toBe(1);
    expect(only(run.lines, /^error: /)).toEqual(["error: boot option not understood: trace=regs,foo"]);
    expect(run.trace).toEqual([]);
  });
});

// build/trace.wasm on its own, as host/trace.js instantiates it: env.memory (4 pages), env.abort and
// env.console_write; entries are written into its buffer() before command()/completion().
describe("the decoder module called directly", () => {
  let bytes;
  beforeAll(async () => {
    await buildWasm({ quiet: true });
    bytes = readFileSync(TRACE_WASM);
  });

  const BDF = 4 << 3; // 00:04.0
  function decoder() {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 4 });
    let out = "";
    const env = {
      memory,
      abort() {
        throw new Error("decoder abort");
      },
      console_write(ptr, len) {
        out += Buffer.from(memory.buffer, ptr >>> 0, len >>> 0).toString("latin1");
      },
    };
    const d = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env }).exports;
    const entry = d.buffer() >>> 0;
    // One call, its output: exactly one line.
    const call = (fn, ...args) => {
      out = "";
      d[fn](...args);
      expect(out.endsWith("\n") && out.indexOf("\n") === out.length - 1, JSON.stringify(out)).toBe(true);
      return out.slice(0, -1);
    };
    return {
      call,
      command(
        where,
        { op, cid = 0, fuse = 0, psdt = 0, nsid = 0, prp1 = 0n, prp2 = 0n, cdw10 = 0, cdw11 = 0, cdw12 = 0 },
      ) {
        const dv = new DataView(memory.buffer, entry, 64);
        for (let i = 0; i < 64; i += 4) dv.setUint32(i, 0, true);
        dv.setUint32(0, (op | (fuse << 8) | (psdt << 14) | (cid << 16)) >>> 0, true);
        dv.setUint32(4, nsid, true);
        dv.setBigUint64(24, prp1, true);
        dv.setBigUint64(32, prp2, true);
        dv.setUint32(40, cdw10 >>> 0, true);
        dv.setUint32(44, cdw11 >>> 0, true);
        dv.setUint32(48, cdw12 >>> 0, true);
        return call("command", where);
      },
      // status: the 15-bit Status Field without the phase tag (SC 7:0, SCT 10:8, DNR 14)
      completion(where, { cid, status = 0, sqhd = 1, sqid = where & 0xffff, dw0 = 0, phase = 1 }) {
        const dv = new DataView(memory.buffer, entry, 16);
        dv.setUint32(0, dw0 >>> 0, true);
        dv.setUint32(4, 0, true);
        dv.setUint32(8, (sqhd | (sqid << 16)) >>> 0, true);
        dv.setUint16(12, cid, true);
        dv.setUint16(14, (status << 1) | phase, true);
        return call("completion", where);
      },
    };
  }

  it("imports only env.memory and env.console_write (abort allowed), and exports the calls host/trace.js makes", () => {
    const m = new WebAssembly.Module(bytes);
    for (const i of WebAssembly.Module.imports(m))
      expect(["env.memory", "env.console_write", "env.abort"]).toContain(`${i.module}.${i.name}`);
    const exports = WebAssembly.Module.exports(m).map((e) => e.name);
    for (const name of ["buffer", "mmio", "config", "irq", "command", "completion", "stage", "quirk", "reap"])
      expect(exports).toContain(name);
  });

  it("an unknown opcode is printed with its number, on the admin and on an IO queue, and its completion is named the same way", () => {
    const d = decoder();
    expect(d.command(0, { op: 0xc0, cid: 5 })).toBe("cmd nvme0 SQ0 cid=5 admin opcode 0xc0");
    expect(d.completion(0, { cid: 5, status: 0x001 })).toBe(
      "cpl nvme0 CQ0 cid=5 sqhd=1 phase=1 admin opcode 0xc0: Invalid Command Opcode (generic sct=0 sc=0x01)",
    );
    expect(d.command(1, { op: 0x85, cid: 7, nsid: 1, cdw10: 10, cdw12: 3, prp1: 0x1000n })).toBe(
      "cmd nvme0 SQ1 cid=7 I/O opcode 0x85 nsid=1 slba=10 nlb=4 prp1=0x1000",
    );
    expect(d.completion(1, { cid: 7 })).toBe(
      "cpl nvme0 CQ1 cid=7 sqhd=1 phase=1 I/O opcode 0x85: Successful Completion (generic sct=0 sc=0x00)",
    );
    // an admin opcode's number means another command on an IO queue: 0x06 is Identify on SQ0 only
    expect(d.command(1, { op: 0x06, cid: 8, nsid: 1 })).toBe(
      "cmd nvme0 SQ1 cid=8 I/O opcode 0x06 nsid=1 slba=0 nlb=1 prp1=0x0",
    );
  });

  it("an unknown status code is `Unknown Status` with its type and numbers; a reserved type is named so; DNR is shown", () => {
    const d = decoder();
    d.command(1, { op: 0x02, cid: 1, nsid: 1 });
    expect(d.completion(1, { cid: 1, status: 0x03f })).toBe(
      "cpl nvme0 CQ1 cid=1 sqhd=1 phase=1 Read: Unknown Status (generic sct=0 sc=0x3f)",
    );
    d.command(1, { op: 0x01, cid: 2, nsid: 1 });
    expect(d.completion(1, { cid: 2, status: 0x501 })).toBe(
      "cpl nvme0 CQ1 cid=2 sqhd=1 phase=1 Write: Unknown Status (reserved type sct=5 sc=0x01)",
    );
    d.command(1, { op: 0x02, cid: 3, nsid: 1 });
    expect(d.completion(1, { cid: 3, status: (1 << 14) | 0x281, phase: 0 })).toBe(
      "cpl nvme0 CQ1 cid=3 sqhd=1 phase=0 Read: Unrecovered Read Error (media error sct=2 sc=0x81 dnr)",
    );
    d.command(0, { op: 0x01, cid: 4, cdw10: (31 << 16) | 1, cdw11: (1 << 16) | 1 });
    expect(d.completion(0, { cid: 4, status: 0x101 })).toBe(
      "cpl nvme0 CQ0 cid=4 sqhd=1 phase=1 Create I/O Submission Queue: Invalid Queue Identifier (command specific sct=1 sc=0x01)",
    );
  });

  it("a completion whose cid was never submitted has no command name; a cid is forgotten once its completion is consumed", () => {
    const d = decoder();
    expect(d.completion(1, { cid: 77, sqhd: 3 })).toBe(
      "cpl nvme0 CQ1 cid=77 sqhd=3 phase=1 Successful Completion (generic sct=0 sc=0x00)",
    );
    d.command(1, { op: 0x00, cid: 9, nsid: 1 });
    expect(d.completion(1, { cid: 9 })).toBe(
      "cpl nvme0 CQ1 cid=9 sqhd=1 phase=1 Flush: Successful Completion (generic sct=0 sc=0x00)",
    );
    expect(d.completion(1, { cid: 9, sqhd: 2 })).toBe(
      "cpl nvme0 CQ1 cid=9 sqhd=2 phase=1 Successful Completion (generic sct=0 sc=0x00)",
    );
  });

  it("cids are remembered per controller and per admin or IO queue: the same cid names different commands", () => {
    const d = decoder();
    d.command(0, { op: 0x06, cid: 3, cdw10: 1 });
    d.command(1, { op: 0x02, cid: 3, nsid: 1 });
    d.command((1 << 16) | 1, { op: 0x01, cid: 3, nsid: 1 });
    d.command(0, { op: 0x09, cid: 4, cdw10: 0x07, cdw11: 0x00030003 });
    expect(d.completion((1 << 16) | 1, { cid: 3 })).toBe(
      "cpl nvme1 CQ1 cid=3 sqhd=1 phase=1 Write: Successful Completion (generic sct=0 sc=0x00)",
    );
    expect(d.completion(1, { cid: 3 })).toBe(
      "cpl nvme0 CQ1 cid=3 sqhd=1 phase=1 Read: Successful Completion (generic sct=0 sc=0x00)",
    );
    expect(d.completion(0, { cid: 4, dw0: 0x00070003 })).toBe(
      "cpl nvme0 CQ0 cid=4 sqhd=1 phase=1 Set Features: Successful Completion (generic sct=0 sc=0x00) dw0=0x00070003 (NSQA=4 NCQA=8)",
    );
    expect(d.completion(0, { cid: 3 })).toBe(
      "cpl nvme0 CQ0 cid=3 sqhd=1 phase=1 Identify: Successful Completion (generic sct=0 sc=0x00)",
    );
  });

  it("dw0 is decoded for Set Features Number of Queues only, not for another feature nor for Get Features", () => {
    const d = decoder();
    expect(d.command(0, { op: 0x09, cid: 1, cdw10: 0x06, cdw11: 1 })).toBe(
      "cmd nvme0 SQ0 cid=1 Set Features FID=06h (Volatile Write Cache) cdw11=0x1",
    );
    expect(d.completion(0, { cid: 1, dw0: 0x003f003f })).toBe(
      "cpl nvme0 CQ0 cid=1 sqhd=1 phase=1 Set Features: Successful Completion (generic sct=0 sc=0x00)",
    );
    expect(d.command(0, { op: 0x0a, cid: 2, cdw10: 0x07 })).toBe(
      "cmd nvme0 SQ0 cid=2 Get Features FID=07h (Number of Queues)",
    );
    expect(d.completion(0, { cid: 2, dw0: 0x003f003f })).toBe(
      "cpl nvme0 CQ0 cid=2 sqhd=1 phase=1 Get Features: Successful Completion (generic sct=0 sc=0x00)",
    );
  });

  it("fused and SGL are shown when the command's FUSE and PSDT bits are set", () => {
    const d = decoder();
    expect(d.command(1, { op: 0x05, cid: 1, fuse: 1, nsid: 1, cdw12: 0, prp1: 0x2000n })).toBe(
      "cmd nvme0 SQ1 cid=1 Compare nsid=1 slba=0 nlb=1 prp1=0x2000 fused",
    );
    expect(d.command(1, { op: 0x01, cid: 2, fuse: 2, nsid: 1, prp1: 0x2000n })).toBe(
      "cmd nvme0 SQ1 cid=2 Write nsid=1 slba=0 nlb=1 prp1=0x2000 fused",
    );
    // PSDT != 0: PRP1/PRP2 are SGL descriptor 1, its address, length and type (byte 15 bits 7:4).
    expect(
      d.command(1, { op: 0x02, cid: 3, psdt: 1, nsid: 1, cdw10: 0x100, cdw12: 7, prp1: 0x3000n, prp2: 0x1000n }),
    ).toBe("cmd nvme0 SQ1 cid=3 Read nsid=1 slba=256 nlb=8 sgl_addr=0x3000 sgl_bytes=4096 sgl_type=0 SGL");
    expect(d.command(1, { op: 0x01, cid: 4, psdt: 1, nsid: 1, cdw12: 0, prp1: 0x5000n, prp2: (3n << 60n) | 32n })).toBe(
      "cmd nvme0 SQ1 cid=4 Write nsid=1 slba=0 nlb=1 sgl_addr=0x5000 sgl_bytes=32 sgl_type=3 SGL",
    );
  });

  it("Doorbell Buffer Config shows its two pages: the shadow doorbells (PRP1) and EventIdx (PRP2)", () => {
    const d = decoder();
    expect(d.command(0, { op: 0x7c, cid: 0, prp1: 0x123cd1000n, prp2: 0x123cd2000n })).toBe(
      "cmd nvme0 SQ0 cid=0 Doorbell Buffer Config shadow=0x123cd1000 eventidx=0x123cd2000",
    );
  });

  it("register offsets past the known ones are `reg+0x…` of BAR0, with no field decoding; another BAR is `+0x…`", () => {
    const d = decoder();
    expect(d.call("mmio", BDF, 1, 0x58, 5, 0)).toBe("mmio 00:04.0 read reg+0x058 = 0x00000005");
    expect(d.call("mmio", BDF, 1, 0xffc, 0xdeadbeef, 1)).toBe("mmio 00:04.0 write reg+0xffc = 0xdeadbeef");
    expect(d.call("mmio", BDF, 1, 0x50, 1, 1)).toBe("mmio 00:04.0 write CMBMSC[31:0] = 0x00000001");
    expect(d.call("mmio", BDF, 0, 0x2000, 1, 1)).toBe("mmio 00:04.0 write +0x2000 = 0x00000001");
    expect(d.call("mmio", BDF, 2, 0x1c, 1, 1)).toBe(
      "mmio 00:04.0 write MSI-X entry 1 vector control = 0x00000001 (masked)",
    );
    expect(d.call("mmio", BDF, 1, 0x1c, 0xffffffff, 0)).toBe(
      "mmio 00:04.0 read CSTS = 0xffffffff (all ones: the device is gone)",
    );
    expect(d.call("mmio", BDF, 1, 0x0c, 0x3, 1)).toBe("mmio 00:04.0 write INTMS = 0x00000003 (vectors 0x3)");
  });

  it("configuration writes other than COMMAND and MSI-X control are `+0x…`; a COMMAND with no bit set is `(none)`", () => {
    const d = decoder();
    expect(d.call("config", BDF, 0x3c, 0x10b, 0x40)).toBe("pci 00:04.0 write +0x3c = 0x0000010b");
    expect(d.call("config", BDF, 0x40, 0xc0000000, 0)).toBe("pci 00:04.0 write +0x40 = 0xc0000000");
    expect(d.call("config", BDF, 0x40, 0xc0000000, 0x40)).toBe(
      "pci 00:04.0 write MSI-X control = 0xc000 (enable=1 function-mask=1)",
    );
    expect(d.call("config", BDF, 0x04, 0x00100000, 0x40)).toBe("pci 00:04.0 write COMMAND = 0x0000 (none)");
    expect(d.call("config", (1 << 8) | (2 << 3) | 3, 0x04, 0x7, 0)).toBe(
      "pci 01:02.3 write COMMAND = 0x0007 (IO MEM BUSMASTER)",
    );
  });

  it("the doorbell stride is learned per function from its CAP[63:32] read: 4 bytes until then, 32 bytes for DSTRD=3", () => {
    const d = decoder();
    const other = 5 << 3; // 00:05.0
    expect(d.call("mmio", BDF, 1, 0x1004, 2, 1)).toBe("mmio 00:04.0 write CQ0 head=2");
    d.call("mmio", BDF, 1, 0x04, 0x00400023, 0);
    expect(d.call("mmio", BDF, 1, 0x1020, 1, 1)).toBe("mmio 00:04.0 write CQ0 head=1");
    expect(d.call("mmio", BDF, 1, 0x1040, 5, 1)).toBe("mmio 00:04.0 write SQ1 tail=5");
    expect(d.call("mmio", BDF, 1, 0x1060, 4, 1)).toBe("mmio 00:04.0 write CQ1 head=4");
    // another function keeps 4-byte doorbells
    expect(d.call("mmio", other, 1, 0x100c, 4, 1)).toBe("mmio 00:05.0 write CQ1 head=4");
  });

  it("irq, stage, reap and quirk lines carry the line, vector, controller and count they are given", () => {
    const d = decoder();
    expect(d.call("irq", 0x3, 1, 0x41, 1)).toBe("irq lines=0x3 (line 1: MSI-X vector 0x41)");
    expect(d.call("irq", 0x4, 2, 0x0b, 0)).toBe("irq lines=0x4 (line 2: INTx IRQ 0x0b)");
    expect(d.call("stage", (2 << 16) | 4)).toBe("stage nvme2 4: Number of Queues, the IO queue pair");
    expect(d.call("reap", (1 << 16) | (1 << 12) | 300)).toBe("reap nvme1 CQ1 entries=300");
    expect(d.call("reap", (2 << 16) | (7 << 12) | 4095)).toBe("reap nvme2 CQ7 entries=4095");
    expect(d.call("quirk", (3 << 16) | 2)).toBe(
      "quirk nvme3 128_BYTES_SQES: IO submission queue entries 128 bytes apart",
    );
    expect(d.call("quirk", 9)).toBe("quirk nvme0 unknown");
  });
});
