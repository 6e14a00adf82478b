// Disks behind the simulated namespaces: a raw image file (changes written back, positionally) or memory.
// Offsets are BigInt bytes; lengths are Numbers.
import { openSync, closeSync, fstatSync, readSync, writeSync, fsyncSync, existsSync } from "node:fs";

function checkRange(disk, offset, length) {
  offset = BigInt(offset);
  if (offset < 0n || length < 0 || offset + BigInt(length) > disk.size) {
    throw new RangeError(`${disk.name}: access [${offset}, +${length}) outside the disk (${disk.size} bytes)`);
  }
  return offset;
}

export class MemoryDisk {
  constructor(sizeBytes, { name = "mem" } = {}) {
    const size = BigInt(sizeBytes);
    if (size <= 0n || size > 1n << 31n) throw new RangeError(`mem disk size ${size} out of range (1 byte .. 2 GiB)`);
    this.name = name;
    this.size = size;
    this.bytes = new Uint8Array(Number(size));
  }
  read(offset, length) {
    const o = Number(checkRange(this, offset, length));
    return this.bytes.slice(o, o + length);
  }
  write(offset, bytes) {
    const o = Number(checkRange(this, offset, bytes.length));
    this.bytes.set(bytes, o);
  }
  flush() {}
  close() {}
}

export class FileDisk {
  constructor(path, { readonly = false } = {}) {
    if (!existsSync(path)) throw new Error(`disk image ${path}: no such file`);
    this.name = path;
    this.path = path;
    this.readonly = readonly;
    this.fd = openSync(path, readonly ? "r" : "r+");
    this.size = BigInt(fstatSync(this.fd).size);
    if (this.size === 0n) {
      closeSync(this.fd);
      this.fd = -1;
      throw new Error(`disk image ${path}: empty file`);
    }
  }
  read(offset, length) {
    const o = checkRange(this, offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, Number(o) + done);
      if (n <= 0) break; // cannot happen inside the size; the rest stays zero
      done += n;
    }
    return out;
  }
  write(offset, bytes) {
    if (this.readonly) throw new Error(`${this.path}: disk opened read-only`);
    const o = checkRange(this, offset, bytes.length);
    let done = 0;
    while (done < bytes.length) {
      done += writeSync(this.fd, bytes, done, bytes.length - done, Number(o) + done); // a BigInt position is not accepted here
    }
  }
  flush() {
    if (this.fd >= 0 && !this.readonly) fsyncSync(this.fd);
  }
  close() {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

// "64M", "4096", "1G", "512K" -> BigInt bytes
export function parseSize(text) {
  const m = /^(\d+)([KMGT]?)(i?B)?$/i.exec(String(text).trim());
  if (!m) throw new Error(`bad size "${text}" (want a number with an optional K, M, G or T suffix)`);
  const shift = { "": 0n, K: 10n, M: 20n, G: 30n, T: 40n }[m[2].toUpperCase()];
  return BigInt(m[1]) << shift;
}

// A disk spec: FILE[,lba=4096][,ms=8][,ro][,ctrl=1]  or  mem:64M[,…]
// -> { path | memSize, lbaBytes, ms, readonly, ctrl, spec }
export function parseDiskSpec(spec) {
  if (typeof spec !== "string" || spec.trim() === "") throw new Error("empty disk spec");
  const parts = spec.split(",");
  const head = parts.shift();
  const out = { spec, lbaBytes: 512, ms: 0, readonly: false, ctrl: 0, csi: 0 };
  if (head.startsWith("mem:")) out.memSize = parseSize(head.slice(4));
  else if (head === "") throw new Error(`disk spec "${spec}": no file name`);
  else out.path = head;
  for (const p of parts) {
    const [k, v, ...rest] = p.split("=");
    if (rest.length) throw new Error(`disk spec "${spec}": bad option "${p}"`);
    const num = (name) => {
      if (v === undefined || !/^\d+$/.test(v))
        throw new Error(`disk spec "${spec}": ${name} wants a number, got "${v ?? ""}"`);
      return Number(v);
    };
    switch (k) {
      case "lba": {
        const n = v !== undefined && /^\d+[KkMm]?$/.test(v) ? Number(parseSize(v)) : num("lba");
        if (n < 512 || n > 65536 || (n & (n - 1)) !== 0)
          throw new Error(`disk spec "${spec}": lba=${n} is not a power of two from 512 to 65536`);
        out.lbaBytes = n;
        break;
      }
      case "ms":
        out.ms = num("ms");
        if (out.ms > 128) throw new Error(`disk spec "${spec}": ms=${out.ms} too large`);
        break;
      case "ro":
        if (v !== undefined) throw new Error(`disk spec "${spec}": ro takes no value`);
        out.readonly = true;
        break;
      case "zoned":
        if (v !== undefined) throw new Error(`disk spec "${spec}": zoned takes no value`);
        out.csi = 2;
        break;
      case "ctrl":
        out.ctrl = num("ctrl");
        if (out.ctrl > 15) throw new Error(`disk spec "${spec}": ctrl=${out.ctrl} too large`);
        break;
      default:
        throw new Error(`disk spec "${spec}": unknown option "${k}" (known: lba, ms, ro, zoned, ctrl)`);
    }
  }
  return out;
}

// Open the disk a parsed spec names.
export function openDisk(parsed) {
  const disk =
    parsed.memSize !== undefined
      ? new MemoryDisk(parsed.memSize, { name: parsed.spec })
      : new FileDisk(parsed.path, { readonly: parsed.readonly });
  if (disk.size % BigInt(parsed.lbaBytes) !== 0n) {
    const extra = disk.size % BigInt(parsed.lbaBytes);
    disk.close();
    throw new Error(
      `disk ${parsed.path ?? parsed.spec}: size ${disk.size} is not a multiple of lba=${parsed.lbaBytes} (${extra} bytes left over)`,
    );
  }
  return disk;
}
