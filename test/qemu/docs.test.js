// Docs that cannot drift: every output block of docs/bring-up.md (and any other page listed in DOCS)
// that is marked in the page's source with the command that prints it,
//
//   <!-- output: stage=2; poweroff -->
//   ```
//   nvme0 enable ok admin_entries=32 us=309
//   ...
//   ```
//
// is checked against a real run: QEMU booted as `make run` boots it (boot/qemu.sh, the kernel of
// make kernel, a 64 MiB disk made by boot/mkdisk.js) with that command line. The block must be a
// run of consecutive lines of the output; only what changes from run to run or with QEMU's build is
// let vary: times (`us=`), the TSC rate, and the firmware revision (Identify bytes 64..71, QEMU's
// version: `firmware="…"` and the first 8 bytes of the dump's row 0x40). The pages say which QEMU
// printed them (DOCUMENTED_QEMU); with another QEMU the blocks are compared by shape only (below),
// and the test says so.
//
// The same command then runs under Node against the model on the same disk image, and the lines of
// the block must come out there too, numbers aside: every number, quoted string and hexdump byte is
// masked, the words, fields and their order must be the same. The model is a different controller
// (its PCI address, BAR, serial, Identify contents differ); the driver's steps are not.
//
// A block marked `<!-- output node: CMD -->` shows a run under Node (`npx nvme-wasm sim --cmd CMD`,
// the CLI's defaults: profile qemu, seed 1, one 16 MiB disk): it is compared with such a run, exactly
// but for the times; it needs no QEMU.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bootQemu, hasQemu, KERNEL, ROOT } from "./helpers.js";
import { buildMachine, closeDisks, runSim } from "../../host/sim.js";
import { tempDir } from "../lib/disk-images.js";

const enabled = hasQemu() || !!process.env.CI;
const DOCS = ["docs/bring-up.md", "docs/trace.md"]; // pages with marked blocks
// Pages whose every fenced block must be marked or be a command someone types.
const ALL_MARKED = ["docs/bring-up.md"];
const COMMAND_BLOCK = /^(\$ |npx |make |node |boot\/|\(gdb\) )/;
const DOCUMENTED_QEMU = "7.2";
const MARKER = /^<!-- output( node)?: (.+?) -->$/;

// [{ doc, line, cmd, lines }] of a page: marked blocks; `unmarked` the blocks without a marker.
export function outputBlocks(doc, text) {
  const src = text.split("\n");
  const blocks = [],
    unmarked = [];
  for (let i = 0; i < src.length; i++) {
    if (!src[i].startsWith("```")) continue;
    const end = src.findIndex((l, k) => k > i && l.startsWith("```"));
    if (end < 0) throw new Error(`${doc}:${i + 1}: a fenced block that never ends`);
    const lines = src.slice(i + 1, end);
    const m = MARKER.exec(src[i - 1] ?? "");
    if (m) blocks.push({ doc, line: i + 1, cmd: m[2], node: !!m[1], lines });
    else unmarked.push({ doc, line: i + 1, lines });
    i = end;
  }
  return { blocks, unmarked };
}

const HEXDUMP = /^[0-9a-f]{8}( |$)/;

// What may differ between two QEMU runs of the same command: times, the TSC rate, the firmware
// revision (QEMU's version) in `info` and in the Identify dump's row 0x40 (bytes 64..71).
export function maskRun(lines) {
  let inIdentify = false;
  return lines.map((l) => {
    if (/identify controller, first 256 bytes:$/.test(l)) inIdentify = true;
    else if (!HEXDUMP.test(l) && l !== "*") inIdentify = false;
    let s = l
      .replace(/\bus=\d+/g, "us=…")
      .replace(/\btsc \d+ MHz/, "tsc … MHz")
      .replace(/firmware="[^"]*"/g, 'firmware="…"');
    if (inIdentify && s.startsWith("00000040  "))
      s = `00000040  ${s.slice(10, 33).replace(/[0-9a-f]{2}/g, "xx")}${s.slice(33).replace(/\|.{8}/, "|~~~~~~~~")}`;
    return s;
  });
}

// The words of a line with its values masked: numbers (decimal, hex, versions, PCI addresses),
// quoted strings, and a hexdump row reduced to what kind of row it is.
export function shape(l) {
  if (l === "*") return "*";
  if (/^[0-9a-f]{8}$/.test(l)) return "hexdump end";
  if (HEXDUMP.test(l)) return "hexdump row";
  return l
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\b0x[0-9a-f]+\b/gi, "#")
    .replace(/\b\d+\b/g, "#");
}

// Where `want` is a run of consecutive lines of `have` (-1 if nowhere).
export function runAt(have, want) {
  if (want.length === 0) return -1;
  for (let i = 0; i + want.length <= have.length; i++) {
    if (want.every((w, k) => have[i + k] === w)) return i;
  }
  return -1;
}

function explain(block, r, have) {
  return (
    `${block.doc}:${block.line} (command "${block.cmd}") is not a run of consecutive lines of what it prints now` +
    `\n--- the block (masked) ---\n${maskRun(block.lines).join("\n")}\n--- the run (masked, exit ${r.code}) ---\n${have.join("\n")}`
  );
}

async function nodeRun(image, cmd) {
  const { machine, opened } = await buildMachine({ disks: [image], cmd, stdout: null, stderr: null });
  try {
    const r = await machine.run(
      readFileSync(join(ROOT, "build", "nvme.wasm")),
      readFileSync(join(ROOT, "build", "shell.wasm")),
    );
    return { ...r, violations: machine.controllers[0].violations };
  } finally {
    closeDisks(opened);
  }
}

const splitLines = (output) => output.replace(/\r/g, "").split("\n");

describe("docs: finding the marked output blocks", () => {
  it("reads marked blocks and masks only what may vary", () => {
    const { blocks, unmarked } = outputBlocks(
      "x.md",
      ["<!-- output: stage=1; poweroff -->", "```", "a us=12", "```", "```", "npx x", "```"].join("\n"),
    );
    expect(blocks).toEqual([{ doc: "x.md", line: 2, cmd: "stage=1; poweroff", node: false, lines: ["a us=12"] }]);
    expect(unmarked.map((b) => b.lines)).toEqual([["npx x"]]);
    expect(maskRun(["nvme0 reset ok us=776"])).toEqual(["nvme0 reset ok us=…"]);
    expect(maskRun(["nvme0 reset ok rs=776"])).toEqual(["nvme0 reset ok rs=776"]);
    const row = "00000040  37 2e 32 2e 32 32 20 20  06 00 54 52 00 07 00 00  |7.2.22  ..TR....|";
    expect(maskRun([row])).toEqual([row]); // outside an Identify dump: a disk's bytes, compared whole
    expect(maskRun(["nvme0 identify controller, first 256 bytes:", row])[1]).toBe(
      "00000040  xx xx xx xx xx xx xx xx  06 00 54 52 00 07 00 00  |~~~~~~~~..TR....|",
    );
    expect(shape('ctrl name=nvme0 pci=00:03.0 vid=0x1b36 serial="x"')).toBe(
      'ctrl name=nvme0 pci=#:#.# vid=# serial="…"',
    );
    expect(runAt(["a", "b", "c"], ["b", "c"])).toBe(1);
    expect(runAt(["a", "b", "c"], ["a", "c"])).toBe(-1);
  });

  it(`every fenced block of ${ALL_MARKED.join(", ")} is marked with its command or is a command itself`, () => {
    for (const doc of ALL_MARKED) {
      const { blocks, unmarked } = outputBlocks(doc, readFileSync(join(ROOT, doc), "utf8"));
      expect(blocks.length, doc).toBeGreaterThanOrEqual(6);
      const bad = unmarked.filter((b) => !b.lines.every((l) => COMMAND_BLOCK.test(l) || l === ""));
      expect(
        bad.map((b) => `${b.doc}:${b.line}: ${b.lines[0]}`),
        "output blocks without <!-- output: CMD -->",
      ).toEqual([]);
    }
  });
});

describe("docs: every block marked as a Node run is what `nvme-wasm sim` prints today", () => {
  const blocks = DOCS.flatMap((doc) => outputBlocks(doc, readFileSync(join(ROOT, doc), "utf8")).blocks).filter(
    (b) => b.node,
  );
  it("docs/trace.md's examples are marked", () => {
    expect(blocks.filter((b) => b.doc === "docs/trace.md").length).toBeGreaterThanOrEqual(2);
  });
  it("each is a run of consecutive lines of its command's output under Node, times aside", async () => {
    const runs = new Map();
    for (const b of blocks) {
      if (!runs.has(b.cmd)) {
        const r = await runSim({ cmd: b.cmd, disks: ["mem:16M"], stdout: null, stderr: null });
        runs.set(b.cmd, r);
      }
      const r = runs.get(b.cmd);
      const have = maskRun(splitLines(r.output));
      expect(runAt(have, maskRun(b.lines)), explain(b, r, have)).toBeGreaterThanOrEqual(0);
    }
  });
});

describe.skipIf(!enabled)("docs: every marked output block is what QEMU and the Node host print today", () => {
  const blocks = DOCS.flatMap((doc) => outputBlocks(doc, readFileSync(join(ROOT, doc), "utf8")).blocks).filter(
    (b) => !b.node,
  );
  const commands = [...new Set(blocks.map((b) => b.cmd))];
  let tmp, image, qemuVersion;
  const qemuRuns = new Map(),
    nodeRuns = new Map();
  beforeAll(async () => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-docs-");
    image = tmp.path("disk.img");
    execFileSync("node", [join(ROOT, "boot", "mkdisk.js"), image, "64"], { cwd: ROOT });
    qemuVersion = /version (\d+\.\d+)/.exec(
      execFileSync("qemu-system-x86_64", ["--version"], { encoding: "utf8" }),
    )?.[1];
    // One boot per distinct command, one after the other (QEMU under TCG wants the CPU).
    for (const cmd of commands) {
      qemuRuns.set(
        cmd,
        await bootQemu({ args: ["--quiet", "--kernel", KERNEL, "--disk", image, "--cmd", cmd], timeoutMs: 60000 }),
      );
      nodeRuns.set(cmd, await nodeRun(image, cmd));
    }
  }, 600000);
  afterAll(() => tmp?.remove());

  it("the pages have marked blocks for stages 0 to 4 and for IO on the default disk", () => {
    expect(commands).toEqual(
      expect.arrayContaining([
        "stage=1; poweroff",
        "stage=2; poweroff",
        "stage=3; poweroff",
        "stage=4; poweroff",
        "info; read nvme0n1 0 1; poweroff",
      ]),
    );
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  it("QEMU: each block is a run of consecutive lines of its command's output, times and QEMU's version aside", () => {
    const exact = qemuVersion === DOCUMENTED_QEMU;
    if (!exact)
      console.warn(
        `docs.test: QEMU ${qemuVersion} is not the documented ${DOCUMENTED_QEMU}: QEMU's output compared by shape only`,
      );
    for (const b of blocks) {
      const r = qemuRuns.get(b.cmd);
      expect(r.code, `${b.doc}:${b.line}: "${b.cmd}" exited ${r.code}\n${r.output}`).toBe(0);
      const have = exact ? maskRun(splitLines(r.output)) : splitLines(r.output).map(shape);
      const want = exact ? maskRun(b.lines) : b.lines.map(shape);
      expect(runAt(have, want), explain(b, r, have)).toBeGreaterThanOrEqual(0);
    }
  });

  it("Node: the model's run prints the same lines as the block, numbers and strings aside, with no host violation", () => {
    for (const b of blocks) {
      const r = nodeRuns.get(b.cmd);
      expect(r.code, `${b.doc}:${b.line}: "${b.cmd}" under Node exited ${r.code}\n${r.output}`).toBe(0);
      expect(r.violations, `${b.doc}:${b.line}`).toEqual([]);
      const have = splitLines(r.output).map(shape);
      const want = b.lines.map(shape);
      expect(
        runAt(have, want),
        `${b.doc}:${b.line} (command "${b.cmd}") by shape under Node\n--- block ---\n${want.join("\n")}\n--- Node ---\n${have.join("\n")}`,
      ).toBeGreaterThanOrEqual(0);
    }
  });
});
