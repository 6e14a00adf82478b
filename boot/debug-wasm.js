#!/usr/bin/env node
// The debug variants of the guest modules, for `make debug` (boot/build-debug.sh):
//   node boot/debug-wasm.js [OUTDIR]        (default build/debug)
// writes OUTDIR/nvme.wasm, shell.wasm, trace.wasm, fs.wasm (and their .wat): the targets of asconfig.json,
// the same options, plus asc's --debug, which keeps a name section. build/nvme.wasm is not touched
// (its size is budgeted; a name section would not fit): without its name section, OUTDIR/nvme.wasm
// is byte for byte build/nvme.wasm, which this script checks and says.
//
// The driver's names are then made short, so that gdb's `break bringUp` finds the function: asc
// names it `assembly/driver/nvme/bringup/bringUp`, wasm2c 1.0.32 would make that
// w2c_assembly_driver_nvme_bringup_bringUp. Each function is named by the last part of its name
// (`bringUp`; a method `QueuePair#ringSubmission` by `ringSubmission`), generic arguments dropped
// and any other character than [A-Za-z0-9_] made `_`. Names used twice are told apart: the
// driver's own function with the shortest path keeps the short name (`submit` is the export of
// main.ts, the IO path's is `requests_submit`), the others get the part before (`requests_submit`,
// `QueuePair_reset`), then a number. boot/build.sh then drops wasm2c's w2c_ prefix
// (boot/w2c-names.js). The shell's and the decoder's names stay whole
// (`assembly_shell_commands_…`), so they never shadow the driver's.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { MODULES, ROOT } from "../host/build.js";

const OUTPUTS = { driver: "nvme", shell: "shell", trace: "trace", fs: "fs" };

// ---- the binary format: LEB128, sections, the name section (WebAssembly core spec 5.2, 5.5, 7.4)

function readU32(b, p) {
  let v = 0,
    shift = 0,
    byte;
  do {
    byte = b[p.at++];
    v |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  return v >>> 0;
}

function u32Bytes(v) {
  const out = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return Buffer.from(out);
}

const nameBytes = (s) => Buffer.concat([u32Bytes(Buffer.byteLength(s)), Buffer.from(s, "utf8")]);

// [{ id, start, end, payloadStart, name? }] of a module.
export function sections(bytes) {
  if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error("not a wasm module");
  const out = [];
  const p = { at: 8 };
  while (p.at < bytes.length) {
    const start = p.at;
    const id = bytes[p.at++];
    const size = readU32(bytes, p);
    const payloadStart = p.at;
    const s = { id, start, end: payloadStart + size, payloadStart };
    if (id === 0) {
      const q = { at: payloadStart };
      const n = readU32(bytes, q);
      s.name = bytes.subarray(q.at, q.at + n).toString("utf8");
      s.contentStart = q.at + n;
    }
    out.push(s);
    p.at = s.end;
  }
  return out;
}

// The module without its name section.
export function withoutNames(bytes) {
  const keep = sections(bytes).filter((s) => !(s.id === 0 && s.name === "name"));
  return Buffer.concat([bytes.subarray(0, 8), ...keep.map((s) => bytes.subarray(s.start, s.end))]);
}

// Function names of the name section: Map index -> name, and the imported function count.
export function functionNames(bytes) {
  const all = sections(bytes);
  const names = new Map();
  const ns = all.find((s) => s.id === 0 && s.name === "name");
  if (ns) {
    const p = { at: ns.contentStart };
    while (p.at < ns.end) {
      const sub = bytes[p.at++];
      const size = readU32(bytes, p);
      const end = p.at + size;
      if (sub === 1) {
        for (let n = readU32(bytes, p); n > 0; n--) {
          const idx = readU32(bytes, p);
          const len = readU32(bytes, p);
          names.set(idx, bytes.subarray(p.at, p.at + len).toString("utf8"));
          p.at += len;
        }
      }
      p.at = end;
    }
  }
  // Imported functions come first in the function index space.
  let imports = 0;
  const imp = all.find((s) => s.id === 2);
  if (imp) {
    const p = { at: imp.payloadStart };
    for (let n = readU32(bytes, p); n > 0; n--) {
      for (let k = 0; k < 2; k++) {
        const len = readU32(bytes, p);
        p.at += len;
      } // module, field
      const kind = bytes[p.at++];
      if (kind === 0) {
        readU32(bytes, p);
        imports++;
      } // func: type index
      else if (kind === 1) {
        p.at++;
        limits(bytes, p);
      } // table: reftype, limits
      else if (kind === 2) {
        limits(bytes, p);
      } // memory: limits
      else if (kind === 3) {
        p.at += 2;
      } // global: valtype, mut
      else throw new Error(`import kind ${kind}`);
    }
  }
  return { names, imports };
}

function limits(b, p) {
  const flag = b[p.at++];
  readU32(b, p);
  if (flag & 1) readU32(b, p);
}

// The module with subsection 1 (function names) of its name section replaced; the others kept.
export function renameFunctions(bytes, rename) {
  const all = sections(bytes);
  const ns = all.find((s) => s.id === 0 && s.name === "name");
  if (!ns) throw new Error("no name section");
  const subs = [];
  const p = { at: ns.contentStart };
  while (p.at < ns.end) {
    const sub = bytes[p.at++];
    const size = readU32(bytes, p);
    subs.push({ sub, body: bytes.subarray(p.at, p.at + size) });
    p.at += size;
  }
  const entries = [...rename.entries()].sort((a, b) => a[0] - b[0]);
  const body = Buffer.concat([
    u32Bytes(entries.length),
    ...entries.map(([i, n]) => Buffer.concat([u32Bytes(i), nameBytes(n)])),
  ]);
  const content = Buffer.concat([
    nameBytes("name"),
    ...subs.map((s) => {
      const b = s.sub === 1 ? body : s.body;
      return Buffer.concat([Buffer.from([s.sub]), u32Bytes(b.length), b]);
    }),
  ]);
  const section = Buffer.concat([Buffer.from([0]), u32Bytes(content.length), content]);
  return Buffer.concat([bytes.subarray(0, ns.start), section, bytes.subarray(ns.end)]);
}

// ---- short names ----

const sanitize = (s) => {
  const t = s.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(t) || t === "" ? "f_" + t : t;
};

function dropGenerics(s) {
  let prev;
  do {
    prev = s;
    s = s.replace(/<[^<>]*>/g, "");
  } while (s !== prev);
  return s;
}

// [path parts..., leaf]: "assembly/driver/nvme/queue/QueuePair#reset" -> [assembly, driver, nvme, queue, QueuePair, reset]
function parts(full) {
  return dropGenerics(full)
    .replace(/^~/, "")
    .split(/[/#]/)
    .filter((x) => x !== "");
}

// Map index -> short unique name for the module's own (not imported) functions.
export function shortNames(names, imports) {
  const own = [...names.entries()].filter(([i]) => i >= imports);
  const rank = ([i, full]) => [full.startsWith("assembly/") ? 0 : 1, parts(full).length, i];
  const cmp = (a, b) => {
    const x = rank(a),
      y = rank(b);
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return x[k] - y[k];
    return 0;
  };
  own.sort(cmp);
  const taken = new Set(),
    out = new Map();
  for (const [i, full] of own) {
    const ps = parts(full).map((x) => x.replace(/@varargs$/, "_varargs"));
    const leaf = sanitize(ps[ps.length - 1] ?? `f${i}`);
    let name = leaf;
    for (let k = ps.length - 2; taken.has(name) && k >= 0; k--) name = sanitize(ps.slice(k).join("_"));
    for (let n = 2; taken.has(name); n++) name = `${leaf}_${n}`;
    taken.add(name);
    out.set(i, name);
  }
  return out;
}

// ---- building ----

async function compile(name, outDir) {
  const m = MODULES[name];
  const base = OUTPUTS[name];
  const wasm = join(outDir, `${base}.wasm`),
    wat = join(outDir, `${base}.wat`);
  const asc = (await import("assemblyscript/asc")).default;
  let errText = "";
  const { error } = await asc.main(
    // The config by its absolute path, as host/build.js gives it (its transform is found from there).
    [
      m.entry,
      "--config",
      join(ROOT, "asconfig.json"),
      "--target",
      name,
      "--debug",
      "--outFile",
      wasm,
      "--textFile",
      wat,
    ],
    {
      stdout: { write: () => true },
      stderr: {
        write: (s) => {
          errText += s;
          return true;
        },
      },
      readFile: (file, b) => {
        const p = join(b ?? ROOT, file);
        return existsSync(p) ? readFileSync(p, "utf8") : null;
      },
      writeFile: (file, contents, b) => {
        const p = resolve(b ?? ROOT, file);
        if (p !== wasm && p !== wat) throw new Error(`asc wanted to write ${p}, not an output of the debug build`);
        writeFileSync(p, contents);
      },
      baseDir: ROOT,
    },
  );
  if (error || /ERROR/.test(errText))
    throw new Error(`asc --debug (${name}) failed:\n${errText}${error ? "\n" + error.message : ""}`);
  return wasm;
}

export async function buildDebug(outDir = join(ROOT, "build", "debug")) {
  outDir = resolve(outDir);
  mkdirSync(outDir, { recursive: true });
  const report = [];
  for (const name of Object.keys(OUTPUTS)) {
    const wasm = await compile(name, outDir);
    let bytes = readFileSync(wasm);
    if (name === "driver") {
      const { names, imports } = functionNames(bytes);
      const short = shortNames(names, imports);
      bytes = renameFunctions(bytes, new Map([...names].filter(([i]) => i < imports).concat([...short])));
      writeFileSync(wasm, bytes);
      const release = MODULES.driver.wasm;
      const same = existsSync(release) && withoutNames(bytes).equals(readFileSync(release));
      report.push(
        `${wasm.replace(ROOT + "/", "")}: ${short.size} functions named (bringUp, submit, reap, …); ` +
          (same
            ? `without its name section it is ${release.replace(ROOT + "/", "")}, byte for byte`
            : `its code differs from ${release.replace(ROOT + "/", "")} (stale? make wasm rebuilds it)`),
      );
    } else {
      report.push(`${wasm.replace(ROOT + "/", "")}: ${functionNames(bytes).names.size} functions named`);
    }
  }
  return report;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  buildDebug(process.argv[2]).then(
    (report) => {
      for (const l of report) console.log(`debug-wasm: ${l}`);
    },
    (e) => {
      console.error(`debug-wasm: ${e.message}`);
      process.exit(1);
    },
  );
}
