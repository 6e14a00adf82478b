#!/usr/bin/env node
// Builds build/nvme.wasm from assembly/ when it is missing or older than its sources,
// then checks the allocation-free rule on the text form: no memory.grow, no runtime allocator.
import { readdirSync, statSync, readFileSync, existsSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const WASM = join(ROOT, "build", "nvme.wasm");
const WAT = join(ROOT, "build", "nvme.wat");

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

export function isStale() {
  if (!existsSync(WASM) || !existsSync(WAT)) return true;
  const built = statSync(WASM).mtimeMs;
  const inputs = [...sources(join(ROOT, "assembly")), join(ROOT, "asconfig.json")];
  return inputs.some((p) => statSync(p).mtimeMs > built);
}

// The guest must never allocate: its memory is the DMA window and does not move.
export function checkAllocationFree(watText) {
  const problems = [];
  if (/\bmemory\.grow\b/.test(watText)) problems.push("memory.grow present");
  for (const fn of ["__alloc", "__new", "__renew", "__realloc", "__collect"]) {
    if (new RegExp(`\\(func \\$~lib/rt/[^ ]*/${fn}\\b`).test(watText)) problems.push(`runtime allocator ${fn} linked in`);
  }
  return problems;
}

export async function buildWasm({ force = false, quiet = false } = {}) {
  if (!force && !isStale()) return WASM;
  mkdirSync(join(ROOT, "build"), { recursive: true });
  const asc = (await import("assemblyscript/asc")).default;
  let errText = "";
  const { error } = await asc.main(
    ["assembly/main.ts", "--config", "asconfig.json", "--target", "release"],
    {
      stdout: { write: (s) => { if (!quiet) process.stdout.write(s); return true; } },
      stderr: { write: (s) => { errText += s; return true; } },
      readFile: (name, base) => { const p = join(base ?? ROOT, name); return existsSync(p) ? readFileSync(p, "utf8") : null; },
      baseDir: ROOT,
    },
  );
  if (error || /ERROR/.test(errText)) {
    throw new Error(`asc failed:\n${errText}${error ? "\n" + error.message : ""}`);
  }
  if (errText && !quiet) process.stderr.write(errText);
  const problems = checkAllocationFree(readFileSync(WAT, "utf8"));
  if (problems.length) throw new Error(`build/nvme.wasm breaks the allocation-free rule: ${problems.join(", ")}`);
  return WASM;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const force = process.argv.includes("--force");
  buildWasm({ force }).then(
    (p) => { console.log(`${p.replace(ROOT + "/", "")}: ${statSync(p).size} bytes`); },
    (e) => { console.error(e.message); process.exit(1); },
  );
}
