// The debug kernel of `make debug` (boot/build-debug.sh): the wasm modules built with a name
// section (the driver's names made short), wasm2c's w2c_ prefix dropped, so gdb knows the driver's
// functions by their AssemblyScript names: `break bringUp`, `break submit`, `break reap`. Built
// here into a temporary directory (nothing is written into build/), checked with nm, with gdb in
// batch mode when gdb is installed (scripts/deps.sh debug), and with gdb attached to QEMU's stub.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { bootQemu, hasQemu, ROOT, QEMU_SH } from "./helpers.js";
import { tempDir, writeImage, noiseBytes, crcHex, linesOf } from "../lib/disk-images.js";
import { withoutNames, functionNames } from "../../boot/debug-wasm.js";

const onPath = (tool) => (process.env.PATH ?? "").split(":").some((p) => p && existsSync(join(p, tool)));
const enabled = hasQemu() || !!process.env.CI;
const haveGdb = onPath("gdb");
const MiB = 1 << 20;
const DRIVER = join(ROOT, "build", "nvme.wasm");

// Function symbols of an ELF: Map name -> type letter.
function symbols(elf) {
  const out = new Map();
  for (const l of execFileSync("nm", [elf], { encoding: "utf8" }).split("\n")) {
    const m = /^[0-9a-f]+ ([tTwW]) (\S+)$/.exec(l);
    if (m) out.set(m[2], m[1]);
  }
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function run(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b) => {
      out += b;
    });
    child.stderr.on("data", (b) => {
      out += b;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe.skipIf(!enabled)("make debug: the driver's functions by their AssemblyScript names in gdb", () => {
  let tmp, kernel, elf64, buildLog;
  beforeAll(() => {
    if (!existsSync(DRIVER)) throw new Error(`${DRIVER} missing: run make wasm (make test does)`);
    tmp = tempDir("nvme-qemu-debug-");
    buildLog = execFileSync(join(ROOT, "boot", "build-debug.sh"), [tmp.dir], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    kernel = tmp.path("kernel.elf");
    elf64 = tmp.path("kernel64.elf");
  }, 300000);
  afterAll(() => tmp?.remove());

  it("the debug driver is build/nvme.wasm plus a name section of short names; build/nvme.wasm has none", () => {
    const debug = readFileSync(tmp.path("nvme.wasm"));
    const release = readFileSync(DRIVER);
    expect(withoutNames(debug).equals(release)).toBe(true);
    expect(buildLog).toMatch(/without its name section it is build\/nvme\.wasm, byte for byte/);
    expect(functionNames(release).names.size).toBe(0);
    expect(release.length).toBeLessThanOrEqual(32768);
    const { names, imports } = functionNames(debug);
    const own = [...names].filter(([i]) => i >= imports).map(([, n]) => n);
    expect(own).toEqual(
      expect.arrayContaining(["bringUp", "submit", "requests_submit", "reap", "start", "ringSubmission"]),
    );
    expect(new Set(own).size).toBe(own.length);
    for (const n of own) expect(n).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });

  it("nm: bringUp, submit, reap are functions of the kernel; no anonymous w2c_fNN function is left", () => {
    const syms = symbols(elf64);
    for (const name of ["bringUp", "submit", "reap", "requests_submit", "ringSubmission", "start_cmdline"]) {
      expect(syms.has(name), `${name} in nm ${elf64}`).toBe(true);
    }
    expect([...syms.keys()].filter((s) => /^w2c_f\d+$/.test(s))).toEqual([]);
    // The shell's and the decoder's functions keep their whole names: they never shadow the driver's.
    expect([...syms.keys()].some((s) => s.startsWith("assembly_shell_"))).toBe(true);
    expect([...syms.keys()].some((s) => s.startsWith("assembly_trace_"))).toBe(true);
  });

  it("the debug kernel runs like the release one", async () => {
    const bytes = noiseBytes(4 * MiB, 31);
    const r = await bootQemu({
      kernel,
      disks: [{ path: writeImage(tmp.path("run.img"), bytes) }],
      cmd: "crc nvme0n1 0 64; poweroff",
    });
    expect(r.code, r.output).toBe(0);
    expect(linesOf(r.output, "crc").map((l) => l.fields.crc32)).toEqual([crcHex(bytes.subarray(0, 64 * 512))]);
  });

  it.skipIf(!haveGdb)(
    "gdb -batch: break bringUp, break submit, break reap each resolve to one function of nvme.c",
    async () => {
      const r = await run(
        "gdb",
        ["-batch", "-nx", elf64, "-ex", "break bringUp", "-ex", "break submit", "-ex", "break reap"],
        60000,
      );
      expect(r.code, r.out).toBe(0);
      for (const [n, name] of [
        [1, "bringUp"],
        [2, "submit"],
        [3, "reap"],
      ]) {
        expect(r.out, name).toMatch(
          new RegExp(`^Breakpoint ${n} at 0x[0-9a-f]+: file \\S*/boot/nvme\\.c, line \\d+\\.$`, "m"),
        );
      }
      expect(r.out).not.toMatch(/not defined|locations/);
    },
  );

  it.skipIf(!haveGdb)(
    "gdb on QEMU's stub: run to kmain, break bringUp, continue: it stops there, called by start",
    async () => {
      const port = await freePort();
      const img = writeImage(tmp.path("gdb.img"), noiseBytes(MiB, 32));
      const qemu = spawn(
        QEMU_SH,
        [
          "--quiet",
          "--accel",
          "tcg",
          "--kernel",
          kernel,
          "--disk",
          img,
          "--cmd",
          "crc nvme0n1 0 8; poweroff",
          "--",
          "-S",
          "-gdb",
          `tcp:127.0.0.1:${port}`,
        ],
        { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] },
      );
      let serial = "";
      qemu.stdout.on("data", (b) => {
        serial += b;
      });
      try {
        await new Promise((r) => setTimeout(r, 500));
        const r = await run(
          "gdb",
          [
            "-batch",
            "-nx",
            elf64,
            "-ex",
            "set architecture i386:x86-64",
            "-ex",
            `target remote 127.0.0.1:${port}`,
            "-ex",
            "thbreak kmain",
            "-ex",
            "continue",
            "-ex",
            "break bringUp",
            "-ex",
            "break submit",
            "-ex",
            "continue",
            "-ex",
            "bt 3",
            // Off before going on: stepping over a software breakpoint under TCG can be interrupted
            // (the kernel's 1 kHz tick) and report the same breakpoint again.
            "-ex",
            "delete 2",
            "-ex",
            "continue",
            "-ex",
            "bt 2",
            "-ex",
            "kill",
          ],
          120000,
        );
        expect(r.out).toMatch(/^Breakpoint 2, bringUp \(instance=/m);
        expect(r.out).toMatch(/^#1 .* in start \(instance=/m);
        expect(r.out).toMatch(/^#2 .* in start_cmdline \(instance=/m);
        expect(r.out).toMatch(/^Breakpoint 3, submit \(instance=/m);
        expect(r.out).toMatch(/^#1 .* in Z_nvmeZ_submit \(/m);
        // The driver had run its bring-up up to the breakpoint on submit: the shell's first request.
        expect(serial).toContain("nvme0 ready namespaces=1");
      } finally {
        try {
          process.kill(-qemu.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
    },
    180000,
  );
});
