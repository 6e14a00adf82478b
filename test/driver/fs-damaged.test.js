// fs.wasm against damaged disks under the Node host: every kind of damage the specification names
// (a FAT cycle, clusters past the end, free and bad clusters in a chain, bad BPBs, a long name with
// a wrong checksum, GPT headers and entry arrays with bad CRCs, overlapping and out-of-disk MBR
// partitions, an extended partition whose chain loops) gives its `error:` line, or the fallback the
// specification allows, and the next command still runs: no trap, no hang. Then seeded random damage
// to a volume's metadata: every command answers with a result or an error line.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { drive, expectClean } from "./helpers.js";
import { tempDir, errorLines, crcHex } from "../lib/disk-images.js";
import { hasTools, blankImage, tool, MiB } from "../lib/fat-images.js";
import { damageBase, damaged, FAT_CASES, MBR_CASES, expectedErrors, mbrDisk } from "../lib/fat-damage.js";

const tmp = tempDir("nvme-fs-damaged-");
let base;
beforeAll(() => {
  if (!hasTools()) throw new Error("sgdisk, sfdisk, mkfs.fat and mtools are needed (scripts/deps.sh installs them)");
  base = damageBase(tmp.dir);
}, 60_000);
afterAll(() => tmp.remove());

async function shell(img, commands) {
  const r = await drive({ disks: [img], cmd: [...commands, "poweroff"].join("; ") });
  expectClean(r);
  expect(r.reason, r.why).toBe("poweroff");
  expect(r.output, r.why).toContain("shutdown ctrl=nvme0 ok");
  return r;
}

describe("damaged FAT volumes", () => {
  FAT_CASES.forEach((c, i) => {
    it(`${c.name}: ${c.errors.length} error line(s), nothing else fails`, async () => {
      const img = damaged(base, tmp.path(`fat-${i}.img`), c.damage);
      const r = await shell(img, c.commands);
      expect(errorLines(r.output), r.why).toEqual(expectedErrors(c, readFileSync(img), base.base));
      for (const l of c.lines ?? []) expect(r.output.split("\n"), r.why).toContain(l);
      expect(r.code, r.why).toBe(1);
    });
  });

  it("the undamaged base volume reads cleanly (so each case's errors are its damage's)", async () => {
    const r = await shell(base.img, [
      "sum nvme0n1p1 /loop.bin",
      "ls nvme0n1p1 /sub",
      'ls nvme0n1p1 "/Long Name Here.txt"',
      "sum nvme0n1p1 /start.bin",
    ]);
    expect(errorLines(r.output), r.why).toEqual([]);
    expect(r.code).toBe(0);
  });

  // Random bytes over the BPB, the FATs and the root directory, with a seed; any answer but a trap,
  // a hang or a lost command is fine. The seed is in every failure message.
  it("seeded random damage to the metadata: every command gives its result or an error line", async () => {
    const commands = [
      "ls nvme0n1p1 /",
      "ls nvme0n1p1 /sub",
      "sum nvme0n1p1 /loop.bin",
      "cat nvme0n1p1 /ok.txt",
      "sum nvme0n1p1 /sub/inner.txt",
      'ls nvme0n1p1 "/Long Name Here.txt"',
    ];
    for (let seed = 1; seed <= 40; seed++) {
      const img = damaged(base, tmp.path(`random-${seed}.img`), (buf, v, at) => {
        let x = (seed * 2654435761) >>> 0 || 1;
        const rand = () => {
          x ^= x << 13;
          x >>>= 0;
          x ^= x >>> 17;
          x ^= x << 5;
          x >>>= 0;
          return x;
        };
        const span = v.rootOff + 16 * 32 - at; // BPB, reserved sectors, FATs, the first root entries
        for (let k = 0; k < 1 + (seed % 24); k++) {
          const o = at + (seed % 3 === 0 ? rand() % 64 : rand() % span);
          buf[o] = rand() & 0xff;
        }
      });
      // After each command a marker (a crc of LBA 0): the shell must reach every one.
      const r = await drive({
        disks: [img],
        cmd: [...commands.flatMap((c) => [c, "crc nvme0n1 0 1"]), "poweroff"].join("; "),
      });
      const why = `seed ${seed}: ${r.why}`;
      expect(r.reason, why).toBe("poweroff");
      expectClean(r);
      const pieces = r.output.split(/crc dev=nvme0n1 lba=0 count=1 crc32=0x[0-9a-f]{8}\n/);
      expect(pieces.length, why).toBe(commands.length + 1);
      commands.forEach((c, k) => {
        if (!c.startsWith("sum ")) return;
        const answers = pieces[k].split("\n").filter((l) => /^sum path=|^error: /.test(l));
        expect(answers.length, `${why}\ncommand ${c}`).toBe(1);
      });
    }
  }, 120_000);
});

describe("damaged partition tables", () => {
  MBR_CASES.forEach((c, i) => {
    it(`MBR: ${c.name} is an error line`, async () => {
      const img = mbrDisk(tmp.path(`mbr-${i}.img`), 16384, c.entries, c.ebrs);
      const r = await shell(img, ["parts nvme0n1", "crc nvme0n1p1 0 1", "crc nvme0n1 0 1"]);
      const errors = errorLines(r.output);
      expect(errors[0], r.why).toBe(c.error);
      expect(errors[1], r.why).toMatch(/^error: crc: unknown device "nvme0n1p1": /);
      expect(r.output, r.why).toMatch(/crc dev=nvme0n1 lba=0 count=1 crc32=0x[0-9a-f]{8}/);
    });
  });

  // sgdisk's disk: two partitions; the primary or backup header or array broken.
  function gptDisk(name) {
    const img = blankImage(tmp.path(name), 16 * MiB);
    execFileSync(tool("sgdisk"), ["-n", "1:2048:+4M", "-c", "1:one", "-n", "2:0:+4M", "-c", "2:two", img], {
      stdio: "pipe",
    });
    return img;
  }
  const LAST = (16 * MiB) / 512 - 1;
  const corrupt = (img, offset) => {
    const b = readFileSync(img);
    b[offset] ^= 0xff;
    writeFileSync(img, b);
  };
  const partLines = (out) => out.split("\n").filter((l) => l.startsWith("part "));

  it("GPT with a bad primary header CRC: the backup is used, with a note line saying why", async () => {
    const good = gptDisk("gpt-good.img");
    const img = tmp.path("gpt-hdr.img");
    copyFileSync(good, img);
    corrupt(img, 512 + 56); // a byte of the disk GUID: the header CRC no longer holds
    const r = await shell(img, ["parts nvme0n1"]);
    const want = partLines((await shell(good, ["parts nvme0n1"])).output);
    expect(want.length).toBe(2);
    expect(partLines(r.output), r.why).toEqual(want);
    expect(r.output, r.why).toContain(
      `note: nvme0n1: GPT primary header unusable (header CRC-32 does not match): using the backup at block ${LAST}`,
    );
    expect(r.code, r.why).toBe(0);
  });

  it("GPT with a bad primary entry array CRC: the backup's array is used, with a note line", async () => {
    const img = gptDisk("gpt-array.img");
    corrupt(img, 1024 + 56 + 2); // a byte of entry 1's name in the primary array
    const r = await shell(img, ["parts nvme0n1"]);
    expect(partLines(r.output).length, r.why).toBe(2);
    expect(r.output, r.why).toContain(
      "note: nvme0n1: GPT primary header unusable (partition entry array CRC-32 does not match): using the backup at block",
    );
  });

  it("GPT with both headers bad: an error line naming both, and partitions are unknown devices", async () => {
    const img = gptDisk("gpt-both.img");
    corrupt(img, 512 + 56);
    corrupt(img, LAST * 512 + 56);
    const r = await shell(img, ["parts nvme0n1", "ls nvme0n1p1 /"]);
    expect(errorLines(r.output), r.why).toEqual([
      "error: parts dev=nvme0n1: GPT unusable: primary header: header CRC-32 does not match; backup header: header CRC-32 does not match",
      'error: ls: unknown device "nvme0n1p1": GPT unusable: primary header: header CRC-32 does not match; backup header: header CRC-32 does not match',
    ]);
  });

  it("GPT with bad entry array CRCs in both copies: an error line", async () => {
    const img = gptDisk("gpt-arrays.img");
    corrupt(img, 1024 + 56 + 2);
    const b = readFileSync(img);
    const backupArray = Number(b.readBigUInt64LE(LAST * 512 + 72));
    corrupt(img, backupArray * 512 + 56 + 2);
    const r = await shell(img, ["parts nvme0n1"]);
    expect(errorLines(r.output), r.why).toEqual([
      "error: parts dev=nvme0n1: GPT unusable: primary header: partition entry array CRC-32 does not match; backup header: partition entry array CRC-32 does not match",
    ]);
  });

  it("a disk with no partition table: an error line", async () => {
    const img = blankImage(tmp.path("blank.img"), 4 * MiB);
    const r = await shell(img, ["parts nvme0n1"]);
    expect(errorLines(r.output), r.why).toEqual([
      "error: parts dev=nvme0n1: no partition table: no 55AA signature in the MBR at block 0",
    ]);
  });

  // Random bytes over the tables (MBR, both GPT headers and arrays, EBRs), with a seed: parts and a
  // partition's ls give lines or error lines, never a trap or a hang. The seed is in every message.
  it("seeded random damage to GPT and MBR tables: every command answers", async () => {
    const gpt = gptDisk("gpt-random-base.img");
    const mbr = mbrDisk(
      tmp.path("mbr-random-base.img"),
      16384,
      MBR_CASES[2].entries.map((e) => e),
      [
        {
          lba: 2048,
          list: [
            { type: 0x83, start: 63, size: 100 },
            { type: 0x05, start: 1024, size: 200 },
          ],
        },
        { lba: 3072, list: [{ type: 0x0c, start: 63, size: 100 }] },
      ],
    );
    for (const [name, source, spans] of [
      [
        "gpt",
        gpt,
        [
          [0, 34 * 512],
          [LAST * 512 - 32 * 512, (LAST + 1) * 512],
        ],
      ],
      [
        "mbr",
        mbr,
        [
          [446, 512],
          [2048 * 512 + 446, 2048 * 512 + 512],
          [3072 * 512 + 446, 3072 * 512 + 512],
        ],
      ],
    ]) {
      for (let seed = 1; seed <= 25; seed++) {
        const img = tmp.path(`${name}-random-${seed}.img`);
        copyFileSync(source, img);
        const b = readFileSync(img);
        let x = (seed * 40503 + 17) >>> 0;
        const rand = () => {
          x ^= x << 13;
          x >>>= 0;
          x ^= x >>> 17;
          x ^= x << 5;
          x >>>= 0;
          return x;
        };
        for (let k = 0; k < 1 + (seed % 6); k++) {
          const [lo, hi] = spans[rand() % spans.length];
          b[lo + (rand() % (hi - lo))] = rand() & 0xff;
        }
        writeFileSync(img, b);
        const r = await drive({
          disks: [img],
          cmd: "parts nvme0n1; crc nvme0n1 0 1; ls nvme0n1p1 /; crc nvme0n1 0 1; crc nvme0n1p5 0 1; crc nvme0n1 0 1; poweroff",
        });
        const why = `${name} seed ${seed}: ${r.why}`;
        expect(r.reason, why).toBe("poweroff");
        expectClean(r);
        expect(r.output.match(/crc dev=nvme0n1 lba=0 count=1 crc32=/g)?.length, why).toBe(3);
      }
    }
  }, 120_000);
});

describe("a disk that fails reads", () => {
  it("media errors on every read: parts and ls are error lines with the block and the status; the shell goes on", async () => {
    const img = damaged(base, tmp.path("media.img"), () => {});
    const r = await drive({
      profile: "qemu",
      seed: 6,
      faults: { errorRate: 1 },
      disks: [img],
      cmd: "parts nvme0n1; ls nvme0n1p1 /; help; poweroff",
    });
    expect(r.reason, r.why).toBe("poweroff");
    expect(errorLines(r.output), r.why).toEqual([
      "error: parts dev=nvme0n1: read of block 0 failed: status 0x281",
      'error: ls: unknown device "nvme0n1p1": read of block 0 failed: status 0x281',
    ]);
    expect(r.output, r.why).toContain("commands:");
  });

  it("seeded media errors (10% of commands, retried by the driver): every command answers, the files read right or fail in words", async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = await drive({
        profile: "strict",
        seed,
        faults: { errorRate: 0.1 },
        disks: [base.img],
        cmd: "sum nvme0n1p1 /loop.bin; crc nvme0n1 0 1; ls nvme0n1p1 /sub; crc nvme0n1 0 1; cat nvme0n1p1 /ok.txt; crc nvme0n1 0 1; poweroff",
      });
      const why = `seed ${seed}: ${r.why}`;
      expect(r.reason, why).toBe("poweroff");
      expect(r.violations, why).toEqual([]);
      const sums = r.output.split("\n").filter((l) => l.startsWith("sum path="));
      for (const l of sums) expect(l, why).toBe("sum path=/loop.bin bytes=6000 crc32=" + crc6000("l"));
      expect(
        r.output.match(/^(crc dev=nvme0n1 lba=0 count=1 crc32=|error: crc dev=nvme0n1 lba=0 count=1)/gm)?.length,
        why,
      ).toBe(3);
    }
  }, 60_000);
});

function crc6000(ch) {
  return crcHex(Buffer.alloc(6000, ch.charCodeAt(0)));
}
