// Log pages through the block interface (OP_LOG_PAGE: Get Log Page on the admin queue, sent without
// waiting, completed through poll/interrupt like IO, exactly once), and the shell's `smart` and
// `errors` against the controller model's counters. Every failure message carries its `replay:` line.
import { describe, it, expect } from "vitest";
import { driverAlone, OP_READ, OP_WRITE, OP_FLAG_MORE, ERR, MiB } from "./component.js";
import { drive, expectClean } from "./helpers.js";
import { linesOf, errorLines } from "../lib/disk-images.js";
import { NvmeController } from "../../host/nvme/controller.js";

const OP_LOG_PAGE = 6;
const LID_ERROR_INFO = 1,
  LID_SMART = 2;
const INVALID_LOG_PAGE_DNR = 0x4109; // SCT 1, SC 09h, DNR
const INVALID_FIELD_DNR = 0x4002;

async function started(opts = {}, startOpts = {}) {
  const h = await driverAlone({ disks: ["mem:4M"], ...opts });
  h.start(startOpts);
  h.why = `replay: ${JSON.stringify({ ...opts, model: opts.model?.name, start: startOpts })}`;
  return h;
}

function clean(h) {
  const violations = h.m.controllers.flatMap((c) => c.violations ?? []);
  expectClean({ violations, dmaFaults: h.m.dmaFaults, fatal: [], why: `${h.why}\n--- output ---\n${h.output()}` });
}

const u64 = (h, off) => new DataView(h.m.memory.buffer).getBigUint64(h.base + off, true);
const u16 = (h, off) => new DataView(h.m.memory.buffer).getUint16(h.base + off, true);

// A model whose next `hold` Get Log Page commands never complete (lost admin commands).
class LosesLogPages extends NvmeController {
  _admin(rec) {
    if (rec.cmd.opcode === 0x02 && this.hold > 0) {
      this.hold--;
      return null;
    }
    return super._admin(rec);
  }
}

// A model whose SMART log reports available spare below threshold and reliability degraded.
class Worn extends NvmeController {
  constructor(opts) {
    super(opts);
    this.smartCriticalWarning = 0x05;
  }
}

describe("OP_LOG_PAGE through the driver's exports", () => {
  for (const irq of [1, 2, 3]) {
    it(`SMART after known IO: sent without waiting, completed once by poll/interrupt, counters as the model's (irq=${irq})`, async () => {
      const h = await started({ profile: "strict", seed: irq }, { irq });
      expect(h.submit(1, OP_WRITE, 0, 0, 2048, 0)).toBe(0); // 1 MiB in 8 commands (MDTS 128 KiB)
      h.pump();
      expect(h.submit(2, OP_READ, 0, 0, 1024, 0)).toBe(0);
      h.pump();
      let waits = h.waitsDuring(() =>
        expect(h.submit(3, OP_LOG_PAGE, 0, BigInt(LID_SMART), 512, 1 * MiB), h.why).toBe(0),
      );
      expect(waits).toBe(0);
      expect(h.d.outstanding()).toBe(1);
      h.pump();
      const done = h.completions();
      expect(done.get(3n), h.why).toEqual({ tag: 3n, status: 0, lba: 0n });
      const s = h.model().stats;
      expect(u64(h, MiB + 32), h.why).toBe(BigInt(Math.ceil(s.bytesRead / 512000))); // data units read
      expect(u64(h, MiB + 48), h.why).toBe(BigInt(Math.ceil(s.bytesWritten / 512000))); // data units written
      expect(u64(h, MiB + 64), h.why).toBe(4n); // host read commands: 512 KiB in 4
      expect(u64(h, MiB + 80), h.why).toBe(8n); // host write commands
      expect(u16(h, MiB + 1), h.why).toBe(321); // kelvins
      // Error Information, at an offset (LPO, Identify LPA bit 2): nothing recorded yet
      waits = h.waitsDuring(() =>
        expect(h.submit(4, OP_LOG_PAGE | OP_FLAG_MORE, 0, BigInt(LID_ERROR_INFO) | (64n << 32n), 128, 2 * MiB)).toBe(0),
      );
      expect(waits).toBe(0);
      h.pump();
      expect(h.completions().get(4n).status).toBe(0);
      expect(u64(h, 2 * MiB)).toBe(0n);
      expect(h.stats(0).errors).toBe(0n);
      expect(h.d.shutdown()).toBe(0);
      clean(h);
    });
  }

  it("arguments are checked before anything is sent; the device's refusals come back as statuses", async () => {
    const h = await started({ profile: "strict" });
    const commands = h.stats(0).commands;
    expect(h.submit(1, OP_LOG_PAGE, 1, 2n, 512, 0)).toBe(ERR.NO_NAMESPACE); // no controller 1
    expect(h.submit(1, OP_LOG_PAGE, 0, 2n, 0, 0)).toBe(ERR.RANGE); // no bytes
    expect(h.submit(1, OP_LOG_PAGE, 0, 2n, 6, 0)).toBe(ERR.RANGE); // not whole dwords
    expect(h.submit(1, OP_LOG_PAGE, 0, 2n, 4100, 0)).toBe(ERR.RANGE); // past 4 KiB
    expect(h.submit(1, OP_LOG_PAGE, 0, 2n | (2n << 32n), 8, 0)).toBe(ERR.RANGE); // offset not dword-aligned
    expect(h.submit(1, OP_LOG_PAGE, 0, 0x102n, 8, 0)).toBe(ERR.RANGE); // bits beside LID and offset
    expect(h.submit(1, OP_LOG_PAGE, 0, 2n, 512, 2)).toBe(ERR.BAD_BUFFER); // not 4-byte aligned
    expect(h.submit(1, OP_LOG_PAGE, 0, 2n, 512, h.bufferBytes - 256)).toBe(ERR.BAD_BUFFER);
    expect(h.submit(1, OP_LOG_PAGE | 0x200, 0, 2n, 512, 0)).toBe(ERR.BAD_OP);
    expect(h.stats(0).commands).toBe(commands);
    expect(h.submit(1, OP_LOG_PAGE, 0, 0x7fn, 512, 0)).toBe(0); // a LID the model lacks
    expect(h.submit(2, OP_LOG_PAGE, 0, 2n | (512n << 32n), 64, 4096)).toBe(0); // offset past the SMART log
    h.pump();
    const done = h.completions();
    expect(done.get(1n).status).toBe(INVALID_LOG_PAGE_DNR);
    expect(done.get(2n).status).toBe(INVALID_FIELD_DNR);
    expect(done.get(1n).lba).toBe(0n);
    expect(h.stats(0).errors).toBe(2n);
    expect(h.output(), h.why).not.toMatch(/error:/);
    clean(h);
  });

  it("at most 8 in flight per controller (ERR_BUSY beyond), mixed with IO; each completes once", async () => {
    const h = await started({ profile: "qemu" });
    const answers = [];
    for (let tag = 0; tag < 12; tag++) answers.push(h.submit(tag, OP_LOG_PAGE, 0, 2n, 512, tag * 4096));
    expect(answers.slice(0, 8)).toEqual(Array(8).fill(0));
    expect(answers.slice(8)).toEqual(Array(4).fill(ERR.BUSY));
    expect(h.submit(100, OP_READ, 0, 0, 8, 1 * MiB)).toBe(0);
    h.pump();
    const done = h.completions();
    expect(done.size).toBe(9);
    for (const [, c] of done) expect(c.status).toBe(0);
    expect(h.submit(20, OP_LOG_PAGE, 0, 2n, 512, 0)).toBe(0); // room again
    h.pump();
    expect(h.completions().size).toBe(10);
    clean(h);
  });

  it("a Get Log Page the controller never completes: tick times it out (ERR_TIMEOUT, once), resets, and the next one works", async () => {
    const h = await started({ profile: "strict", model: LosesLogPages });
    h.model().hold = Infinity;
    expect(h.submit(1, OP_LOG_PAGE, 0, 2n, 512, 0)).toBe(0);
    expect(h.submit(2, OP_READ, 0, 0, 8, 8192)).toBe(0);
    h.pump();
    const done = h.completions();
    expect(done.get(1n), h.why).toEqual({ tag: 1n, status: ERR.TIMEOUT, lba: 0n });
    expect(done.get(2n).status).toBe(0);
    expect(h.stats(0).timeouts).toBe(1n);
    expect(h.stats(0).resets).toBe(1n);
    expect(h.output()).toMatch(/^nvme0 recovered$/m);
    h.model().hold = 0;
    expect(h.submit(3, OP_LOG_PAGE, 0, 2n, 512, 0)).toBe(0);
    h.pump();
    expect(h.completions().get(3n).status).toBe(0);
    // the reset without shutdown notification is an unsafe shutdown to the model's SMART
    expect(u64(h, 144)).toBe(1n);
    expect(h.d.shutdown()).toBe(0);
    clean(h);
  });

  it("a log page in flight when an IO command times out is sent again after the reset, and completes once", async () => {
    const h = await started({ profile: "strict", model: LosesLogPages, faults: { drop_after: 0, abort_ignored: 1 } });
    expect(h.submit(1, OP_READ, 0, 0, 8, 0)).toBe(0); // dropped: never completes
    const start = h.m.now;
    h.pump(() => h.m.now - start >= 4_000_000_000n); // CAP.TO is 10 s: well inside it
    h.model().hold = 1; // this Get Log Page is lost, but not yet late
    expect(h.submit(2, OP_LOG_PAGE, 0, 2n, 512, 8192)).toBe(0);
    h.pump();
    const done = h.completions();
    expect(done.size, h.why).toBe(2);
    expect(done.get(1n), h.why).toEqual({ tag: 1n, status: ERR.TIMEOUT, lba: 0n });
    expect(done.get(2n), h.why + h.output()).toEqual({ tag: 2n, status: 0, lba: 0n });
    expect(h.stats(0).resets).toBe(1n);
    expect(h.stats(0).retries).toBe(1n); // the log page, sent again
    expect(h.model().hold).toBe(0);
    expect(h.d.shutdown()).toBe(0);
    clean(h);
  });
});

describe("the shell's smart and errors", () => {
  it("smart after known IO: the counters are the model's; errors: none recorded", async () => {
    const r = await drive({
      profile: "strict",
      disks: ["mem:8M"],
      cmd: "fill nvme0n1 0 4096 1; crc nvme0n1 0 2048; smart nvme0; errors nvme0; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    expectClean(r);
    const s = linesOf(r.output, "smart")[0]?.fields;
    const model = r.machine.controllers[0].stats;
    expect(s, r.why).toMatchObject({
      ctrl: "nvme0",
      critical_warning: "0x00",
      warnings: "none",
      temperature_k: "321",
      temperature_c: "48",
      available_spare: "100",
      available_spare_threshold: "10",
      percentage_used: "0",
      data_units_read: String(Math.ceil(model.bytesRead / 512000)),
      data_units_written: String(Math.ceil((4096 * 512) / 512000)),
      host_read_commands: "8",
      host_write_commands: "16",
      power_cycles: "1",
      power_on_hours: "0",
      unsafe_shutdowns: "0",
      media_errors: "0",
      num_err_log_entries: "0",
    });
    expect(
      linesOf(r.output, "errors").map((l) => l.fields),
      r.why,
    ).toEqual([{ ctrl: "nvme0", entries: "8", valid: "0" }]);
  });

  it("errors after injected media errors: one line per entry, newest first, status in words; smart counts them", async () => {
    const r = await drive({
      profile: "strict",
      seed: 3,
      faults: { errorRate: 1 },
      disks: ["mem:1M"],
      cmd: "crc nvme0n1 5 1; smart nvme0; errors nvme0; poweroff",
    });
    expect(r.code, r.why).not.toBe(0);
    expectClean(r);
    expect(errorLines(r.output), r.why).toEqual([
      "error: crc dev=nvme0n1 lba=5 count=1: at lba=5: Unrecovered Read Error (media error sct=2 sc=0x81)",
    ]);
    const s = linesOf(r.output, "smart")[0].fields;
    expect(s.media_errors, r.why).toBe("4"); // the read and its three retries
    expect(s.num_err_log_entries, r.why).toBe("4");
    const lines = linesOf(r.output, "errors");
    expect(lines[0].fields, r.why).toEqual({ ctrl: "nvme0", entries: "8", valid: "4" });
    const entries = lines.slice(1).map((l) => l.fields);
    expect(entries.map((e) => e.error_count)).toEqual(["4", "3", "2", "1"]);
    for (const e of entries) {
      expect(e, r.why).toMatchObject({
        ctrl: "nvme0",
        sqid: "1",
        status: "Unrecovered Read Error (media error sct=2 sc=0x81)",
        lba: "5",
        nsid: "1",
      });
    }
    expect(r.output).toMatch(
      /^errors ctrl=nvme0 entry=0 error_count=4 sqid=1 cmdid=\d+ status="Unrecovered Read Error \(media error sct=2 sc=0x81\)" lba=5 nsid=1$/m,
    );
  });

  it("a critical warning and a temperature set on the model are decoded", async () => {
    const r = await drive({
      profile: "qemu",
      model: Worn,
      overrides: { temperatureK: 263 },
      disks: ["mem:1M"],
      cmd: "smart nvme0; poweroff",
    });
    expect(r.code, r.why).toBe(0);
    const s = linesOf(r.output, "smart")[0].fields;
    expect(s.critical_warning).toBe("0x05");
    expect(s.warnings).toBe("available_spare,reliability");
    expect(s.temperature_k).toBe("263");
    expect(s.temperature_c).toBe("-10");
  });

  it("usage and unknown controllers are error lines; a stopped controller says why", async () => {
    const r = await drive({
      disks: ["mem:1M"],
      cmd: "smart; errors nvme0 x; smart nvme7; errors nvme0n1; smart nvme00; poweroff",
    });
    expect(errorLines(r.output)).toEqual([
      "error: smart: usage: smart CTRL (a controller such as nvme0)",
      "error: errors: usage: errors CTRL (a controller such as nvme0)",
      'error: smart: unknown controller "nvme7"',
      'error: errors: unknown controller "nvme0n1"',
      'error: smart: unknown controller "nvme00"',
    ]);
    const stopped = await drive({ disks: ["mem:1M"], cmd: "stage=4; smart nvme0; poweroff" });
    expect(errorLines(stopped.output)).toEqual([
      "error: smart ctrl=nvme0: not ready: bring-up stopped at an earlier stage",
    ]);
  });
});
