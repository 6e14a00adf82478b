// fs.wasm on bare metal: the kernel (build/kernel.elf, fs.wasm translated by wasm2c and linked by
// boot/host.c) boots in QEMU with disks made by Debian's tools, and parts, ls and sum must report
// what sfdisk, mdir and mtype report, and print the same lines as the Node host does.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync } from "node:fs";
import { bootQemu, hasQemu, KERNEL } from "./helpers.js";
import { runSim } from "../../host/sim.js";
import { tempDir, errorLines, crcHex, patternBytes } from "../lib/disk-images.js";
import { hasTools, gptImage, mbrImage, mdirTree, mtype, crcHexOf, sfdiskPartitions } from "../lib/fat-images.js";
import { damageBase, damaged, FAT_CASES, MBR_CASES, expectedErrors, mbrDisk } from "../lib/fat-damage.js";
import { readFileSync, copyFileSync } from "node:fs";

const enabled = hasQemu() || !!process.env.CI;

function explain(r) {
  return `QEMU exit ${r.code} after ${r.ms} ms\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;
}

const shown = (p) => (/[ "\\]/.test(p) ? `"${p.replace(/[\\"]/g, (c) => "\\" + c)}"` : p);
// The result lines (the prompt's echo of a typed command is not one).
const fsLines = (lines) => lines.filter((l) => /^(part name|file path|dir path|sum path)=|^error: /.test(l));

describe.skipIf(!enabled)("fs.wasm in QEMU", () => {
  let tmp, gpt, mbr;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    if (!hasTools()) throw new Error("sgdisk, sfdisk, mkfs.fat and mtools are needed (scripts/deps.sh installs them)");
    tmp = tempDir("nvme-qemu-fs-");
    gpt = gptImage(tmp.dir);
    mbr = mbrImage(tmp.dir);
  }, 120_000);
  afterAll(() => tmp?.remove());

  // Every directory listed and every file summed, on every volume of the disk: commands typed at the
  // prompt (a script console), since they are longer than a boot command line.
  function script(d) {
    const commands = ["parts nvme0n1"];
    const want = [];
    for (const n of d.volumes) {
      const part = d.parts.find((p) => p.number === n);
      const offset = part.start * 512;
      const tree = mdirTree(d.img, offset);
      for (const dir of ["/", ...tree.filter((e) => e.dir).map((e) => e.path)])
        commands.push(`ls nvme0n1p${n} "${dir}"`);
      for (const e of tree) {
        if (e.dir) want.push(`dir path=${shown(e.path)}`);
        else want.push(`file path=${shown(e.path)} bytes=${mtype(d.img, offset, e.path).length}`);
      }
      for (const f of tree.filter((e) => !e.dir)) {
        const bytes = mtype(d.img, offset, f.path);
        commands.push(`sum nvme0n1p${n} "${f.path}"`);
        want.push(`sum path=${shown(f.path)} bytes=${bytes.length} crc32=${crcHexOf(bytes)}`);
      }
    }
    return { commands, want };
  }

  for (const [scheme, which] of [
    ["GPT", () => gpt],
    ["MBR", () => mbr],
  ]) {
    it(`${scheme}: parts, ls of every directory and sum of every file as the tools report them, and as the Node host prints them`, async () => {
      const d = which();
      const { commands, want } = script(d);
      const input = commands.map((c) => c + "\r").join("") + "poweroff\r";
      const r = await bootQemu({ disks: [{ path: d.img }], input, timeoutMs: 180_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(errorLines(r.output), explain(r)).toEqual([]);
      const got = fsLines(r.lines.map((l) => l.replace(/^nvme> /, "")));
      const parts = sfdiskPartitions(d.img).filter((p) => p.type !== "5");
      expect(
        got
          .filter((l) => l.startsWith("part "))
          .map((l) => /name=(\S+) start_lba=(\d+) blocks=(\d+)/.exec(l).slice(1).join(" ")),
        explain(r),
      ).toEqual(parts.map((p) => `nvme0n1p${p.number} ${p.start} ${p.size}`));
      const rest = got.filter((l) => !l.startsWith("part "));
      expect([...rest].sort(), explain(r)).toEqual([...want].sort());
      const sim = await runSim({ disks: [d.img], input: Buffer.from(input), seed: 1 });
      expect(fsLines(sim.output.split("\n").map((l) => l.replace(/^nvme> /, ""))), sim.output).toEqual(got);
    }, 240_000);
  }

  // Damaged disks, one controller each (nvme0n1 of a case becomes nvmeKn1): the same error lines
  // as under Node (test/driver/fs-damaged.test.js), and every command reached.
  it("damaged disks: a FAT cycle, a directory cycle, clusters past the end, bad BPBs, an EBR loop, overlapping partitions", async () => {
    const base = damageBase(tmp.dir);
    const fat = FAT_CASES.filter((c) => /cycle|past the end|bytes per sector|wrong checksum/.test(c.name));
    const mbrCases = MBR_CASES.filter((c) => /loops|overlapping/.test(c.name));
    const disks = [];
    const commands = [];
    const want = [];
    fat.forEach((c, k) => {
      const img = damaged(base, tmp.path(`q-fat-${k}.img`), c.damage);
      disks.push({ path: img });
      commands.push(...c.commands.map((x) => x.replace("nvme0n1", `nvme${k}n1`)));
      want.push(...expectedErrors(c, readFileSync(img), base.base).map((x) => x.replace("nvme0n1", `nvme${k}n1`)));
    });
    mbrCases.forEach((c, i) => {
      const k = fat.length + i;
      disks.push({ path: mbrDisk(tmp.path(`q-mbr-${i}.img`), 16384, c.entries, c.ebrs) });
      commands.push(`parts nvme${k}n1`);
      want.push(c.error.replace("nvme0n1", `nvme${k}n1`));
    });
    const r = await bootQemu({ disks, cmd: [...commands, "poweroff"].join("; "), timeoutMs: 120_000 });
    expect(r.code, explain(r)).toBe(1);
    expect(errorLines(r.output), explain(r)).toEqual(want);
    expect(r.output, explain(r)).toContain("poweroff code=1");
  }, 180_000);

  // Block commands on a partition: LBAs from its start, its end the limit, the pattern at partition
  // offsets, neighbours untouched (checked in the image after QEMU exits).
  it("block commands on a GPT partition: crc as the image says, fill inside it only, a range past its end refused", async () => {
    const img = tmp.path("q-blocks.img");
    copyFileSync(gpt.img, img);
    const before = readFileSync(img);
    const p = gpt.parts.find((x) => x.number === 4);
    const q = gpt.parts.find((x) => x.number === 2);
    const r = await bootQemu({
      disks: [{ path: img }],
      cmd: `crc nvme0n1p2 0 ${q.size}; fill nvme0n1p4 0 ${p.size} 5; verify nvme0n1p4 0 ${p.size} 5; crc nvme0n1p4 ${p.size} 1; poweroff`,
    });
    expect(r.code, explain(r)).toBe(1);
    expect(r.lines, explain(r)).toContain(
      `crc dev=nvme0n1p2 lba=0 count=${q.size} crc32=${crcHex(before.subarray(q.start * 512, (q.start + q.size) * 512))}`,
    );
    expect(r.lines, explain(r)).toContain(`verify dev=nvme0n1p4 lba=0 count=${p.size} seed=5 ok`);
    expect(errorLines(r.output), explain(r)).toEqual([
      `error: crc dev=nvme0n1p4 lba=${p.size} count=1: range past the end of the partition (blocks=${p.size})`,
    ]);
    const after = readFileSync(img);
    const start = p.start * 512,
      end = (p.start + p.size) * 512;
    expect(after.subarray(start, end).equals(patternBytes(5, 0, end - start))).toBe(true);
    expect(after.subarray(0, start).equals(before.subarray(0, start))).toBe(true);
    expect(after.subarray(end).equals(before.subarray(end))).toBe(true);
  }, 120_000);
});
