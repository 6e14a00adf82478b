// fs.wasm under the Node host: partition tables and FAT volumes made by Debian's own tools (sgdisk,
// sfdisk, mkfs.fat, mtools), and the shell's parts, ls, cat and sum compared with what those tools
// report: sfdisk's partitions, mdir's tree, mtype's bytes (their CRC-32 from node:zlib). Also the
// block commands on a partition: LBAs from its start, bounded by its end.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { drive, expectClean } from "./helpers.js";
import { tempDir, readImage, parseLine, linesOf, errorLines, patternBytes, crcHex } from "../lib/disk-images.js";
import {
  hasTools,
  gptImage,
  mbrImage,
  mdirTree,
  mtype,
  mtools,
  tool,
  crcHexOf,
  sfdiskPartitions,
} from "../lib/fat-images.js";

const tmp = tempDir("nvme-fs-");
let gpt, mbr;
beforeAll(() => {
  if (!hasTools())
    throw new Error(
      "sgdisk, sfdisk, mkfs.fat and mtools are needed (scripts/deps.sh installs gdisk, fdisk, dosfstools, mtools)",
    );
  gpt = gptImage(tmp.dir);
  mbr = mbrImage(tmp.dir);
}, 120_000);
afterAll(() => tmp.remove());

// Runs the shell's commands on the image; the run must be clean from the device's side.
async function shell(img, commands) {
  const cmd = [...commands, "poweroff"].join("; ");
  expect(cmd.length).toBeLessThan(4096);
  const r = await drive({ disks: [img], cmd });
  expectClean(r);
  return r;
}

// A path as the shell prints it: quoted when it holds a blank (docs/shell.md).
const shown = (p) => (/[ "\\]/.test(p) ? `"${p.replace(/[\\"]/g, (c) => "\\" + c)}"` : p);
const quoted = (p) => `"${p}"`;

function expectedTree(img, part) {
  const offset = part.start * 512;
  return mdirTree(img, offset).map((e) => ({ ...e, bytes: e.dir ? null : mtype(img, offset, e.path).length }));
}

function lsLines(output) {
  return output
    .split("\n")
    .filter((l) => l.startsWith("file path=") || l.startsWith("dir path="))
    .map((l) => {
      const m = /^(file|dir) path=("(?:[^"\\]|\\.)*"|\S+)(?: bytes=(\d+))?$/.exec(l);
      expect(m, l).not.toBeNull();
      const path = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, "$1") : m[2];
      return { path, dir: m[1] === "dir", bytes: m[3] === undefined ? null : Number(m[3]) };
    });
}

describe("partition tables", () => {
  it("parts lists a GPT disk's partitions as sfdisk reports them: numbers, extents, type GUIDs, labels", async () => {
    const r = await shell(gpt.img, ["parts nvme0n1"]);
    expect(r.code, r.why).toBe(0);
    const got = r.output.split("\n").filter((l) => l.startsWith("part "));
    const want = sfdiskPartitions(gpt.img).map(
      (p) =>
        `part name=nvme0n1p${p.number} start_lba=${p.start} blocks=${p.size} type=${p.type.toLowerCase()} label="${(p.name ?? "").replace(/"/g, '\\"')}"`,
    );
    expect(got, r.why).toEqual(want);
    expect(got[1]).toContain('label="EFI \\"boot\\""');
  });

  it("parts lists an MBR disk's primaries and logical partitions (from 5), not the extended one", async () => {
    const r = await shell(mbr.img, ["parts nvme0n1"]);
    expect(r.code, r.why).toBe(0);
    const got = r.output.split("\n").filter((l) => l.startsWith("part "));
    const want = sfdiskPartitions(mbr.img)
      .filter((p) => p.type !== "5")
      .map(
        (p) =>
          `part name=nvme0n1p${p.number} start_lba=${p.start} blocks=${p.size} type=0x${p.type.padStart(2, "0")} label=""`,
      );
    expect(got, r.why).toEqual(want);
    expect(got.map((l) => parseLine(l).fields.name)).toEqual(["nvme0n1p1", "nvme0n1p5", "nvme0n1p6"]);
  });

  it("parts of a partition, of an unknown device, or with no arguments is an error line", async () => {
    const r = await shell(gpt.img, [
      "parts nvme0n1p1",
      "parts nvme0n2",
      "parts",
      "parts nvme0n1p0",
      "parts nvme0n1p01",
    ]);
    expect(errorLines(r.output), r.why).toEqual([
      'error: parts: not a namespace: "nvme0n1p1"',
      'error: parts: unknown device "nvme0n2"',
      "error: parts: usage: parts DEV",
      'error: parts: unknown device "nvme0n1p0"',
      'error: parts: unknown device "nvme0n1p01"',
    ]);
    expect(r.code).toBe(1);
  });
});

describe("FAT12, FAT16 and FAT32, read-only", () => {
  for (const [scheme, which] of [
    ["GPT", () => gpt],
    ["MBR", () => mbr],
  ]) {
    it(`${scheme}: ls of every directory of every volume lists what mdir lists, sizes as mtype reads them`, async () => {
      const d = which();
      for (const n of d.volumes) {
        const part = d.parts.find((p) => p.number === n);
        const tree = expectedTree(d.img, part);
        const dirs = ["/", ...tree.filter((e) => e.dir).map((e) => e.path)];
        const r = await shell(
          d.img,
          dirs.map((p) => `ls nvme0n1p${n} ${quoted(p)}`),
        );
        expect(r.code, r.why).toBe(0);
        const got = lsLines(r.output);
        expect(got.length, r.why).toBe(tree.length);
        expect(new Set(got.map((e) => JSON.stringify(e))), r.why).toEqual(new Set(tree.map((e) => JSON.stringify(e))));
      }
    }, 60_000);

    it(`${scheme}: sum of every file is zlib's CRC-32 of the bytes mtype prints (empty, fragmented and many-cluster files included)`, async () => {
      const d = which();
      for (const n of d.volumes) {
        const part = d.parts.find((p) => p.number === n);
        const files = expectedTree(d.img, part).filter((e) => !e.dir);
        const r = await shell(
          d.img,
          files.map((f) => `sum nvme0n1p${n} ${quoted(f.path)}`),
        );
        expect(r.code, r.why).toBe(0);
        const got = r.output.split("\n").filter((l) => l.startsWith("sum "));
        const want = files.map((f) => {
          const bytes = mtype(d.img, part.start * 512, f.path);
          return `sum path=${shown(f.path)} bytes=${bytes.length} crc32=${crcHexOf(bytes)}`;
        });
        expect(got, r.why).toEqual(want);
      }
    }, 60_000);
  }

  it("cat prints a file's bytes exactly; an empty file prints nothing", async () => {
    const r = await shell(gpt.img, [
      "cat nvme0n1p3 /readme.txt",
      "cat nvme0n1p3 /empty",
      "cat nvme0n1p2 /docs/deep/er/bottom.txt",
      'cat nvme0n1p1 "/My Documents/Notes 2026 - final (v2).md"',
    ]);
    expect(r.code, r.why).toBe(0);
    expect(r.output, r.why).toContain("hello from the fs module\nthree levels down\n# notes\n");
  });

  it("names match without ASCII case, by their long name or their 8.3 alias; a file as ls's PATH is one line", async () => {
    const r = await shell(gpt.img, [
      "ls nvme0n1p1 /README.TXT",
      "ls nvme0n1p1 /upper.txt",
      'ls nvme0n1p1 "/my documents"',
      "ls nvme0n1p1 /MYDOCU~1",
      "ls nvme0n1p1 //docs//deep/",
      "ls nvme0n1p1 docs/deep/er/BOTTOM.TXT",
    ]);
    expect(r.code, r.why).toBe(0);
    expect(
      r.output.split("\n").filter((l) => /^(file|dir) /.test(l)),
      r.why,
    ).toEqual([
      "file path=/README.TXT bytes=25",
      "file path=/upper.txt bytes=20",
      'file path="/my documents/Notes 2026 - final (v2).md" bytes=8',
      'file path="/MYDOCU~1/Notes 2026 - final (v2).md" bytes=8',
      "dir path=//docs//deep/er",
      "file path=/docs/deep/er/BOTTOM.TXT bytes=18",
    ]);
  });

  it("a missing path, a file as a directory, a directory to cat, or a partition without FAT is an error line naming it", async () => {
    const r = await shell(gpt.img, [
      "ls nvme0n1p1 /nope",
      "ls nvme0n1p1 /readme.txt/x",
      "cat nvme0n1p1 /docs",
      "sum nvme0n1p4 /x",
      "ls nvme0n1p9 /",
      "ls nvme0n1p1",
      'ls nvme0n1p1 "/unclosed',
    ]);
    expect(errorLines(r.output), r.why).toEqual([
      "error: ls dev=nvme0n1p1 path=/nope: no such file or directory",
      "error: ls dev=nvme0n1p1 path=/readme.txt/x: not a directory",
      "error: cat dev=nvme0n1p1 path=/docs: is a directory",
      "error: sum dev=nvme0n1p4 path=/x: not a FAT filesystem: no boot jump or no 55AA signature in its first sector",
      'error: ls: unknown device "nvme0n1p9": no partition 9',
      "error: ls: usage: ls DEV PATH",
      "error: shell: a double quote is not closed (or not followed by a blank)",
    ]);
  });
});

describe("block commands on a partition", () => {
  it("crc and read count LBAs from the partition's start; the partition's last block is the last one allowed", async () => {
    const p = gpt.parts[1];
    const r = await shell(gpt.img, [
      `crc nvme0n1p2 0 ${p.size}`,
      `crc nvme0n1p2 ${p.size - 1} 1`,
      `crc nvme0n1p2 ${p.size - 1} 2`,
      `crc nvme0n1p2 ${p.size} 1`,
    ]);
    const image = readImage(gpt.img);
    const bytes = (lba, n) => image.subarray((p.start + lba) * 512, (p.start + lba + n) * 512);
    expect(
      linesOf(r.output, "crc").map((l) => l.text),
      r.why,
    ).toEqual([
      `crc dev=nvme0n1p2 lba=0 count=${p.size} crc32=${crcHex(bytes(0, p.size))}`,
      `crc dev=nvme0n1p2 lba=${p.size - 1} count=1 crc32=${crcHex(bytes(p.size - 1, 1))}`,
    ]);
    expect(errorLines(r.output), r.why).toEqual([
      `error: crc dev=nvme0n1p2 lba=${p.size - 1} count=2: range past the end of the partition (blocks=${p.size})`,
      `error: crc dev=nvme0n1p2 lba=${p.size} count=1: range past the end of the partition (blocks=${p.size})`,
    ]);
  });

  it("fill and verify write the pattern at partition offsets and never touch a neighbour; iochk, bench, trim and zero stay inside too", async () => {
    const img = `${tmp.dir}/gpt-fill.img`;
    const before = readImage(gpt.img);
    writeFileSync(img, before);
    const p = gpt.parts[3]; // p4: 2048 blocks, no filesystem
    const start = p.start * 512;
    const end = (p.start + p.size) * 512;
    const neighboursKept = (after) => {
      expect(after.subarray(0, start).equals(before.subarray(0, start))).toBe(true);
      expect(after.subarray(end).equals(before.subarray(end))).toBe(true);
    };
    let r = await shell(img, [
      `fill nvme0n1p4 0 ${p.size} 7`,
      `verify nvme0n1p4 0 ${p.size} 7`,
      `fill nvme0n1p4 ${p.size - 8} 9 7`,
    ]);
    expect(r.output, r.why).toContain(`fill dev=nvme0n1p4 lba=0 count=${p.size} seed=7 ok`);
    expect(r.output, r.why).toContain(`verify dev=nvme0n1p4 lba=0 count=${p.size} seed=7 ok`);
    expect(errorLines(r.output), r.why).toEqual([
      `error: fill dev=nvme0n1p4 lba=${p.size - 8} count=9: range past the end of the partition (blocks=${p.size})`,
    ]);
    let after = readImage(img);
    expect(
      after.subarray(start, end).equals(patternBytes(7, 0, end - start)),
      "the pattern counts offsets from the partition's start",
    ).toBe(true);
    neighboursKept(after);
    r = await shell(img, [
      "iochk nvme0n1p4 300 5 4",
      "bench nvme0n1p4 write 8 4 200",
      "trim nvme0n1p4 100 8",
      "zero nvme0n1p4 0 16",
      "read nvme0n1p4 16 1",
    ]);
    expect(r.code, r.why).toBe(0);
    expect(r.output, r.why).toMatch(/bench dev=nvme0n1p4 op=write block_bytes=4096 qd=4 ios=200 /);
    expect(r.output, r.why).toContain("trim dev=nvme0n1p4 lba=100 count=8 ok");
    expect(r.output, r.why).toMatch(/\n00002000  /); // read's offsets count from the partition's start
    expect(r.output, r.why).toMatch(/iochk dev=nvme0n1p4 ios=300 seed=5 qd=4 tracked_blocks=2048 .* ok/);
    after = readImage(img);
    expect(after.subarray(start, start + 16 * 512).equals(Buffer.alloc(16 * 512))).toBe(true);
    neighboursKept(after);
  }, 60_000);

  it("a command on the whole namespace right after one on a partition counts from block 0 again (read, crc, fill)", async () => {
    const img = `${tmp.dir}/gpt-after.img`;
    const before = readImage(gpt.img);
    writeFileSync(img, before);
    const p = gpt.parts[1];
    const r = await shell(img, [
      "ls nvme0n1p1 /",
      "crc nvme0n1 0 8",
      `crc nvme0n1p2 0 8`,
      "read nvme0n1 1 1",
      "ls nvme0n1p9 /",
      "crc nvme0n1 34 4",
      "crc nvme0n1p2 0 1",
      "fill nvme0n1 40 2 5",
    ]);
    expect(r.code, r.why).not.toBe(null);
    const at = (lba, n) => before.subarray(lba * 512, (lba + n) * 512);
    expect(
      linesOf(r.output, "crc").map((l) => l.text),
      r.why,
    ).toEqual([
      `crc dev=nvme0n1 lba=0 count=8 crc32=${crcHex(at(0, 8))}`,
      `crc dev=nvme0n1p2 lba=0 count=8 crc32=${crcHex(at(p.start, 8))}`,
      `crc dev=nvme0n1 lba=34 count=4 crc32=${crcHex(at(34, 4))}`,
      `crc dev=nvme0n1p2 lba=0 count=1 crc32=${crcHex(at(p.start, 1))}`,
    ]);
    // LBA 1 of the namespace is the GPT header, "EFI PART" at byte offset 0x200
    expect(r.output, r.why).toMatch(/\n00000200  45 46 49 20 50 41 52 54 /);
    const after = readImage(img);
    expect(after.subarray(40 * 512, 42 * 512).equals(patternBytes(5, 40 * 512, 2 * 512)), r.why).toBe(true);
    expect(after.subarray(p.start * 512).equals(before.subarray(p.start * 512)), r.why).toBe(true);
  });

  it("a block command on a partition that is not there says why", async () => {
    const r = await shell(gpt.img, ["crc nvme0n1p5 0 1", "read nvme0n1p0 0 1", "flush nvme0n1p1"]);
    expect(errorLines(r.output), r.why).toEqual([
      'error: crc: unknown device "nvme0n1p5": no partition 5',
      'error: read: unknown device "nvme0n1p0"',
    ]);
    expect(r.output).toContain("flush dev=nvme0n1p1 ok");
  });
});

describe("at the prompt (console=tty)", () => {
  const TAB = "\t",
    CTRL_U = "\x15",
    CTRL_C = "\x03";

  it("Tab completes partition names from the disk's table, and lists them", async () => {
    const r = await drive({
      disks: [gpt.img],
      cmd: "console=tty",
      input: `ls nvme0n1p3${TAB}/${TAB}${CTRL_U}crc nvme0n1${TAB}${TAB}${CTRL_U}poweroff\r`,
    });
    expectClean(r);
    expect(r.output, r.why).toContain("nvme> ls nvme0n1p3 ");
    expect(r.output, r.why).toContain("nvme0n1  nvme0n1p1  nvme0n1p2  nvme0n1p3  nvme0n1p4\n");
    expect(r.code, r.why).toBe(0);
  });

  it("Ctrl-C stops sum and cat between reads: one line says where, every request of both modules completed once", async () => {
    const slow = { faults: { slowRate: 1, slowNs: 2_000_000 } };
    const r = await drive({
      ...slow,
      disks: [gpt.img],
      cmd: "console=tty",
      input: `sum nvme0n1p3 /docs/many-clusters.bin\r${CTRL_C}cat nvme0n1p1 /fragmented.bin\r${CTRL_C}stats\rpoweroff\r`,
    });
    expect(r.code, r.why).toBe(0);
    const sum = r.output.split("\n").find((l) => l.startsWith("sum path="));
    const m = /^sum path=\/docs\/many-clusters.bin stopped at byte=(\d+) \(Ctrl-C\)$/.exec(sum ?? "");
    expect(m, r.why).not.toBe(null);
    expect(Number(m[1]) < 300_000, r.why).toBe(true);
    expect(r.output, r.why).toMatch(/\ncat path=\/fragmented.bin stopped at byte=\d+ \(Ctrl-C\)\n/);
    expect(
      r.output.split("\n").filter((l) => l.startsWith("stats ctrl=")),
      r.why,
    ).toHaveLength(1);
    for (const client of r.machine.link.clients) {
      expect(client.inFlight, r.why).toBe(0);
      expect(client.done, r.why).toEqual([]);
    }
    expect(r.machine.link.clients).toHaveLength(2); // the shell and fs.wasm
    expectClean(r);
  });
});

describe("a FAT volume without a partition table, on 4096-byte blocks", () => {
  it("ls, sum and cat on the namespace itself, with 4 KiB sectors and blocks", async () => {
    const img = `${tmp.dir}/superfloppy-4k.img`;
    (await import("../lib/fat-images.js")).blankImage(img, 64 << 20);
    execFileSync(tool("mkfs.fat"), ["-F", "16", "-S", "4096", "-s", "1", img], { stdio: "pipe" });
    const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) & 0xff));
    writeFileSync(`${tmp.dir}/data.bin`, data);
    writeFileSync(`${tmp.dir}/h.txt`, "hi\n");
    mtools("mcopy", img, 0, `${tmp.dir}/data.bin`, "::/Random Data.bin");
    mtools("mmd", img, 0, "::/d");
    mtools("mcopy", img, 0, `${tmp.dir}/h.txt`, "::/d/h.txt");
    const r = await drive({
      disks: [`${img},lba=4096`],
      cmd: 'ls nvme0n1 /; sum nvme0n1 "/random data.bin"; cat nvme0n1 /d/h.txt; parts nvme0n1; poweroff',
    });
    expectClean(r);
    expect(errorLines(r.output), r.why).toEqual([
      "error: parts dev=nvme0n1: no partition table: block 0 is a FAT boot sector (a filesystem without a table: name the namespace itself)",
    ]);
    expect(r.output, r.why).toContain("nvme0n1 nsid=1 lba_bytes=4096");
    expect(
      r.output.split("\n").filter((l) => /^(file|dir|sum) /.test(l)),
      r.why,
    ).toEqual([
      'file path="/Random Data.bin" bytes=100000',
      "dir path=/d",
      `sum path="/random data.bin" bytes=100000 crc32=${crcHexOf(mtype(img, 0, "/Random Data.bin"))}`,
    ]);
    expect(r.output, r.why).toContain("\nhi\n");
  });
});
