// The bare-metal kernel's block link (boot/host.c: the `blk` imports a client module gets, served by
// the driver's exports) with a client probe of our own instead of the shell: every blk import, its
// range checks, requests and completions through request_done, and traps in the client. The same
// probe runs under Node (host/block-link.js), and both hosts must print the same result lines.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { bootQemu, hasQemu, ROOT } from "./helpers.js";
import { runSim } from "../../host/sim.js";
import { tempDir, writeImage, readImage, noiseBytes } from "../lib/disk-images.js";

const RUN = hasQemu() || !!process.env.CI;
const TRAP = 125; // boot/kernel.h EXIT_TRAP
const DRIVER = join(ROOT, "build", "nvme.wasm");

const CLIENT = `// A client probe: each ;-separated word of the command line exercises part of the blk interface.
@external("env", "console_write") declare function console_write(ptr: usize, len: i32): void;
@external("env", "cmdline") declare function cmdline(ptr: usize, cap: i32): i32;
@external("env", "poweroff") declare function poweroff(code: i32): void;
@external("blk", "controller_count") declare function controller_count(): u32;
@external("blk", "namespace_count") declare function namespace_count(): u32;
@external("blk", "describe_controller") declare function describe_controller(i: u32, ptr: usize): i32;
@external("blk", "describe_namespace") declare function describe_namespace(i: u32, ptr: usize): i32;
@external("blk", "controller_stats") declare function controller_stats(i: u32, ptr: usize): i32;
@external("blk", "identify_data") declare function identify_data(i: u32, ptr: usize): i32;
@external("blk", "buffer_bytes") declare function buffer_bytes(): u32;
@external("blk", "buffer_write") declare function buffer_write(off: u32, ptr: usize, len: u32): i32;
@external("blk", "buffer_read") declare function buffer_read(off: u32, ptr: usize, len: u32): i32;
@external("blk", "submit") declare function submit(tag: u32, op: u32, ns: u32, lba: u64, blocks: u32, off: u32): u32;
@external("blk", "complete") declare function complete(ptr: usize, cap: u32, timeout_ns: u64): i32;
@external("blk", "driver_errors") declare function driver_errors(): u32;
@external("blk", "shutdown") declare function shutdown(): u32;

const MEM: usize = 32 << 16;
const OUT = memory.data(1024);
const LINE = memory.data(1024);
const REC = memory.data(4096, 8);
const DONE = memory.data(16 * 128, 8);
const A = memory.data(8192, 8);
const B = memory.data(8192, 8);

let outLen = 0;
function put(s: string): void { for (let i = 0; i < s.length; i++) store<u8>(OUT + outLen++, <u8>s.charCodeAt(i)); }
function deep(n: i32): i32 { return n == 0 ? 0 : deep(n - 1) * 3 + 1; }
function say(s: string): void { put(s); store<u8>(OUT + outLen++, 10); console_write(OUT, outLen); outLen = 0; }
function hex(v: u32): string { return "0x" + v.toString(16); }

// Collects completions until \`want\` arrived (or 10 s of nothing); returns how many came.
let lastTag: u32 = 0, lastStatus: u32 = 0, tagSum: u32 = 0;
function collect(want: i32): i32 {
  let got = 0;
  for (let round = 0; got < want && round < 1000; round++) {
    const n = complete(DONE, 128, 10_000_000);
    for (let i = 0; i < n; i++) {
      lastTag = load<u32>(DONE + <usize>(i * 16));
      lastStatus = load<u32>(DONE + <usize>(i * 16 + 4));
      tagSum += lastTag;
    }
    got += n;
  }
  return got;
}

function ranges(): void {
  const share = buffer_bytes();
  put("ranges share=" + share.toString());
  put(" ctrl=" + describe_controller(0, REC).toString() + "," + describe_controller(9, REC).toString() + "," + describe_controller(0, MEM - 100).toString());
  put(" ns=" + describe_namespace(0, REC).toString() + "," + describe_namespace(9, REC).toString());
  put(" stats=" + controller_stats(0, REC).toString() + " identify=" + identify_data(0, REC).toString() + "," + identify_data(0, MEM - 4095).toString());
  put(" write=" + buffer_write(0, A, 4096).toString() + "," + buffer_write(share - 4095, A, 4096).toString() + "," +
      buffer_write(0, MEM - 10, 20).toString() + "," + buffer_write(0xffffffff, A, 2).toString());
  put(" read=" + buffer_read(share - 1, A, 1).toString() + "," + buffer_read(share, A, 1).toString());
  put(" submit=" + hex(submit(1, 1, 9, 0, 1, 0)) + "," + hex(submit(1, 1, 0, 0, 1, share - 256)) + "," +
      hex(submit(1, 1, 0, 0, 0x800000, 0)) + "," + hex(submit(1, 0x55, 0, 0, 1, 0)) + "," + hex(submit(1, 1, 0, 0xffffffffff, 1, 0)));
  say(" complete=" + complete(DONE, 16, 0).toString() + "," + complete(MEM + 16, 1, 0).toString());
}

function io(): void {
  for (let i: usize = 0; i < 8192; i += 4) store<u32>(A + i, <u32>(i * 2654435761));
  const w = buffer_write(0, A, 8192);
  const s1 = submit(7, 2, 0, 100, 16, 0);
  const d1 = collect(1);
  const t1 = lastTag, st1 = lastStatus;
  memory.fill(B, 0, 8192);
  buffer_write(65536, B, 8192);
  const s2 = submit(8, 1, 0, 100, 16, 65536);
  const d2 = collect(1);
  const t2 = lastTag, st2 = lastStatus;
  const r = buffer_read(65536, B, 8192);
  let same = 1;
  for (let i: usize = 0; i < 8192; i++) if (load<u8>(A + i) != load<u8>(B + i)) { same = 0; break; }
  const s3 = submit(9, 3, 0, 0, 0, 0xffffff00); // a flush: lba, blocks and offset are ignored
  collect(1);
  say("io write=" + w.toString() + "," + hex(s1) + "," + d1.toString() + "," + t1.toString() + "," + hex(st1) +
      " read=" + hex(s2) + "," + d2.toString() + "," + t2.toString() + "," + hex(st2) + "," + r.toString() + " same=" + same.toString() +
      " flush=" + hex(s3) + "," + lastTag.toString() + "," + hex(lastStatus));
}

// 500 reads of 8 blocks, as many in flight as the driver takes (busy: collect some, go on).
function batch(): void {
  tagSum = 0;
  let sent = 0, busy = 0, done = 0, errors = 0;
  for (let t: u32 = 0; t < 500; t++) {
    for (let k = 0; k < 100; k++) {
      const s = submit(t, t % 16 == 15 ? 1 : 0x101, 0, <u64>(t * 8 % 8192), 8, (t % 128) * 4096);
      if (s == 0) { sent++; break; }
      if (s != 0x10004) { errors++; break; }
      busy++;
      done += collect(1);
    }
  }
  done += collect(sent - done);
  say("batch sent=" + sent.toString() + " done=" + done.toString() + " errors=" + errors.toString() + " tagsum=" + tagSum.toString() +
      " busy=" + (busy > 0 ? "some" : "none") + " more=" + complete(DONE, 16, 0).toString());
}

export function main(): i32 {
  const n = cmdline(LINE, 1024);
  let text = "";
  for (let i = 0; i < min(n, 1024); i++) text += String.fromCharCode(load<u8>(LINE + i));
  say("count ctrl=" + controller_count().toString() + " ns=" + namespace_count().toString());
  const cmds = text.split(";");
  for (let c = 0; c < cmds.length; c++) {
    const op = cmds[c].trim();
    if (op == "ranges") ranges();
    else if (op == "io") io();
    else if (op == "batch") batch();
    else if (op == "trap") { submit(1, 1, 0, 0, 8, 0); unreachable(); }
    else if (op == "abort") assert(n < 0, "client abort");
    else if (op == "oob") console_write(MEM - 4, 8);
    // The client's own accesses past its 2 MiB (boot/guest-memory.h: its size is a constant there).
    else if (op == "load") say("loaded " + load<u32>(MEM - 2 + <usize>(n - n)).toString());
    else if (op == "store") { store<u8>(MEM + <usize>(n - n), 1); say("not reached"); }
    else if (op == "deep") say("deep " + deep(100000).toString());
    else if (op == "edge") { store<u8>(MEM - 1, 0x5a); say("edge " + load<u8>(MEM - 1).toString()); }
  }
  say("end shutdown=" + shutdown().toString() + " errors=" + driver_errors().toString());
  poweroff(0);
  return 0;
}
`;

const MiB = 1 << 20;
let tmp, kernel, client;

async function buildClient() {
  if (!existsSync(DRIVER)) throw new Error(`${DRIVER} missing: run make wasm (make test does)`);
  tmp = tempDir("nvme-wasm-link-test-");
  writeFileSync(tmp.path("client.ts"), CLIENT);
  const asc = (await import("assemblyscript/asc")).default;
  let err = "";
  const { error } = await asc.main(
    // --baseDir: never under the project's asconfig.json (whose targets write build/*.wat).
    [
      tmp.path("client.ts"),
      "-o",
      tmp.path("client.wasm"),
      "-O2",
      "--runtime",
      "stub",
      "--baseDir",
      tmp.dir,
      "--importMemory",
      "--initialMemory",
      "32",
      "--maximumMemory",
      "32",
    ],
    {
      stderr: {
        write: (s) => {
          err += s;
          return true;
        },
      },
      stdout: { write: () => true },
    },
  );
  if (error) throw new Error(`asc failed: ${err}`);
  execFileSync(join(ROOT, "boot", "build.sh"), [DRIVER, tmp.dir, tmp.path("client.wasm")], { stdio: "pipe" });
  kernel = tmp.path("kernel.elf");
  client = readFileSync(tmp.path("client.wasm"));
}

// The result lines of a run (both hosts print the same ones).
const results = (output) =>
  output
    .replace(/\r/g, "")
    .split("\n")
    .filter((l) => /^(count|ranges|io|batch|end) /.test(l));

describe.skipIf(!RUN)("block link of the bare-metal kernel (QEMU)", { timeout: 120000 }, () => {
  beforeAll(buildClient, 180000);
  afterAll(() => tmp?.remove());

  async function both(cmd, bytes, opts = {}) {
    const q = await bootQemu({
      kernel,
      disks: [{ path: writeImage(tmp.path("q.img"), bytes) }],
      cmd,
      timeoutMs: 60000,
      ...opts,
    });
    const s = await runSim({
      disks: [writeImage(tmp.path("s.img"), bytes)],
      cmd,
      shell: client,
      stdout: null,
      stderr: null,
    });
    return { q, s };
  }

  it("every blk import checks its ranges and answers as under Node", async () => {
    const { q, s } = await both("ranges", noiseBytes(4 * MiB, 1));
    expect(q.code, q.output).toBe(0);
    expect(s.code, s.output).toBe(0);
    const r = results(q.output);
    expect(r).toEqual(results(s.output));
    expect(r[0]).toBe("count ctrl=1 ns=1");
    expect(r[1]).toBe(
      "ranges share=8388608 ctrl=156,-1,-1 ns=36,-1 stats=104 identify=4096,-1 write=0,-1,-1,-1 read=0,-1" +
        " submit=0x10005,0x10008,0x10008,0x10009,0x10006 complete=0,-1",
    );
  });

  for (const irq of ["msix", "intx", "poll"]) {
    it(`requests complete through request_done, data moves through the share (irq=${irq})`, async () => {
      const bytes = noiseBytes(4 * MiB, 2);
      const { q, s } = await both(`irq=${irq}; io; batch`, bytes);
      expect(q.code, q.output).toBe(0);
      const r = results(q.output);
      expect(r).toEqual(results(s.output));
      expect(r[1]).toBe("io write=0,0x0,1,7,0x0 read=0x0,1,8,0x0,0 same=1 flush=0x0,9,0x0");
      expect(r[2]).toMatch(/^batch sent=500 done=500 errors=0 tagsum=124750 busy=\w+ more=0$/);
      expect(r[3]).toBe("end shutdown=0 errors=0");
      const after = readImage(tmp.path("q.img"));
      expect(
        after.subarray(100 * 512, 116 * 512).equals(readImage(tmp.path("s.img")).subarray(100 * 512, 116 * 512)),
      ).toBe(true);
      expect(after.subarray(0, 100 * 512).equals(bytes.subarray(0, 100 * 512))).toBe(true);
    });
  }

  it("build.sh says what is wrong with its modules", async () => {
    const run = (args) => {
      try {
        execFileSync(join(ROOT, "boot", "build.sh"), args, { stdio: "pipe" });
        return "";
      } catch (e) {
        return String(e.stderr);
      }
    };
    const empty = tmp.path("empty.wasm");
    writeFileSync(empty, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    expect(run([empty, tmp.path("out")])).toMatch(
      /exports neither main \(a probe guest\) nor start_cmdline \(the driver\)/,
    );
    expect(run([DRIVER, tmp.path("out"), tmp.path("missing.wasm")])).toMatch(/client .*missing\.wasm does not exist/);
    expect(run([DRIVER, tmp.path("out"), empty])).toMatch(/client .*empty\.wasm does not export main/);
    // A client importing the hardware ABI would be linked to the host's real functions: refused.
    const hostile = tmp.path("hostile.wasm");
    const wabt = await (await import("wabt")).default();
    writeFileSync(
      hostile,
      wabt
        .parseWat(
          "hostile.wat",
          `(module
      (import "env" "memory" (memory 32 32))
      (import "env" "mmio_write32" (func $w (param i32 i32 i32)))
      (import "env" "dma_address" (func $d (param i32 i32) (result i64)))
      (func (export "main") (result i32) (call $w (i32.const 1) (i32.const 20) (i32.const 1)) (i32.const 0)))`,
        )
        .toBinary({}).buffer,
    );
    expect(run([DRIVER, tmp.path("out"), hostile])).toMatch(
      /client .*hostile\.wasm imports env\.dma_address env\.mmio_write32: a client reaches devices only through the driver's blk interface/,
    );
  });

  it("the client's last byte of memory is stored and read back", async () => {
    const r = await bootQemu({
      kernel,
      disks: [{ path: writeImage(tmp.path("e.img"), noiseBytes(MiB, 4)) }],
      cmd: "edge",
      timeoutMs: 60000,
    });
    expect(r.code, r.output).toBe(0);
    expect(r.lines).toContain("edge 90");
  });

  const traps = [
    ["trap", /^trap: unreachable$/],
    ["abort", /^trap: abort: client abort at .*client\.ts:\d+:\d+$/],
    ["oob", /^trap: out of bounds memory access \(shell console_write: ptr=0x1ffffc len=8\)$/],
    ["load", /^trap: out of bounds memory access$/],
    ["store", /^trap: out of bounds memory access$/],
    ["deep", /^trap: call stack exhausted$/],
  ];
  for (const [cmd, re] of traps) {
    it(`a trap in the client ('${cmd}') is one clear line, stops the driver's devices, exit ${TRAP}`, async () => {
      const r = await bootQemu({
        kernel,
        disks: [{ path: writeImage(tmp.path("t.img"), noiseBytes(MiB, 3)) }],
        cmd,
        timeoutMs: 60000,
      });
      expect(r.code, r.output).toBe(TRAP);
      const i = r.lines.findIndex((l) => re.test(l));
      expect(i, r.output).toBeGreaterThan(0);
      expect(r.lines[i + 1]).toBe("host: bus mastering cleared on 00:03.0");
      expect(r.lines.some((l) => l.startsWith("end "))).toBe(false);
    });
  }
});
