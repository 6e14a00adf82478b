// Asynchronous events from a real device: QEMU 7.2's nvme `smart_critical_warning` property, set
// over QMP (qom-set) while the shell waits at its prompt, makes QEMU complete the driver's
// Asynchronous Event Request (it asked for SMART critical warning events with Set Features 0Bh).
// The driver prints its one event line and clears the event by reading the SMART log with RAE = 0;
// the shell's `smart` then shows the warning. Failures carry the command line and the whole output.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync } from "node:fs";
import { bootQemu, hasQemu, KERNEL, qmpCommands } from "./helpers.js";
import { tempDir, writeImage, noiseBytes } from "../lib/disk-images.js";

const enabled = hasQemu() || !!process.env.CI;
const MiB = 1 << 20;
const explain = (r, extra = "") =>
  `QEMU exit ${r.code} after ${r.ms} ms${extra}\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;

describe.skipIf(!enabled)("asynchronous events in QEMU", () => {
  let tmp;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-events-");
  });
  afterAll(() => tmp?.remove());

  it("smart_critical_warning=1 (spare) is `nvme0 event type=1 info=2 lid=0x02`, once; smart shows it; stats has the request armed again", async () => {
    const path = writeImage(tmp.path("events.img"), noiseBytes(4 * MiB, 5));
    const qmp = tmp.path("qmp.sock");
    let answers = null;
    let asked = false;
    const onOutput = (output, { type }) => {
      if (asked || !output.includes("nvme> ")) return;
      asked = true;
      qmpCommands(qmp, [
        {
          execute: "qom-set",
          arguments: { path: "/machine/peripheral/nvme0", property: "smart_critical_warning", value: 1 },
        },
      ])
        .then(
          (a) => {
            answers = a;
          },
          (e) => {
            answers = [{ error: String(e) }];
          },
        )
        .finally(() => setTimeout(() => type("smart nvme0\rstats\rpoweroff\r"), 300));
    };
    const r = await bootQemu({ disks: [{ path }], cmd: "console=tty", onOutput, qmp, timeoutMs: 120000 });
    const why = explain(r, `\nqmp: ${JSON.stringify(answers)}`);
    expect(answers, why).toEqual([{ return: {} }]);
    expect(r.code, why).toBe(0);
    expect(
      r.lines.filter((l) => / event /.test(l)),
      why,
    ).toEqual(["nvme0 event type=1 info=2 lid=0x02"]);
    expect(r.output, why).toMatch(/^smart ctrl=nvme0 critical_warning=0x01 /m);
    const stats = r.lines.find((l) => l.startsWith("stats ctrl=nvme0 "));
    expect(stats, why).toMatch(/ events_armed=1$/);
    const n = (k) => Number(new RegExp(` ${k}=(\\d+)`).exec(stats)[1]);
    expect(n("completions") + n("events_armed"), why).toBe(n("commands"));
    expect(n("errors"), why).toBe(0);
  });
});
