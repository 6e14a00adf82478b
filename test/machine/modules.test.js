// The boundary between the driver and its clients, checked on what the build produces and on the
// sources: the driver within its size budget, the shell importing nothing of the hardware ABI, no
// client source reaching into the driver, and the block interface's numbers the same in AssemblyScript,
// JavaScript and C.
import { describe, it, expect } from "vitest";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { buildWasm, WASM, SHELL_WASM, FS_WASM, DRIVER_BYTES_MAX, HARDWARE_IMPORT, ROOT } from "../../host/build.js";
import * as link from "../../host/block-link.js";

const abiConstants = () => {
  const text = readFileSync(join(ROOT, "assembly/common/abi.ts"), "utf8");
  const out = new Map();
  for (const m of text.matchAll(/^export const (\w+): [iu]32 = (-?(?:0x[0-9a-f]+|\d+));/gim))
    out.set(m[1], Number(m[2]));
  return out;
};

const tsFiles = (dir) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(ROOT, dir, f));
const importsOf = (file) => [...readFileSync(file, "utf8").matchAll(/from "([^"]+)"/g)].map((m) => m[1]);

describe("the module boundary", () => {
  it(`nvme.wasm stays within ${DRIVER_BYTES_MAX} bytes, and exports the block interface (no main)`, async () => {
    await buildWasm({ quiet: true });
    const bytes = readFileSync(WASM);
    expect(bytes.length).toBeLessThanOrEqual(DRIVER_BYTES_MAX);
    const names = WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name);
    for (const n of [
      "start",
      "start_cmdline",
      "describe_controller",
      "describe_namespace",
      "identify_data",
      "controller_stats",
      "buffer_base",
      "buffer_bytes",
      "submit",
      "poll",
      "interrupt",
      "tick",
      "wait_hint",
      "outstanding",
      "log_errors",
      "shutdown",
    ]) {
      expect(names).toContain(n);
    }
    expect(names).not.toContain("main");
  });

  it("shell.wasm imports nothing of the hardware ABI: only blk.*, fs.call and console, time, command line, poweroff", async () => {
    await buildWasm({ quiet: true });
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(SHELL_WASM)));
    expect(imports.filter((i) => HARDWARE_IMPORT.test(i.name))).toEqual([]);
    const env = imports
      .filter((i) => i.module === "env")
      .map((i) => i.name)
      .sort();
    expect(env).toEqual(["abort", "cmdline", "console_read", "console_write", "memory", "now_ns", "poweroff"]);
    expect(new Set(imports.map((i) => i.module))).toEqual(new Set(["env", "blk", "fs"]));
    expect(imports.filter((i) => i.module === "fs").map((i) => i.name)).toEqual(["call"]);
  });

  it("fs.wasm imports only its memory, abort and the blk calls of a reader: no console, no hardware, no write", async () => {
    await buildWasm({ quiet: true });
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(FS_WASM)))
      .map((i) => `${i.module}.${i.name}`)
      .sort();
    expect(imports).toEqual([
      "blk.buffer_bytes",
      "blk.buffer_read",
      "blk.complete",
      "blk.describe_namespace",
      "blk.submit",
      "env.abort",
      "env.memory",
    ]);
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(FS_WASM)))
      .map((e) => e.name)
      .sort();
    for (const n of ["fs_handle", "fs_inbox", "fs_inbox_bytes", "fs_outbox"]) expect(exports).toContain(n);
  });

  it("no client source imports the driver's files, and the driver imports no client's", () => {
    for (const f of tsFiles("assembly/shell")) for (const i of importsOf(f)) expect(i, f).not.toMatch(/driver\/|fs\//);
    for (const f of tsFiles("assembly/fs")) for (const i of importsOf(f)) expect(i, f).not.toMatch(/driver\/|shell\//);
    for (const dir of ["assembly/driver", "assembly/driver/nvme"])
      for (const f of tsFiles(dir)) for (const i of importsOf(f)) expect(i, f).not.toMatch(/shell\//);
    for (const f of tsFiles("assembly/common")) for (const i of importsOf(f)) expect(i, f).toMatch(/^\.\/[a-z]+$/);
  });

  it("the block interface's numbers agree: assembly/common/abi.ts, host/block-link.js, boot/nvme_wasm.h", () => {
    const abi = abiConstants();
    expect(abi.size).toBeGreaterThan(60);
    for (const [name, value] of Object.entries(link)) {
      if (typeof value !== "number") continue;
      expect(abi.get(name), `host/block-link.js ${name}`).toBe(value);
    }
    const header = join(ROOT, "boot/nvme_wasm.h");
    expect(existsSync(header)).toBe(true);
    const c = new Map();
    for (const m of readFileSync(header, "utf8").matchAll(
      /^#define NVME_(\w+)\s+\(?(-?(?:0x[0-9a-fA-F]+|\d+))[uU]?\)?/gm,
    ))
      c.set(m[1], Number(m[2]));
    for (const [name, value] of abi) expect(c.get(name), `boot/nvme_wasm.h NVME_${name}`).toBe(value);
  });
});
