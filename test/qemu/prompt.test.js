// The interactive prompt on bare metal: keys typed on QEMU's serial console (bootQemu's `input`)
// with console=tty on the command line, as `make run` adds it on a terminal — arrow keys and
// Delete, history, Tab, Ctrl-C during a crc (it stops at a request boundary, every request
// completes, the next line runs) and the exit-code rule; and boot/qemu.sh's --console and QEMU
// options given among its own (what `make run QEMU_OPTS=…` passes).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { bootQemu, hasQemu, KERNEL, QEMU_SH } from "./helpers.js";
import { tempDir, writeImage, readImage, noiseBytes, errorLines } from "../lib/disk-images.js";

const enabled = hasQemu() || !!process.env.CI;
const MiB = 1 << 20;
const ESC = "\x1b";
const LEFT = `${ESC}[D`,
  UP = `${ESC}[A`,
  DELETE = `${ESC}[3~`,
  HOME = `${ESC}[1~`;
const CTRL_C = "\x03";

const explain = (r) => `QEMU exit ${r.code} after ${r.ms} ms\nargs: ${r.args.join(" ")}\n--- output ---\n${r.output}`;
const starting = (r, word) => r.lines.filter((l) => l.startsWith(`${word} `));

describe.skipIf(!enabled)("the prompt in QEMU (console=tty)", () => {
  let tmp;
  beforeAll(() => {
    if (!existsSync(KERNEL)) throw new Error(`${KERNEL} missing: run make kernel (make test does)`);
    tmp = tempDir("nvme-qemu-prompt-");
  });
  afterAll(() => tmp?.remove());

  it("arrow keys, Delete, Home, history and Tab edit the line; typed errors leave the exit code 0", async () => {
    const path = writeImage(tmp.path("edit.img"), noiseBytes(16 * MiB, 3));
    const input =
      `inxfo${LEFT}${LEFT}${LEFT}${DELETE}\r` +
      `rc nvme0n1 0 8${HOME}c\r` +
      `${UP}\r` +
      `cr\tnv\t8 8\r` +
      "frobnicate\rpoweroff\r";
    const r = await bootQemu({ disks: [{ path }], cmd: "console=tty", input, timeoutMs: 120000 });
    expect(r.code, explain(r)).toBe(0);
    expect(starting(r, "ctrl"), explain(r)).toHaveLength(1); // "info"
    const crcs = starting(r, "crc");
    expect(crcs, explain(r)).toHaveLength(3);
    expect(crcs[1], explain(r)).toBe(crcs[0]); // Up: the same line again
    expect(crcs[2], explain(r)).toMatch(/^crc dev=nvme0n1 lba=8 count=8 crc32=/); // completed by Tab
    expect(errorLines(r.output), explain(r)).toEqual(['error: shell: unknown command "frobnicate" (try help)']);
    expect(r.output, explain(r)).toContain("poweroff code=0");
  });

  it("Ctrl-C stops a crc at a request boundary; the medium is unchanged, the next line runs", async () => {
    const before = noiseBytes(64 * MiB, 4);
    const path = writeImage(tmp.path("stop.img"), before);
    const r = await bootQemu({
      disks: [{ path }],
      cmd: "console=tty",
      input: `stats\rcrc nvme0n1 0 131072; info\r${CTRL_C}stats\rpoweroff\r`,
    });
    expect(r.code, explain(r)).toBe(0);
    const crc = starting(r, "crc");
    expect(crc, explain(r)).toHaveLength(1);
    const m = /^crc dev=nvme0n1 lba=0 count=131072 stopped at lba=(\d+) \(Ctrl-C\)$/.exec(crc[0]);
    expect(m, explain(r)).not.toBe(null);
    expect(Number(m[1]), explain(r)).toBeLessThan(131072);
    expect(starting(r, "ctrl"), explain(r)).toHaveLength(0); // the rest of the line was not run
    const stats = starting(r, "stats").map((l) =>
      Object.fromEntries(
        l
          .split(" ")
          .slice(1)
          .map((w) => w.split("=")),
      ),
    );
    expect(stats, explain(r)).toHaveLength(2);
    // Every command the crc sent completed: as many outstanding after it as before (an admin
    // command the driver keeps waiting, such as an Asynchronous Event Request, is in both).
    const outstanding = (f) => Number(f.commands) - Number(f.completions);
    expect(outstanding(stats[1]), explain(r)).toBe(outstanding(stats[0]));
    expect(Number(stats[1].read_bytes), explain(r)).toBeGreaterThan(0);
    expect(r.output, explain(r)).toMatch(/shutdown ctrl=nvme0 ok/);
    expect(readImage(path).equals(before), explain(r)).toBe(true);
  });

  it("scripted input (no console=tty) is read as before: the arrow key rings the bell, an error fails the run", async () => {
    const path = writeImage(tmp.path("script.img"), noiseBytes(16 * MiB, 5));
    const r = await bootQemu({ disks: [{ path }], input: `inf${LEFT}o\rfrobnicate\rpoweroff\r` });
    expect(r.output, explain(r)).toContain("nvme> inf\x07o");
    expect(starting(r, "ctrl").length, explain(r)).toBeGreaterThanOrEqual(1);
    expect(r.code, explain(r)).toBe(1);
  });

  it("boot/qemu.sh: QEMU's own options among its own go to QEMU (make run QEMU_OPTS), --console tty adds console=tty", () => {
    const dry = spawnSync(
      QEMU_SH,
      ["--dry-run", "--accel", "tcg", "--cmd", "info", "-m", "512M", "-smp", "2", "--console", "tty"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/-m 512M -smp 2/);
    expect(dry.stdout).toMatch(/-append info\\;\\ console=tty|-append 'info; console=tty'/);
    const script = spawnSync(QEMU_SH, ["--dry-run", "--accel", "tcg", "--cmd", "info"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(script.stdout).not.toMatch(/console=tty/);
  });

  it('make run QEMU_OPTS="-m 512M" boots', async () => {
    const path = writeImage(tmp.path("opts.img"), noiseBytes(16 * MiB, 6));
    const r = await bootQemu({ args: ["--quiet", "--disk", path, "--cmd", "info; poweroff", "-m", "512M"] });
    expect(r.code, explain(r)).toBe(0);
    expect(starting(r, "ns"), explain(r)).toHaveLength(1);
  });
});
