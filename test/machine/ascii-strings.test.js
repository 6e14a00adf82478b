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
  let wasm = null,
    stderr = "";
  const { error } = await asc.main(
    [
      "assembly/t.ts",
      "--outFile",
      "t.wasm",
      "--runtime",
      "stub",
      "--importMemory",
      "--initialMemory",
      "1",
      "--optimizeLevel",
      "3",
      "--shrinkLevel",
      "1",
    ],
    {
      transforms: transform ? [AsciiStrings] : [],
      readFile: (name) => files[name.replace(/^\.\//, "")] ?? null,
      writeFile: (name, data) => {
        if (name.endsWith(".wasm")) wasm = Buffer.from(data);
      },
      listFiles: () => [],
      stdout: { write: () => true },
      stderr: {
        write: (s) => {
          stderr += s;
          return true;
        },
      },
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
      abort: () => {
        throw new Error("abort");
      },
      console_write: (ptr, len) => {
        out += Buffer.from(memory.buffer, ptr, len).toString("latin1");
      },
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
    for (const [literal, code] of [
      ["caf\u00e9", "U+00E9"],
      ["bell\\u0007", "U+0007"],
      ["x".repeat(256), "256 characters"],
    ]) {
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

  it("makes an assert's message and file Texts, passed to abort with bit 31 set, with the builtin's line and column", async () => {
    const source = `
export function check(v: i32): i32 {
  assert(v != 3, "three is refused");
  return v;
}
export function main(): void {}
`;
    const { wasm, stderr } = await compile(source);
    expect(stderr).toBe("");
    expect(wasm.includes(lengthPrefixed("three is refused"))).toBe(true);
    expect(wasm.includes(lengthPrefixed("assembly/t.ts"))).toBe(true);
    expect(wasm.includes(utf16("three is refused"))).toBe(false);
    expect(wasm.includes(utf16("assembly/t.ts"))).toBe(false);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const calls = [];
    const { instance } = await WebAssembly.instantiate(wasm, {
      env: {
        memory,
        abort: (...a) => {
          calls.push(a.map((v) => v >>> 0));
          throw new Error("abort");
        },
        console_write() {},
      },
    });
    expect(instance.exports.check(4)).toBe(4);
    expect(() => instance.exports.check(3)).toThrow("abort");
    const [msg, file, line, column] = calls[0];
    const text = (p) => {
      const b = new Uint8Array(memory.buffer);
      return Buffer.from(b.subarray(p + 1, p + 1 + b[p])).toString("latin1");
    };
    expect(msg & 0x80000000).not.toBe(0);
    expect(file & 0x80000000).not.toBe(0);
    expect(text(msg & 0x7fffffff)).toBe("three is refused");
    expect(text(file & 0x7fffffff)).toBe("assembly/t.ts");
    // The builtin's numbers for the same source: line 3, the column of "assert".
    const plain = await compile(source, { transform: false });
    const m2 = new WebAssembly.Memory({ initial: 1 });
    const plainCalls = [];
    const { instance: i2 } = await WebAssembly.instantiate(plain.wasm, {
      env: {
        memory: m2,
        abort: (...a) => {
          plainCalls.push(a);
          throw new Error("abort");
        },
        console_write() {},
      },
    });
    expect(() => i2.exports.check(3)).toThrow("abort");
    expect([line, column]).toEqual([plainCalls[0][2], plainCalls[0][3]]);
    expect(line).toBe(3);
  });

  it("build/nvme.wasm holds the driver's messages in ASCII, with no UTF-16 copy", async () => {
    await buildWasm({ quiet: true });
    const bytes = readFileSync(WASM);
    for (const s of [
      " reset ok us=",
      "nvme-wasm: NVMe driver (AssemblyScript guest) starting",
      "Identify Controller failed",
      "the driver was called again from inside request_done",
      "assembly/driver/nvme/queue.ts",
    ]) {
      expect(bytes.includes(lengthPrefixed(s)), s).toBe(true);
      expect(bytes.includes(utf16(s.trim())), s).toBe(false);
    }
  });
});
