// iochk (docs/shell.md) against the controller model: the summary line and the image afterwards
// are computed here from iochk's definition (test/lib/iochk.js replays the seed), never taken from
// the shell. Clean runs on several profiles, replays, injected faults (never `ok` when a request
// failed), a medium changed behind the driver's back (a mismatch naming the block), refused
// arguments, progress at the prompt only. Every failure message starts with a `replay:` line.
import { describe, it, expect, afterAll } from "vitest";
import { drive, expectClean, describeRun } from "./helpers.js";
import { MemoryDisk } from "../../host/disk.js";
import { tempDir, writeImage, readImage, noiseBytes, linesOf, errorLines } from "../lib/disk-images.js";
import { iochkReplay, iochkLine, imageDiff, genBytes, IOCHK_TRACK_BLOCKS_MAX } from "../lib/iochk.js";

const MiB = 1 << 20;
const tmp = tempDir("nvme-iochk-");
afterAll(() => tmp.remove());
let n = 0;
function image(bytes) {
  return writeImage(tmp.path(`img${n++}.raw`), bytes);
}
const iochkLines = (out) => linesOf(out, "iochk").map((l) => l.text);
const ioCommands = (r) => {
  const s = r.machine.controllers[0].stats;
  return s.readCommands + s.writeCommands;
};

// A memory disk that lets a test change the medium behind the driver's back: `onWrite(offset,
// bytes, disk)` runs for each write the controller makes and returns the bytes to store.
class TamperDisk extends MemoryDisk {
  constructor(size, onWrite) {
    super(size);
    this.onWrite = onWrite;
  }
  write(offset, bytes) {
    super.write(offset, this.onWrite(BigInt(offset), bytes, this) ?? bytes);
  }
}

describe("iochk: clean runs", () => {
  for (const [profile, seed, ios, qd] of [
    ["qemu", 7, 1500, 8],
    ["strict", 11, 800, 16],
    ["tiny", 3, 400, 4],
    ["legacy", 5, 400, 32],
  ]) {
    it(`${profile}: the line replays from the seed and the image holds every block's last generation (seed ${seed}, qd ${qd})`, async () => {
      const before = noiseBytes(8 * MiB, seed);
      const path = image(before);
      const r = await drive({ profile, seed, disks: [path], cmd: `iochk nvme0n1 ${ios} ${seed} ${qd}; poweroff` });
      const replay = iochkReplay({ seed, ios, blocks: (8 * MiB) / 512 });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      expect(iochkLines(r.output), r.why).toEqual([iochkLine({ ios, seed, qd, replay })]);
      expect(imageDiff({ image: readImage(path), before, seed, replay }), r.why).toBe(null);
    });
  }

  it("4096-byte blocks: requests of at most 64 blocks, the image as the generations say", async () => {
    const before = noiseBytes(8 * MiB, 4);
    const path = image(before);
    const r = await drive({
      profile: "strict",
      seed: 4,
      disks: [`${path},lba=4096`],
      cmd: "iochk nvme0n1 600 44; poweroff",
    });
    const replay = iochkReplay({ seed: 44, ios: 600, blocks: (8 * MiB) / 4096, lbaBytes: 4096 });
    expect(replay.maxBlocks).toBe(64);
    expect(r.code, r.why).toBe(0);
    expect(iochkLines(r.output), r.why).toEqual([iochkLine({ ios: 600, seed: 44, replay })]);
    expect(imageDiff({ image: readImage(path), before, seed: 44, replay, lbaBytes: 4096 }), r.why).toBe(null);
  });

  it("generations wrap from 255 to 1: a namespace of 8 blocks, each written hundreds of times", async () => {
    const before = noiseBytes(4096, 6);
    const path = image(before);
    const r = await drive({ profile: "strict", seed: 6, disks: [path], cmd: "iochk nvme0n1 3000 606 32; poweroff" });
    const replay = iochkReplay({ seed: 606, ios: 3000, blocks: 8 });
    expect(Math.min(...replay.writesOf)).toBeGreaterThan(255);
    expect(r.code, r.why).toBe(0);
    expect(iochkLines(r.output), r.why).toEqual([iochkLine({ ios: 3000, seed: 606, qd: 32, replay })]);
    expect(imageDiff({ image: readImage(path), before, seed: 606, replay }), r.why).toBe(null);
  });

  it("replay: the same seed gives the same line on any profile, machine seed or queue depth", async () => {
    const runs = [];
    for (const [profile, seed, qd] of [
      ["qemu", 1, 1],
      ["qemu", 2, 8],
      ["strict", 3, 32],
      ["tiny", 4, 8],
    ]) {
      const r = await drive({
        profile,
        seed,
        disks: ["mem:4M"],
        cmd: `iochk nvme0n1 500 1234 ${qd}; iochk nvme0n1 500 1234 ${qd}; poweroff`,
      });
      expect(r.code, r.why).toBe(0);
      const got = iochkLines(r.output);
      expect(got, r.why).toHaveLength(2);
      expect(got[1], r.why).toBe(got[0]);
      runs.push(got[0].replace(/ qd=\d+ /, " qd=Q "));
    }
    expect(new Set(runs).size, runs.join("\n")).toBe(1);
    const replay = iochkReplay({ seed: 1234, ios: 500, blocks: (4 * MiB) / 512 });
    expect(runs[0]).toBe(iochkLine({ ios: 500, seed: 1234, replay }).replace(/ qd=\d+ /, " qd=Q "));
  });

  it("a namespace larger than the tracked range: only its first 512 Ki blocks are used", async () => {
    const blocks = IOCHK_TRACK_BLOCKS_MAX + 4096;
    const disk = new MemoryDisk(blocks * 512);
    const opts = {
      seed: 2,
      disks: [{ disk, lbaBytes: 512, spec: `mem:${blocks * 512} (MemoryDisk)` }],
      cmd: "iochk nvme0n1 300 9; poweroff",
    };
    const r = await drive(opts);
    const replay = iochkReplay({ seed: 9, ios: 300, blocks });
    expect(replay.tracked).toBe(IOCHK_TRACK_BLOCKS_MAX);
    expect(r.code, r.why).toBe(0);
    expect(iochkLines(r.output), r.why).toEqual([iochkLine({ ios: 300, seed: 9, replay })]);
    expect(
      disk.bytes.subarray(IOCHK_TRACK_BLOCKS_MAX * 512).every((b) => b === 0),
      r.why,
    ).toBe(true);
    // A sample of the written blocks (checking all 256 MiB here would take minutes).
    const written = [];
    for (let b = 0; b < replay.tracked; b += 97) if (replay.gens[b] !== 0) written.push(b);
    expect(written.length).toBeGreaterThan(200);
    for (const b of written) {
      expect(
        Buffer.from(disk.bytes.subarray(b * 512, b * 512 + 512)).equals(genBytes(9, replay.gens[b], b * 512, 512)),
        `block ${b}\n${r.why}`,
      ).toBe(true);
    }
  });
});

describe("iochk: failures", () => {
  it("media errors that outlast the retries: an error line in words, never ok", async () => {
    let failed = 0,
      clean = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const before = noiseBytes(4 * MiB, seed);
      const path = image(before);
      const r = await drive({
        profile: "strict",
        seed,
        faults: { errorRate: 0.25 },
        disks: [path],
        cmd: "iochk nvme0n1 300 77; stats; poweroff",
      });
      expectClean(r);
      const injected = r.machine.controllers[0].stats.injected.error;
      const retries = Number(linesOf(r.output, "stats")[0].fields.retries);
      const lost = injected - retries; // errors that were not retried: their requests failed
      expect(injected, r.why).toBeGreaterThan(0);
      if (lost > 0) {
        failed++;
        expect(iochkLines(r.output), r.why).toEqual([]);
        expect(errorLines(r.output)[0], r.why).toMatch(
          /^error: iochk dev=nvme0n1 ios=300 seed=77 qd=8: (read|write) lba=\d+ count=\d+: at lba=\d+: (Unrecovered Read Error \(media error sct=2 sc=0x81\)|Write Fault \(media error sct=2 sc=0x80\))$/,
        );
        expect(r.code, r.why).not.toBe(0);
      } else {
        clean++;
        const replay = iochkReplay({ seed: 77, ios: 300, blocks: (4 * MiB) / 512 });
        expect(iochkLines(r.output), r.why).toEqual([iochkLine({ ios: 300, seed: 77, replay })]);
        expect(imageDiff({ image: readImage(path), before, seed: 77, replay }), r.why).toBe(null);
      }
    }
    expect(failed, "no seed made a request fail: raise errorRate").toBeGreaterThan(0);
    expect(failed + clean).toBe(6);
  });

  it("a medium that always fails: the first request's error, nothing else", async () => {
    const r = await drive({
      profile: "qemu",
      seed: 1,
      faults: { errorRate: 1 },
      disks: ["mem:1M"],
      cmd: "iochk nvme0n1 100 1 1; poweroff",
    });
    const replay = iochkReplay({ seed: 1, ios: 1, blocks: 2048 });
    const op = replay.ops[0];
    expect(errorLines(r.output), r.why).toEqual([
      `error: iochk dev=nvme0n1 ios=100 seed=1 qd=1: ${op.write ? "write" : "read"} lba=${op.lba} count=${op.blocks}: at lba=${op.lba}: ` +
        (op.write ? "Write Fault (media error sct=2 sc=0x80)" : "Unrecovered Read Error (media error sct=2 sc=0x81)"),
    ]);
    expect(iochkLines(r.output)).toEqual([]);
  });

  for (const seed of [1, 2, 3]) {
    it(`dropped commands time out and the controller is reset: never ok after a timeout (seed ${seed})`, async () => {
      const r = await drive({
        profile: "strict",
        seed,
        faults: { dropRate: 0.02, abortIgnored: 1 },
        disks: ["mem:4M"],
        cmd: "iochk nvme0n1 400 5; stats; poweroff",
      });
      expectClean(r);
      const stats = linesOf(r.output, "stats")[0].fields;
      expect(r.machine.controllers[0].stats.injected.drop, r.why).toBeGreaterThan(0);
      expect(Number(stats.timeouts), r.why).toBeGreaterThan(0);
      expect(iochkLines(r.output), r.why).toEqual([]);
      expect(errorLines(r.output)[0], r.why).toMatch(
        /^error: iochk dev=nvme0n1 ios=400 seed=5 qd=8: (read|write) lba=\d+ count=\d+: at lba=\d+: command timed out$/,
      );
      expect(r.code, r.why).not.toBe(0);
    });
  }

  // The first block written exactly `times` times (at least `times` when `orMore`), or -1.
  function blockWritten(replay, times, orMore = false) {
    for (let b = 0; b < replay.tracked; b++)
      if (replay.writesOf[b] === times || (orMore && replay.writesOf[b] > times)) return b;
    return -1;
  }

  it("a byte changed on the medium after a block's last write: mismatch at that block and byte, found no generation", async () => {
    const seed = 21,
      ios = 400,
      lba = 512;
    const replay = iochkReplay({ seed, ios, blocks: 8192 });
    const victim = blockWritten(replay, 1);
    expect(victim).toBeGreaterThanOrEqual(0);
    const offset = 77;
    let seen = 0;
    const disk = new TamperDisk(8192 * lba, (at, bytes) => {
      const first = Number(at / BigInt(lba)),
        count = bytes.length / lba;
      if (victim < first || victim >= first + count || ++seen !== replay.writesOf[victim]) return bytes;
      const out = Uint8Array.from(bytes);
      out[(victim - first) * lba + offset] ^= 0x10;
      return out;
    });
    const opts = {
      profile: "strict",
      seed: 8,
      disks: [{ disk, lbaBytes: lba, spec: `mem:4M flipping byte ${offset} of block ${victim} after its last write` }],
      cmd: `iochk nvme0n1 ${ios} ${seed}; poweroff`,
    };
    const r = await drive(opts);
    expect(seen, r.why).toBe(1);
    expect(iochkLines(r.output), r.why).toEqual([
      `iochk dev=nvme0n1 ios=${ios} seed=${seed} qd=8 mismatch lba=${victim} offset=${offset} expected_gen=1 found_gen=none`,
    ]);
    expect(r.code, r.why).not.toBe(0);
  });

  it("a lost write (the medium keeps the block's previous data): mismatch at offset 0, found the previous generation", async () => {
    const seed = 22,
      ios = 600,
      lba = 512;
    const replay = iochkReplay({ seed, ios, blocks: 8192 });
    const victim = blockWritten(replay, 2, true);
    expect(victim).toBeGreaterThanOrEqual(0);
    const gen = replay.gens[victim];
    let seen = 0;
    const disk = new TamperDisk(8192 * lba, (at, bytes, d) => {
      const first = Number(at / BigInt(lba)),
        count = bytes.length / lba;
      if (victim < first || victim >= first + count || ++seen !== replay.writesOf[victim]) return bytes;
      const out = Uint8Array.from(bytes);
      out.set(d.bytes.subarray(victim * lba, victim * lba + lba), (victim - first) * lba);
      return out;
    });
    const opts = {
      profile: "qemu",
      seed: 3,
      disks: [{ disk, lbaBytes: lba, spec: `mem:4M losing the last write of block ${victim}` }],
      cmd: `iochk nvme0n1 ${ios} ${seed} 16; poweroff`,
    };
    const r = await drive(opts);
    expect(seen, r.why).toBe(replay.writesOf[victim]);
    expect(iochkLines(r.output), r.why).toEqual([
      `iochk dev=nvme0n1 ios=${ios} seed=${seed} qd=16 mismatch lba=${victim} offset=0 expected_gen=${gen} found_gen=${gen === 1 ? 255 : gen - 1}`,
    ]);
    expect(r.code, r.why).not.toBe(0);
  });
});

describe("iochk: arguments", () => {
  it("hostile arguments: one error line each, nothing issued", async () => {
    const cases = [
      ["iochk", /^error: iochk: usage: iochk DEV IOS SEED \[QD\]$/],
      ["iochk nvme0n1 10", /^error: iochk: usage: /],
      ["iochk nvme0n1 10 1 8 9", /^error: iochk: usage: /],
      ["iochk nvme9n1 10 1", /^error: iochk: unknown device "nvme9n1"$/],
      ["iochk nvme0n01 10 1", /^error: iochk: unknown device "nvme0n01"$/],
      ["iochk nvme0n1 0 1", /^error: iochk: IOS must be 1\.\.100000000: "0"$/],
      ["iochk nvme0n1 100000001 1", /^error: iochk: IOS must be 1\.\.100000000: "100000001"$/],
      ["iochk nvme0n1 18446744073709551616 1", /^error: iochk: IOS must be 1\.\.100000000: "18446744073709551616"$/],
      ["iochk nvme0n1 -5 1", /^error: iochk: IOS must be/],
      [
        "iochk nvme0n1 10 16777216",
        /^error: iochk: SEED must be 0\.\.16777215 \(the pattern uses 24 bits of it\): "16777216"$/,
      ],
      ["iochk nvme0n1 10 seed", /^error: iochk: SEED must be/],
      ["iochk nvme0n1 10 1 0", /^error: iochk: QD must be 1\.\.32: "0"$/],
      ["iochk nvme0n1 10 1 33", /^error: iochk: QD must be 1\.\.32: "33"$/],
      ["iochk nvme0n1 10 1 0x", /^error: iochk: QD must be 1\.\.32: "0x"$/],
      ["iochk nvme0n1 10 1 0xffffffffffffffff", /^error: iochk: QD must be 1\.\.32: /],
      ["iochk nvme0n2 10 1", /^error: iochk dev=nvme0n2: namespace is write protected \(NSATTR\)$/],
      ["iochk nvme0n3 10 1", /^error: iochk dev=nvme0n3: namespace not usable: metadata per block is not supported$/],
    ];
    const cmd = cases.map(([c]) => c).join("; ") + "; poweroff";
    const r = await drive({ disks: ["mem:1M", "mem:1M,ro", "mem:1M,ms=8"], cmd });
    expect(r.code, r.why).not.toBe(0);
    const errors = errorLines(r.output);
    expect(errors, r.why).toHaveLength(cases.length);
    cases.forEach(([c, re], i) => expect(errors[i], `${c}\n${r.why}`).toMatch(re));
    expect(ioCommands(r), r.why).toBe(0);
    expect(iochkLines(r.output)).toEqual([]);
  });

  it("a controller that stopped at an earlier stage is named, nothing issued", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "stage=4; iochk nvme0n1 10 1; poweroff" });
    expect(errorLines(r.output), r.why).toEqual([
      "error: iochk dev=nvme0n1: nvme0 is not ready: bring-up stopped at an earlier stage",
    ]);
    expect(ioCommands(r), r.why).toBe(0);
  });

  it("progress: a line rewritten with \\r at the prompt, never from the boot command line", async () => {
    const faults = { slowRate: 0.05 }; // slow completions let the model's clock pass the progress interval
    const typed = await drive({ seed: 5, faults, disks: ["mem:8M"], cmd: "", input: "iochk nvme0n1 2000 5\n" });
    const replay = iochkReplay({ seed: 5, ios: 2000, blocks: 16384 });
    const line = iochkLine({ ios: 2000, seed: 5, replay });
    expect(typed.code, typed.why).toBe(0);
    expect(typed.output, typed.why).toMatch(/\riochk \d+\/2000 ios, \d+ blocks verified/);
    expect(typed.output, typed.why).toContain(`\r${" ".repeat(79)}\r${line}\n`);
    const scripted = await drive({ seed: 5, faults, disks: ["mem:8M"], cmd: "iochk nvme0n1 2000 5; poweroff" });
    expect(scripted.code, scripted.why).toBe(0);
    expect(scripted.output.includes("\r"), scripted.why).toBe(false);
    expect(iochkLines(scripted.output), scripted.why).toEqual([line]);
  });

  it("help lists iochk", async () => {
    const r = await drive({ disks: ["mem:1M"], cmd: "help; poweroff" });
    expect(r.output, describeRun({ cmd: "help" })).toContain("  iochk DEV IOS SEED [QD]");
  });
});
