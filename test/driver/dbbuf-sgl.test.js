// Shadow doorbells (dbbuf=) and SGLs (sgl=) against the controller model: the data is right either
// way, the shadow buffer spares register writes, every IO read and write carries an SGL when it is
// on and PRPs when it is off, and a controller reset sets the shadow buffer up again.
import { describe, it, expect, afterAll } from "vitest";
import { drive, expectClean } from "./helpers.js";
import {
  tempDir,
  writeImage,
  readImage,
  noiseBytes,
  patternBytes,
  crcHex,
  linesOf,
  errorLines,
} from "../lib/disk-images.js";
import { NvmeController } from "../../host/nvme/controller.js";
import { invalidField } from "../../host/nvme/common.js";

// A controller that offers Doorbell Buffer Config (OACS bit 8) and then refuses it.
class Refusing extends NvmeController {
  _doorbellBufferConfig() {
    throw invalidField("this controller refuses every Doorbell Buffer Config");
  }
}

const MiB = 1 << 20;
const tmp = tempDir("nvme-dbbuf-");
afterAll(() => tmp.remove());
let n = 0;
function image(bytes) {
  return writeImage(tmp.path(`img${n++}.raw`), bytes);
}

const sent = (r, opname) => r.machine.controllers[0].stats.admin[opname] ?? 0;
const ioCommandLines = (r) => r.output.split("\n").filter((l) => /^cmd nvme0 SQ1 cid=\d+ (Read|Write) /.test(l));

describe("shadow doorbells and SGLs against the model", () => {
  it("the defaults on the qemu profile, which offers both: SGLs on, shadow doorbells off", async () => {
    const r = await drive({ profile: "qemu", cmd: "fill nvme0n1 0 64 1; poweroff" });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.output, r.why).toContain("nvme0 dbbuf=off sgl=on\n");
    expect(sent(r, "doorbell-buffer-config"), r.why).toBe(0);
  });

  it("both on: the bring-up says so, crc, fill and iochk are right", async () => {
    const before = noiseBytes(4 * MiB, 21);
    const path = image(before);
    const blocks = before.length / 512;
    const r = await drive({
      profile: "qemu",
      seed: 5,
      disks: [path],
      cmd: `dbbuf=on; crc nvme0n1 0 ${blocks}; fill nvme0n1 3 3000 77; verify nvme0n1 3 3000 77; iochk nvme0n1 400 9 32; poweroff`,
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.output, r.why).toContain("nvme0 dbbuf=on sgl=on\n");
    expect(sent(r, "doorbell-buffer-config"), r.why).toBe(1);
    expect(r.machine.controllers[0].stats.dbbufConfigs, r.why).toBe(1);
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(before));
    expect(r.output, r.why).toMatch(/^iochk dev=nvme0n1 ios=400 seed=9 qd=32 .* ok$/m);
  });

  it("dbbuf=on writes fewer doorbell registers than dbbuf=off for the same seeded QD32 bench", async () => {
    const counts = {};
    for (const opt of ["off", "on"]) {
      const r = await drive({
        profile: "qemu",
        seed: 3,
        cmd: `dbbuf=${opt}; bench nvme0n1 read 8 32 4000; bench nvme0n1 write 8 8 2000; poweroff`,
      });
      expect(r.code, r.why).toBe(0);
      expectClean(r);
      expect(sent(r, "doorbell-buffer-config"), r.why).toBe(opt === "on" ? 1 : 0);
      counts[opt] = r.machine.controllers[0].stats.doorbells;
    }
    expect(counts.on, JSON.stringify(counts)).toBeLessThan(counts.off);
  });

  it("sgl=on: every IO read and write has one Data Block descriptor of its whole length, 1 block to MDTS and split past it", async () => {
    const bytes = noiseBytes(2 * MiB, 22);
    const path = image(bytes);
    const counts = [1, 7, 8, 9, 16, 17, 1024, 1025, 2049];
    const cmd =
      "trace=cmds; " +
      counts.map((c, i) => `crc nvme0n1 ${i * 3} ${c}`).join("; ") +
      "; fill nvme0n1 100 1500 4; poweroff";
    const r = await drive({ profile: "qemu", disks: [path], cmd });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(linesOf(r.output, "crc").map((l) => l.fields.crc32)).toEqual(
      counts.map((c, i) => crcHex(bytes.subarray(i * 3 * 512, (i * 3 + c) * 512))),
    );
    const io = ioCommandLines(r);
    expect(io.length, r.why).toBeGreaterThan(counts.length);
    for (const l of io) {
      const nlb = Number(l.match(/ nlb=(\d+)/)[1]);
      expect(l, r.why).toMatch(new RegExp(` sgl_addr=0x[0-9a-f]+ sgl_bytes=${nlb * 512} sgl_type=0 SGL$`));
    }
    const after = readImage(path);
    expect(after.subarray(100 * 512, 1600 * 512).equals(patternBytes(4, 100 * 512, 1500 * 512))).toBe(true);
  });

  it("sgl=off dbbuf=off: the plain path, PRPs and registers only", async () => {
    const bytes = noiseBytes(MiB, 23);
    const path = image(bytes);
    const r = await drive({
      profile: "qemu",
      disks: [path],
      cmd: "sgl=off; dbbuf=off; trace=cmds; crc nvme0n1 0 2048; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.output, r.why).toContain("nvme0 dbbuf=off sgl=off\n");
    expect(sent(r, "doorbell-buffer-config"), r.why).toBe(0);
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
    const io = ioCommandLines(r);
    expect(io.length).toBe(2);
    for (const l of io) expect(l, r.why).toMatch(/ prp1=0x[0-9a-f]+ prp2=0x[0-9a-f]+$/);
  });

  it("a controller that offers neither (strict) gets neither, whatever the options say", async () => {
    const r = await drive({
      profile: "strict",
      cmd: "dbbuf=on; sgl=on; fill nvme0n1 0 600 2; verify nvme0n1 0 600 2; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.output, r.why).toContain("nvme0 dbbuf=off sgl=off\n");
    expect(sent(r, "doorbell-buffer-config"), r.why).toBe(0);
  });

  it("a controller that advertises Doorbell Buffer Config and refuses it: said in the bring-up line, registers used, no error", async () => {
    const r = await drive({
      profile: "qemu",
      model: Refusing,
      cmd: "dbbuf=on; fill nvme0n1 0 600 2; verify nvme0n1 0 600 2; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(errorLines(r.output), r.why).toEqual([]);
    expect(r.output, r.why).toContain("nvme0 dbbuf=off refused=device status sct=0 sc=0x02 dnr sgl=on\n");
    expect(sent(r, "doorbell-buffer-config"), r.why).toBe(1);
    expect(r.output, r.why).toContain("verify dev=nvme0n1 lba=0 count=600 seed=2 ok");
  });

  it("dbbuf=on with INTx: not used (the CQ head register write lowers the line), nothing sent", async () => {
    const r = await drive({ profile: "qemu", cmd: "irq=intx; dbbuf=on; iochk nvme0n1 200 6 16; poweroff" });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    expect(r.output, r.why).toContain("nvme0 dbbuf=off sgl=on\n");
    expect(sent(r, "doorbell-buffer-config"), r.why).toBe(0);
    expect(r.output, r.why).toMatch(/^iochk dev=nvme0n1 ios=200 seed=6 qd=16 .* ok$/m);
  });

  it("after a reset (injected CFS) the shadow buffer is configured again and IO goes on correct", async () => {
    const bytes = noiseBytes(2 * MiB, 24);
    const path = image(bytes);
    const r = await drive({
      profile: "qemu",
      seed: 2,
      faults: { cfsAfter: 8 },
      disks: [path],
      cmd: "dbbuf=on; crc nvme0n1 0 4096; crc nvme0n1 0 4096; stats; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expect(r.violations, r.why).toEqual([]);
    expect(r.machine.controllers[0].stats.injected.cfs, r.why).toBe(1);
    expect(sent(r, "doorbell-buffer-config"), r.why).toBe(2);
    expect(linesOf(r.output, "crc").map((l) => l.fields.crc32)).toEqual([crcHex(bytes), crcHex(bytes)]);
  });
});
