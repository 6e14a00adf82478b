// The shell's CRC-32 (assembly/shell/crc32.ts) on its own: compiled with asc into a small module
// that exports crc32Update and imports its memory, so tests can compare it with node:zlib at every
// length and alignment, and bench/crc32.js can time it without the IO path around it.
//   const crc = await crc32Module({ source, dataBytes });   // source: crc32.ts's text (default: the file)
//   crc.data                       a Uint8Array of dataBytes at crc.dataAt in the module's memory
//   crc.update(crc0, offset, len)  crc32Update over crc.data[offset .. offset + len), as a u32
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../host/build.js";

export const CRC32_SOURCE = "assembly/shell/crc32.ts";
const PAGE = 65536;
const DATA_AT = 1 << 20; // above the module's static memory (its tables are under 100 KiB)

export async function compileCrc32(source = readFileSync(join(ROOT, CRC32_SOURCE), "utf8")) {
  const asc = (await import("assemblyscript/asc")).default;
  const options = JSON.parse(readFileSync(join(ROOT, "asconfig.json"), "utf8")).options;
  const files = {
    "crc32-entry.ts": `export { crc32Update } from "./crc32-impl";\n`,
    "crc32-impl.ts": source,
  };
  const out = {};
  let errText = "";
  const { error } = await asc.main(
    [
      "crc32-entry.ts",
      "--outFile",
      "crc32.wasm",
      "--runtime",
      "stub",
      "--importMemory",
      "--optimizeLevel",
      String(options.optimizeLevel),
      "--shrinkLevel",
      String(options.shrinkLevel),
      "--initialMemory",
      String(DATA_AT / PAGE),
    ],
    {
      readFile: (name) => files[name] ?? null,
      writeFile: (name, bytes) => {
        out[name] = bytes;
      },
      listFiles: () => [],
      stdout: { write: () => true },
      stderr: {
        write: (s) => {
          errText += s;
          return true;
        },
      },
    },
  );
  if (error || !out["crc32.wasm"]) throw new Error(`asc failed on crc32.ts: ${errText}${error?.message ?? ""}`);
  return out["crc32.wasm"];
}

export async function crc32Module({ source, dataBytes = 1 << 20 } = {}) {
  const pages = Math.ceil((DATA_AT + dataBytes) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const abort = () => {
    throw new Error("crc32.ts aborted (an assert failed: its tables are wrong)");
  };
  const { instance } = await WebAssembly.instantiate(await compileCrc32(source), { env: { memory, abort } });
  const update = instance.exports.crc32Update;
  return {
    data: new Uint8Array(memory.buffer, DATA_AT, dataBytes),
    dataAt: DATA_AT,
    update: (crc, offset, len) => update(crc, DATA_AT + offset, len) >>> 0,
  };
}
