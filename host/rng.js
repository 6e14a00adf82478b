// A small seeded PRNG: xoshiro128** on 32-bit integers, seeded through splitmix32.
// This is the only source of randomness in the Node host: every delay, reorder and injected
// fault comes from an Rng, so a run is a pure function of its seed and options.
//
//   const rng = new Rng(42);            // seed: number, BigInt or string
//   rng.nextU32()                       // uniform 0 .. 2^32-1
//   rng.float()                         // uniform [0, 1)
//   rng.int(lo, hi)                     // uniform integer, both ends inclusive
//   rng.chance(p)                       // true with probability p
//   rng.shuffle(array)                  // Fisher-Yates in place, returns the array
//   rng.fork('nvme0')                   // an independent stream, derived from (seed, label) only:
//                                       // forking does not consume the parent stream

function splitmix32(state) {
  // returns [nextState, output]
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [s, z >>> 0];
}

function hashString(str) {
  // FNV-1a, 32-bit
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function rotl(x, k) {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  constructor(seed = 1) {
    this.seedKey = typeof seed === "string" ? seed : String(seed);
    let st = hashString(this.seedKey);
    const s = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      let out;
      [st, out] = splitmix32(st);
      s[i] = out;
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
    this.s = s;
  }

  nextU32() {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  float() {
    return this.nextU32() / 4294967296;
  }

  // Uniform integer in [lo, hi], both inclusive (Numbers; hi - lo < 2^53).
  int(lo, hi) {
    lo = Number(lo);
    hi = Number(hi);
    if (hi < lo) [lo, hi] = [hi, lo];
    const span = hi - lo + 1;
    if (span <= 4294967296) return lo + Math.floor(this.float() * span);
    const f = (this.nextU32() * 4294967296 + this.nextU32()) / 18446744073709551616;
    return lo + Math.floor(f * span);
  }

  chance(p) {
    if (!(p > 0)) return false;
    if (p >= 1) return true;
    return this.float() < p;
  }

  shuffle(arr) {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  pick(arr) {
    return arr[this.int(0, arr.length - 1)];
  }

  fork(label) {
    return new Rng(`${this.seedKey}/${label}`);
  }
}

export default Rng;
