// The real driver (build/nvme.wasm through wasm2c into build/kernel.elf) booted in QEMU with
// images this test creates, over the configurations users run. Every expectation is computed
// on the host from the image bytes or the pattern definition, never taken from the driver.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { copyFileSync, existsSync } from "node:fs";
import { bootQemu, hasQemu, KERNEL } from "./helpers.js";
import { runSim } from "../../host/sim.js";
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

const enabled = hasQemu() || !!process.env.CI;
const MiB = 1 << 20;

function explain(r) {
  return `QEMU exit ${r.code} after ${r.ms} ms\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;
}

describe.skipIf(!enabled)("driver in QEMU", () => {
  let tmp;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-");
  });
  afterAll(() => tmp?.remove());

  function image(name, bytes) {
    return writeImage(tmp.path(name), bytes);
  }

  it("pc machine: info describes the controller and the namespace", async () => {
    const path = image("info.img", noiseBytes(8 * MiB, 1));
    const r = await bootQemu({ disks: [{ path }], cmd: "info; poweroff" });
    expect(r.code, explain(r)).toBe(0);
    const [ctrl] = linesOf(r.output, "ctrl");
    expect(ctrl.fields).toMatchObject({
      name: "nvme0",
      vid: "0x1b36",
      did: "0x0010",
      version: "1.4.0",
      serial: "nvmewasm0",
      state: "ready",
    });
    expect(Number(ctrl.fields.mdts_bytes)).toBe(512 * 1024); // QEMU's default mdts=7 with 4 KiB pages
    const [ns] = linesOf(r.output, "ns");
    expect(ns.fields).toMatchObject({
      name: "nvme0n1",
      nsid: "1",
      lba_bytes: "512",
      blocks: String((8 * MiB) / 512),
      bytes: String(8 * MiB),
      readonly: "no",
    });
    expect(r.output).toContain("shutdown ctrl=nvme0 ok");
  });

  it("pc machine: crc of the whole namespace equals zlib's CRC-32 of the image", async () => {
    const bytes = noiseBytes(16 * MiB, 2);
    const path = image("crc.img", bytes);
    const r = await bootQemu({ disks: [{ path }], cmd: "crc nvme0n1 0 32768; crc nvme0n1 5 3; poweroff" });
    expect(r.code, explain(r)).toBe(0);
    const crcs = linesOf(r.output, "crc").map((l) => l.fields.crc32);
    expect(crcs).toEqual([crcHex(bytes), crcHex(bytes.subarray(5 * 512, 8 * 512))]);
  });

  it("fill in QEMU leaves exactly the pattern on the image, and nothing else changed", async () => {
    const before = noiseBytes(8 * MiB, 3);
    const path = image("fill.img", before);
    const r = await bootQemu({
      disks: [{ path }],
      cmd: "fill nvme0n1 1000 3000 42; verify nvme0n1 1000 3000 42; poweroff",
    });
    expect(r.code, explain(r)).toBe(0);
    expect(r.output).toContain("fill dev=nvme0n1 lba=1000 count=3000 seed=42 ok");
    expect(r.output).toContain("verify dev=nvme0n1 lba=1000 count=3000 seed=42 ok");
    const after = readImage(path);
    const start = 1000 * 512,
      end = 4000 * 512;
    expect(after.subarray(start, end).equals(patternBytes(42, start, end - start))).toBe(true);
    expect(after.subarray(0, start).equals(before.subarray(0, start))).toBe(true);
    expect(after.subarray(end).equals(before.subarray(end))).toBe(true);
  });

  it("bad input gets error lines, later commands still run, and the exit code is non-zero", async () => {
    const bytes = noiseBytes(4 * MiB, 4);
    const path = image("bad.img", bytes);
    const r = await bootQemu({
      disks: [{ path }],
      cmd: "crc nvme0n1 8190 5; crc nvme9n1 0 1; read nvme0n1 zz 1; crc nvme0n1 0 0; frobnicate; crc nvme0n1 0 8; poweroff",
    });
    expect(r.code, explain(r)).not.toBe(0);
    const errors = errorLines(r.output);
    expect(errors).toHaveLength(5);
    expect(errors[0]).toMatch(/^error: crc dev=nvme0n1 lba=8190 count=5: range past the end/);
    expect(errors[1]).toMatch(/unknown device "nvme9n1"/);
    expect(errors[2]).toMatch(/LBA is not a number: "zz"/);
    expect(errors[3]).toMatch(/COUNT must be at least 1/);
    expect(errors[4]).toMatch(/unknown command "frobnicate"/);
    expect(linesOf(r.output, "crc").map((l) => l.fields.crc32)).toEqual([crcHex(bytes.subarray(0, 8 * 512))]);
  });

  it("q35 with the controller behind a PCIe root port (bus 1)", async () => {
    const bytes = noiseBytes(4 * MiB, 5);
    const path = image("q35.img", bytes);
    const r = await bootQemu({
      machine: "q35",
      rootPort: true,
      disks: [{ path }],
      cmd: "info; crc nvme0n1 0 8192; poweroff",
    });
    expect(r.code, explain(r)).toBe(0);
    const [ctrl] = linesOf(r.output, "ctrl");
    expect(ctrl.fields.pci).toMatch(/^01:00\.0$/);
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
  });

  it("pc with a pci-bridge: the controller on bus 1", async () => {
    const bytes = noiseBytes(2 * MiB, 6);
    const path = image("bridge.img", bytes);
    const r = await bootQemu({ rootPort: true, disks: [{ path }], cmd: "info; crc nvme0n1 0 4096; poweroff" });
    expect(r.code, explain(r)).toBe(0);
    expect(linesOf(r.output, "ctrl")[0].fields.pci).toMatch(/^01:01\.0$/);
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
  });

  it("three controllers become nvme0..nvme2, each reading its own image", async () => {
    const imgs = [7, 8, 9].map((s, i) => ({ bytes: noiseBytes((i + 1) * MiB, s) }));
    imgs.forEach((img, i) => {
      img.path = image(`multi${i}.img`, img.bytes);
    });
    const cmd = "info; " + imgs.map((img, i) => `crc nvme${i}n1 0 ${img.bytes.length / 512}`).join("; ") + "; poweroff";
    const r = await bootQemu({ disks: imgs.map((img) => ({ path: img.path })), cmd });
    expect(r.code, explain(r)).toBe(0);
    expect(linesOf(r.output, "ctrl").map((l) => l.fields.name)).toEqual(["nvme0", "nvme1", "nvme2"]);
    expect(linesOf(r.output, "crc").map((l) => l.fields.crc32)).toEqual(imgs.map((img) => crcHex(img.bytes)));
  });

  it("several namespaces with 512-byte and 4 KiB blocks on one controller", async () => {
    const a = noiseBytes(4 * MiB, 10),
      b = noiseBytes(8 * MiB, 11);
    const pa = image("ns1.img", a),
      pb = image("ns2.img", b);
    const r = await bootQemu({
      disks: [{ ns: [{ path: pa }, { path: pb, lbaBytes: 4096 }] }],
      cmd: "info; crc nvme0n1 0 8192; crc nvme0n2 0 2048; fill nvme0n2 10 20 5; poweroff",
    });
    expect(r.code, explain(r)).toBe(0);
    const ns = linesOf(r.output, "ns");
    expect(ns.map((l) => [l.fields.name, l.fields.lba_bytes, l.fields.blocks])).toEqual([
      ["nvme0n1", "512", "8192"],
      ["nvme0n2", "4096", "2048"],
    ]);
    expect(linesOf(r.output, "crc").map((l) => l.fields.crc32)).toEqual([crcHex(a), crcHex(b)]);
    const after = readImage(pb);
    expect(after.subarray(40960, 40960 + 20 * 4096).equals(patternBytes(5, 40960, 20 * 4096))).toBe(true);
    expect(after.subarray(0, 40960).equals(b.subarray(0, 40960))).toBe(true);
    expect(readImage(pa).equals(a)).toBe(true);
  });

  it("small mdts splits transfers: whole-namespace crc and fill still match the host", async () => {
    const bytes = noiseBytes(4 * MiB, 12);
    const path = image("mdts.img", bytes);
    const r = await bootQemu({
      mdts: 1,
      disks: [{ path }],
      cmd: "info; crc nvme0n1 0 8192; fill nvme0n1 3 300 9; poweroff",
    });
    expect(r.code, explain(r)).toBe(0);
    expect(linesOf(r.output, "ctrl")[0].fields.mdts_bytes).toBe("8192");
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
    const after = readImage(path);
    expect(after.subarray(1536, 1536 + 300 * 512).equals(patternBytes(9, 1536, 300 * 512))).toBe(true);
  });

  it("max_ioqpairs=1 still gives one IO queue pair that works", async () => {
    const bytes = noiseBytes(2 * MiB, 13);
    const path = image("ioq.img", bytes);
    const r = await bootQemu({ maxIoqpairs: 1, disks: [{ path }], cmd: "info; crc nvme0n1 0 4096; poweroff" });
    expect(r.code, explain(r)).toBe(0);
    expect(linesOf(r.output, "ctrl")[0].fields.queues).toBe("1");
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
  });

  it("BAR0 above 4 GiB is mapped and used", async () => {
    const bytes = noiseBytes(2 * MiB, 14);
    const path = image("highbar.img", bytes);
    const r = await bootQemu({
      machine: "q35",
      highBars: true,
      memory: "512M",
      disks: [{ path }],
      cmd: "crc nvme0n1 0 4096; poweroff",
    });
    expect(r.code, explain(r)).toBe(0);
    const [pci] = linesOf(r.output, "pci");
    expect(BigInt(pci.fields.bar0)).toBeGreaterThanOrEqual(1n << 32n);
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
  });

  it("a read-only drive: writes fail with an error line, reads go on", async () => {
    const bytes = noiseBytes(2 * MiB, 15);
    const path = image("ro.img", bytes);
    const r = await bootQemu({
      disks: [{ path, readonly: true }],
      cmd: "info; fill nvme0n1 0 8 1; crc nvme0n1 0 4096; poweroff",
    });
    expect(r.code, explain(r)).not.toBe(0);
    const errors = errorLines(r.output);
    expect(errors).toHaveLength(1);
    // QEMU 7.2 does not set NSATTR's write-protect bit for readonly=on; it fails writes with a media
    // error, which the driver retries (DNR is clear) and then reports in words.
    expect(errors[0]).toMatch(
      /^error: fill dev=nvme0n1 lba=0 count=8: at lba=0: Write Fault \(media error sct=2 sc=0x80\)$/,
    );
    expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
    expect(readImage(path).equals(bytes)).toBe(true);
  });

  it("the same command line gives the same crc lines in QEMU and in nvme-wasm sim", async () => {
    const bytes = noiseBytes(4 * MiB, 16);
    const qpath = image("same-q.img", bytes);
    const spath = image("same-s.img", bytes);
    const cmd = "crc nvme0n1 0 8192; crc nvme0n1 17 999; fill nvme0n1 100 50 3; crc nvme0n1 0 8192; poweroff";
    const q = await bootQemu({ machine: "q35", disks: [{ path: qpath }], cmd });
    const s = await runSim({ disks: [spath], profile: "strict", seed: 3, cmd });
    expect(q.code, explain(q)).toBe(0);
    expect(s.code, s.output).toBe(0);
    const qc = linesOf(q.output, "crc").map((l) => l.text);
    expect(qc).toHaveLength(3);
    expect(linesOf(s.output, "crc").map((l) => l.text)).toEqual(qc);
    expect(readImage(qpath).equals(readImage(spath))).toBe(true);
  });

  it("polled and INTx completions work as well as MSI-X", async () => {
    const bytes = noiseBytes(2 * MiB, 17);
    const path = image("irq.img", bytes);
    for (const mode of ["poll", "intx", "msix"]) {
      // A QD1 bench makes the driver wait for most completions: with interrupts on, some of those
      // waits must end in an interrupt (a few commands alone may all complete before any wait).
      const r = await bootQemu({
        disks: [{ path }],
        cmd: `irq=${mode}; info; crc nvme0n1 0 4096; bench nvme0n1 read 8 1 300; stats; poweroff`,
      });
      expect(r.code, `irq=${mode}\n` + explain(r)).toBe(0);
      expect(linesOf(r.output, "ctrl")[0].fields.irq).toBe(mode);
      expect(linesOf(r.output, "crc")[0].fields.crc32).toBe(crcHex(bytes));
      const interrupts = Number(linesOf(r.output, "stats")[0].fields.interrupts);
      if (mode === "poll") expect(interrupts).toBe(0);
      else expect(interrupts).toBeGreaterThan(0);
    }
  });
});
