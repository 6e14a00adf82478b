// The compiler transform host/ascii-strings.js (asconfig.json): printed string literals stored as
// ASCII bytes, one a character, not as UTF-16 strings. On a small program compiled here (what it
// rewrites, what it refuses), and on the driver the build produces.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildWasm, WASM, ROOT } from "../../host/build.js";
import AsciiStrings from "../../host/ascii-strings.js";

const CONSOLE = readFileSync(join(ROOT, "assembly/common/console.ts"), "utf8");

// Compiles assembly/t.ts (with the real console.ts) as the modules are compiled; the transform is
// given directly, no asconfig.json is read.
async function compile(source, { transform = true } = {}) {
  const asc = (await import("assemblyscript/asc")).default;
  const files = { "assembly/t.ts": source, "assembly/common/console.ts": CONSOLE };
  let wasm = null, stderr = "";
  const { error } = await asc.main(
    ["assembly/t.ts", "--outFile", "t.wasm", "--runtime", "stub", "--importMemory", "--initialMemory", "1",
      "--optimizeLevel", "3", "--shrinkLevel", "1"],
    {
      transforms: transform ? [AsciiStrings] : [],
      readFile: (name) => files[name.replace(/^\.\//, "")] ?? null,
      writeFile: (name, data) => { if (name.endsWith(".wasm")) wasm = Buffer.from(data); },
      listFiles: () => [],
      stdout: { write: () => true },
      stderr: { write: (s) => { stderr += s; return true; } },
    },
  );
  return { wasm: error ? null : wasm, stderr, error };
}

// What main() prints.
async function run(wasm) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  let out = "";
  const { instance } = await WebAssembly.instantiate(wasm, {
    env: {
      memory,
      abort: () => { throw new Error("abort"); },
      console_write: (ptr, len) => { out += Buffer.from(memory.buffer, ptr, len).toString("latin1"); },
    },
  });
  instance.exports.main();
  return out;
}

const utf16 = (s) => Buffer.from(s, "utf16le");
const ascii = (s) => Buffer.from(s, "latin1");
const lengthPrefixed = (s) => Buffer.concat([Buffer.from([s.length]), ascii(s)]);

const PROGRAM = `
import { put, putLine, ascii, Text, newline } from "./common/console";
function label(name: Text, v: i32): void { put(name); put(v != 0 ? "=on " : "=off "); }
function reason(r: u32): Text { return r == 1 ? ascii("first reason") : ascii("other reason"); }
export function main(): void {
  put("plain literal, ");
  label("lamp", 1);
  put(reason(1)); newline();
  putLine("a line\\twith a tab");
}
`;
const PRINTED = "plain literal, lamp=on first reason\na line\twith a tab\n";

// Compiling takes seconds when the machine is busy.
const SLOW = { timeout: 60_000 };

describe("host/ascii-strings.js, the ASCII strings transform", SLOW, () => {
  it("rewrites printed literals into length-prefixed ASCII bytes, and the program prints exactly what it printed as strings", async () => {
    const withIt = await compile(PROGRAM);
    expect(withIt.stderr).toBe("");
    expect(await run(withIt.wasm)).toBe(PRINTED);
    for (const s of ["plain literal, ", "lamp", "=on ", "first reason", "a line\twith a tab"]) {
      expect(withIt.wasm.includes(lengthPrefixed(s)), s).toBe(true);
      expect(withIt.wasm.includes(utf16(s)), s).toBe(false);
    }
    // Without the transform, put and putLine still print strings (what it saved: the UTF-16 copies),
    // but a Text cannot be made from a literal.
    const plain = `
import { put, putLine } from "./common/console";
export function main(): void { put("plain literal, "); putLine("a line\\twith a tab"); }
`;
    const without = await compile(plain, { transform: false });
    expect(without.stderr).toBe("");
    expect(await run(without.wasm)).toBe("plain literal, a line\twith a tab\n");
    expect(without.wasm.includes(utf16("plain literal, "))).toBe(true);
    expect(without.wasm.length).toBeGreaterThan((await compile(plain)).wasm.length);
    const marker = await compile(PROGRAM, { transform: false });
    expect(marker.wasm).toBeNull();
  });

  it("stores a text used twice once", async () => {
    const { wasm, stderr } = await compile(`
import { put, putLine } from "./common/console";
export function main(): void { put("twice said"); putLine("twice said"); }
`);
    expect(stderr).toBe("");
    expect(await run(wasm)).toBe("twice saidtwice said\n");
    const at = wasm.indexOf(lengthPrefixed("twice said"));
    expect(at).toBeGreaterThan(0);
    expect(wasm.indexOf(lengthPrefixed("twice said"), at + 1)).toBe(-1);
  });

  it("refuses a literal that is not printable ASCII, naming its file and line", async () => {
    for (const [literal, code] of [["caf\u00e9", "U+00E9"], ["bell\\u0007", "U+0007"], ["x".repeat(256), "256 characters"]]) {
      const { wasm, stderr, error } = await compile(`
import { putLine } from "./common/console";
export function main(): void {
  putLine("${literal}");
}
`);
      expect(wasm).toBeNull();
      expect(error).toBeTruthy();
      expect(stderr).toContain("assembly/t.ts:4:");
      expect(stderr).toContain(code);
    }
  });

  it("ascii() takes a string literal only", async () => {
    const { wasm, stderr } = await compile(`
import { put, ascii } from "./common/console";
const s = "not a literal at the call";
export function main(): void { put(ascii(s)); }
`);
    expect(wasm).toBeNull();
    expect(stderr).toContain("assembly/t.ts:4: ascii() takes one string literal");
  });

  it("build/nvme.wasm holds the driver's messages in ASCII, with no UTF-16 copy", async () => {
    await buildWasm({ quiet: true });
    const bytes = readFileSync(WASM);
    for (const s of [" reset ok us=", "nvme-wasm: NVMe driver (AssemblyScript guest) starting", "Identify Controller failed"]) {
      expect(bytes.includes(lengthPrefixed(s)), s).toBe(true);
      expect(bytes.includes(utf16(s.trim())), s).toBe(false);
    }
  });
});
