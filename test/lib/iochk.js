// The shell's iochk (docs/shell.md) replayed from its definition alone, never from the shell: the
// operations splitmix64 draws from the seed, the generation each block ends at, the summary line a
// clean run prints, and the bytes a generation stands for. Tests compare the shell's line with it
// and the image after a run with what the generations say.
import { mix } from "./disk-images.js";

const M64 = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;
export const IOCHK_REQUEST_BYTES_MAX = 256 * 1024;
export const IOCHK_TRACK_BLOCKS_MAX = 512 * 1024;
export const IOCHK_GEN_MAX = 255;

// { tracked, maxBlocks, ops: [{ write, lba, blocks }], gens (Uint8Array, per tracked block),
//   reads, writes, blocksWritten, verified, writesOf (Uint32Array: how many writes each block got) }
export function iochkReplay({ seed, ios, blocks, lbaBytes = 512 }) {
  const tracked = Math.min(blocks, IOCHK_TRACK_BLOCKS_MAX);
  const maxBlocks = Math.min(IOCHK_REQUEST_BYTES_MAX / lbaBytes, tracked);
  const gens = new Uint8Array(tracked);
  const writesOf = new Uint32Array(tracked);
  let state = BigInt(seed);
  const next = () => {
    const r = mix(state);
    state = (state + GOLDEN) & M64;
    return r;
  };
  const ops = [];
  let reads = 0,
    writes = 0,
    verified = 0;
  for (let k = 0; k < ios; k++) {
    const n = Number(1n + (next() % BigInt(maxBlocks)));
    const lba = Number(next() % BigInt(tracked - n + 1));
    const write = (next() & 1n) === 1n;
    ops.push({ write, lba, blocks: n });
    for (let b = lba; b < lba + n; b++) {
      if (write) {
        gens[b] = gens[b] === IOCHK_GEN_MAX ? 1 : gens[b] + 1;
        writesOf[b]++;
      } else if (gens[b] !== 0) verified++;
    }
    if (write) writes++;
    else reads++;
  }
  let blocksWritten = 0;
  for (const g of gens) if (g !== 0) blocksWritten++;
  verified += blocksWritten; // the final pass checks every written block once
  return { tracked, maxBlocks, ops, gens, writesOf, reads, writes, blocksWritten, verified };
}

// The summary line of a clean run.
export function iochkLine({ dev = "nvme0n1", ios, seed, qd = 8, replay }) {
  const r = replay;
  return (
    `iochk dev=${dev} ios=${ios} seed=${seed} qd=${qd} tracked_blocks=${r.tracked} max_blocks=${r.maxBlocks} ` +
    `reads=${r.reads} writes=${r.writes} blocks_written=${r.blocksWritten} verified_blocks=${r.verified} ok`
  );
}

// The bytes of device offsets [start, start + length) written at generation `gen` (multiples of 8).
export function genBytes(seed, gen, start, length) {
  const buf = Buffer.alloc(length);
  const s = ((BigInt(seed) << 40n) ^ (BigInt(gen) << 32n)) & M64;
  for (let i = 0; i < length; i += 8) buf.writeBigUInt64LE(mix(s ^ BigInt((start + i) / 8)), i);
  return buf;
}

// Compares an image after a run with the replay: each written block holds its last generation,
// every other byte is as `before` had it. Returns null, or where the first difference is.
export function imageDiff({ image, before, seed, replay, lbaBytes = 512 }) {
  if (image.length !== before.length) return `image is ${image.length} bytes, was ${before.length}`;
  for (let b = 0; b < replay.tracked; b++) {
    const at = b * lbaBytes;
    const want =
      replay.gens[b] === 0 ? before.subarray(at, at + lbaBytes) : genBytes(seed, replay.gens[b], at, lbaBytes);
    if (!image.subarray(at, at + lbaBytes).equals(want)) return `block ${b} (generation ${replay.gens[b]}) differs`;
  }
  const end = replay.tracked * lbaBytes;
  if (!image.subarray(end).equals(before.subarray(end))) return `bytes past the tracked range (from ${end}) changed`;
  return null;
}
