#!/usr/bin/env node
// Gives the C functions wasm2c made from a module with a name section the names of that section:
//   node boot/w2c-names.js FILE.c MODULE.wasm [HEADER_DIR ...]
// wasm2c 1.0.32 names a function w2c_<name> (`bringUp` -> w2c_bringUp, any character other than
// [A-Za-z0-9_] made `_`); this drops the w2c_ prefix in FILE.c, so the C function, its symbol and
// its DWARF name are `bringUp` and gdb's `break bringUp` finds it. A name that is already an
// identifier of FILE.c, of a header in HEADER_DIRs (what FILE.c includes: wasm-rt.h, the generated
// header, boot/include) or a C keyword keeps its prefix, and is listed. boot/build.sh runs this for
// the debug kernel (W2C_KEEP_NAMES=1, boot/build-debug.sh); the functions are static, so two
// modules may have the same names.
import { readFileSync, writeFileSync, readdirSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { functionNames } from "./debug-wasm.js";

const RESERVED = new Set(
  (
    "auto break case char const continue default do double else enum extern float for goto if " +
    "inline int long register restrict return short signed sizeof static struct switch typedef union unsigned void " +
    "volatile while asm typeof main unix linux i386 _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary " +
    "_Noreturn _Static_assert _Thread_local"
  ).split(" "),
);

// The identifiers of C text, comments and string and character literals left out.
const identifiers = (text) =>
  text
    .replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(\\.|[^"\\\n])*"|'(\\.|[^'\\\n])*'/g, " ")
    .match(/\b[A-Za-z_][A-Za-z0-9_]*\b/g) ?? [];

// { renamed: [[from, to]], kept: [name] }
export function keepNames(cFile, wasmFile, headerDirs = []) {
  let c = readFileSync(cFile, "utf8");
  const { names, imports } = functionNames(readFileSync(wasmFile));
  const wanted = new Map(); // w2c_<legal name> -> legal name
  for (const [i, n] of names)
    if (i >= imports) {
      const legal = n.replace(/[^A-Za-z0-9_]/g, "_");
      wanted.set(`w2c_${legal}`, legal);
    }
  const present = new Set(identifiers(c));
  for (const dir of headerDirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (f.endsWith(".h") && statSync(p).isFile())
        for (const id of identifiers(readFileSync(p, "utf8"))) present.add(id);
    }
  }
  const rename = new Map(),
    kept = [];
  for (const [from, to] of wanted) {
    if (!present.has(from)) continue; // wasm2c chose another name for it
    if (present.has(to) || RESERVED.has(to) || /^[0-9]/.test(to)) {
      kept.push(to);
      continue;
    }
    rename.set(from, to);
  }
  c = c.replace(/\bw2c_[A-Za-z0-9_]+\b/g, (id) => rename.get(id) ?? id);
  writeFileSync(cFile, c);
  return { renamed: [...rename], kept };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [cFile, wasmFile, ...dirs] = process.argv.slice(2);
  if (!cFile || !wasmFile) {
    console.error("usage: node boot/w2c-names.js FILE.c MODULE.wasm [HEADER_DIR ...]");
    process.exit(2);
  }
  try {
    const { renamed, kept } = keepNames(cFile, wasmFile, dirs);
    if (kept.length)
      console.error(
        `w2c-names: ${cFile}: ${kept.length} names clash with C identifiers and keep their w2c_ prefix: ${kept.join(" ")}`,
      );
    if (!renamed.length)
      console.error(`w2c-names: ${cFile}: no named functions found (a module without a name section?)`);
  } catch (e) {
    console.error(`w2c-names: ${e.message}`);
    process.exit(1);
  }
}
