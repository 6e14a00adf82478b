// Log pages on QEMU 7.2's emulated NVMe controller (build/kernel.elf): `smart` and `errors` read
// them through the block interface (OP_LOG_PAGE: Get Log Page on the admin queue, asynchronous).
//
// What QEMU 7.2 does, as these tests find it (hw/nvme/ctrl.c nvme_smart_info, nvme_error_info):
// the SMART log counts the block layer's accounting of the device's reads and writes: data units
// are DIV_ROUND_UP(512-byte units, 1000), host commands one per NVMe Read or Write (the driver's
// requests, split at MDTS 512 KiB); temperature 323 K, no critical warning; available spare, its
// threshold, power cycles, unsafe shutdowns, media errors and error log entries are all 0 (never
// set). The Error Information log is one entry (ELPE 0) that is always zeroes: QEMU records no
// error, not even the Write Fault it returns for a write to a readonly=on drive.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync } from "node:fs";
import { bootQemu, hasQemu, KERNEL } from "./helpers.js";
import { tempDir, writeImage, patternBytes, linesOf, errorLines } from "../lib/disk-images.js";

const enabled = hasQemu() || !!process.env.CI;
const MiB = 1 << 20;

function explain(r) {
  return `QEMU exit ${r.code} after ${r.ms} ms\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;
}

describe.skipIf(!enabled)("log pages in QEMU", () => {
  let tmp;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-logs-");
  });
  afterAll(() => tmp?.remove());

  it("smart after known IO: data units and host commands grow as the IO says; errors after a Write Fault: QEMU records none", async () => {
    const path = writeImage(tmp.path("disk.img"), patternBytes(1, 0, 16 * MiB));
    const ro = writeImage(tmp.path("ro.img"), patternBytes(1, 0, MiB));
    const cmd = [
      "smart nvme0",
      "fill nvme0n1 0 3000 5", // 1,536,000 bytes = 3000 units: 3 Writes (MDTS 512 KiB = 1024 blocks)
      "crc nvme0n1 0 1000", // 1000 units: 1 Read
      "smart nvme0",
      "fill nvme1n1 0 8 1", // readonly=on: QEMU answers Write Fault (retried by the driver: 4 in all)
      "errors nvme1",
      "smart nvme1",
      "poweroff",
    ].join("; ");
    const r = await bootQemu({ disks: [{ path }, { path: ro, readonly: true }], cmd });
    const smart = linesOf(r.output, "smart").map((l) => l.fields);
    expect(smart.length, explain(r)).toBe(3);
    const [before, after, other] = smart;
    const grew = (k) => Number(after[k]) - Number(before[k]);
    expect(before.ctrl).toBe("nvme0");
    expect(grew("data_units_written"), explain(r)).toBe(3); // DIV_ROUND_UP(3000, 1000)
    expect(grew("data_units_read"), explain(r)).toBe(1);
    expect(grew("host_write_commands"), explain(r)).toBe(3);
    expect(grew("host_read_commands"), explain(r)).toBe(1);
    expect(after).toMatchObject({
      critical_warning: "0x00",
      warnings: "none",
      temperature_k: "323",
      temperature_c: "50",
      media_errors: "0",
      num_err_log_entries: "0",
    });
    expect(errorLines(r.output), explain(r)).toEqual([
      "error: fill dev=nvme1n1 lba=0 count=8: at lba=0: Write Fault (media error sct=2 sc=0x80)",
    ]);
    expect(
      linesOf(r.output, "errors").map((l) => l.fields),
      explain(r),
    ).toEqual([{ ctrl: "nvme1", entries: "1", valid: "0" }]);
    expect(other).toMatchObject({
      ctrl: "nvme1",
      media_errors: "0",
      num_err_log_entries: "0",
      host_write_commands: "0",
    });
    expect(r.output).toMatch(/^shutdown ctrl=nvme1 ok/m);
  }, 120_000);
});
