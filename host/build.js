#!/usr/bin/env node
// Builds the guest modules from assembly/ when they are missing or older than their sources:
//   build/nvme.wasm   the driver   (assembly/driver + assembly/common), asconfig.json target "driver"
//   build/shell.wasm  the shell    (assembly/shell + assembly/common),  asconfig.json target "shell"
//   build/trace.wasm  the trace decoder (assembly/trace + assembly/common), target "trace"
//   build/fs.wasm     partitions and FAT (assembly/fs + assembly/common), target "fs"
// and checks the rules on what comes out: no memory.grow and no runtime allocator in either (their
// memory is fixed; the driver's is the DMA window); the driver within DRIVER_BYTES_MAX; the shell
// importing nothing of the hardware ABI.
import { readdirSync, statSync, readFileSync, existsSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DRIVER_BYTES_MAX = 32768;
export const HARDWARE_IMPORT = /^(pci_|mmio_|dma_|irq_)/;

export const MODULES = {
  driver: {
    entry: "assembly/driver/main.ts",
    dirs: ["assembly/driver", "assembly/common"],
    wasm: join(ROOT, "build", "nvme.wasm"),
    wat: join(ROOT, "build", "nvme.wat"),
  },
  shell: {
    entry: "assembly/shell/main.ts",
    dirs: ["assembly/shell", "assembly/common"],
    wasm: join(ROOT, "build", "shell.wasm"),
    wat: join(ROOT, "build", "shell.wat"),
  },
  trace: {
    entry: "assembly/trace/main.ts",
    dirs: ["assembly/trace", "assembly/common"],
    wasm: join(ROOT, "build", "trace.wasm"),
    wat: join(ROOT, "build", "trace.wat"),
  },
  fs: {
    entry: "assembly/fs/main.ts",
    dirs: ["assembly/fs", "assembly/common"],
    wasm: join(ROOT, "build", "fs.wasm"),
    wat: join(ROOT, "build", "fs.wat"),
  },
};
export const WASM = MODULES.driver.wasm;
export const SHELL_WASM = MODULES.shell.wasm;
export const TRACE_WASM = MODULES.trace.wasm;
export const FS_WASM = MODULES.fs.wasm;
// What fs.wasm may import: the blk calls a filesystem needs, and its memory (docs/fs-interface.md).
export const FS_IMPORTS = [
  "env.memory",
  "env.abort",
  "blk.namespace_count",
  "blk.describe_namespace",
  "blk.buffer_bytes",
  "blk.buffer_read",
  "blk.submit",
  "blk.complete",
];

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

export function isStale(module = MODULES.driver) {
  if (!existsSync(module.wasm) || !existsSync(module.wat)) return true;
  const built = statSync(module.wasm).mtimeMs;
  const inputs = [
    ...module.dirs.flatMap((d) => sources(join(ROOT, d))),
    join(ROOT, "asconfig.json"),
    join(ROOT, "host", "ascii-strings.js"),
  ];
  return inputs.some((p) => statSync(p).mtimeMs > built);
}

// A guest must never allocate: its memory is fixed (the driver's is the DMA window) and does not move.
export function checkAllocationFree(watText) {
  const problems = [];
  if (/\bmemory\.grow\b/.test(watText)) problems.push("memory.grow present");
  for (const fn of ["__alloc", "__new", "__renew", "__realloc", "__collect"]) {
    if (new RegExp(`\\(func \\$~lib/rt/[^ ]*/${fn}\\b`).test(watText))
      problems.push(`runtime allocator ${fn} linked in`);
  }
  return problems;
}

// The rules of docs/block-interface.md on the finished modules.
export function checkModule(name, bytes) {
  const problems = [];
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
  if (name === "driver" && bytes.length > DRIVER_BYTES_MAX)
    problems.push(`${bytes.length} bytes, more than ${DRIVER_BYTES_MAX}`);
  if (name === "trace") {
    for (const i of imports)
      if (i.module !== "env" || !["memory", "abort", "console_write"].includes(i.name))
        problems.push(`the decoder imports ${i.module}.${i.name}`);
  }
  if (name === "fs") {
    for (const i of imports)
      if (!FS_IMPORTS.includes(`${i.module}.${i.name}`)) problems.push(`the fs module imports ${i.module}.${i.name}`);
  }
  if (name === "shell") {
    for (const i of imports) {
      const fsCall = i.module === "fs" && i.name === "call"; // fs.wasm's messages, through the host
      if (i.module !== "env" && i.module !== "blk" && !fsCall) problems.push(`imports ${i.module}.${i.name}`);
    }
    for (const i of imports)
      if (HARDWARE_IMPORT.test(i.name)) problems.push(`imports the hardware ABI: ${i.module}.${i.name}`);
  }
  return problems;
}

async function compile(name, quiet) {
  const m = MODULES[name];
  const asc = (await import("assemblyscript/asc")).default;
  let errText = "";
  const { error } = await asc.main(
    // The config by its absolute path: asc 0.28 finds the transform it names (./host/ascii-strings.js)
    // from the config's directory, and cannot when that is ".".
    [m.entry, "--config", join(ROOT, "asconfig.json"), "--target", name],
    {
      stdout: {
        write: (s) => {
          if (!quiet) process.stdout.write(s);
          return true;
        },
      },
      stderr: {
        write: (s) => {
          errText += s;
          return true;
        },
      },
      readFile: (file, base) => {
        const p = join(base ?? ROOT, file);
        return existsSync(p) ? readFileSync(p, "utf8") : null;
      },
      baseDir: ROOT,
    },
  );
  if (error || /ERROR/.test(errText))
    throw new Error(`asc (${name}) failed:\n${errText}${error ? "\n" + error.message : ""}`);
  if (errText && !quiet) process.stderr.write(errText);
  const problems = [...checkAllocationFree(readFileSync(m.wat, "utf8")), ...checkModule(name, readFileSync(m.wasm))];
  if (problems.length)
    throw new Error(`${m.wasm.replace(ROOT + "/", "")} breaks the module rules: ${problems.join(", ")}`);
}

// Builds what is stale; returns the driver's path (the shell's is SHELL_WASM).
export async function buildWasm({ force = false, quiet = false } = {}) {
  mkdirSync(join(ROOT, "build"), { recursive: true });
  for (const name of Object.keys(MODULES)) {
    if (force || isStale(MODULES[name])) await compile(name, quiet);
  }
  return WASM;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const force = process.argv.includes("--force");
  buildWasm({ force }).then(
    () => {
      for (const m of Object.values(MODULES))
        console.log(`${m.wasm.replace(ROOT + "/", "")}: ${statSync(m.wasm).size} bytes`);
    },
    (e) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
