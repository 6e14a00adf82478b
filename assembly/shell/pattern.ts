// The fill/verify pattern (docs/shell.md, "The fill/verify pattern"): the namespace is a sequence of 8-byte little-endian words;
// the word at byte offset o is mix((seed << 40) ^ (o / 8)), mix being splitmix64's finaliser.
// It depends on the byte offset only, so a host-side check needs nothing but the image file.

@inline export function mix(x: u64): u64 {
  let z = x + 0x9e3779b97f4a7c15;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

@inline export function patternWord(seed: u64, byteOffset: u64): u64 {
  return mix((seed << 40) ^ (byteOffset >> 3));
}

// Fills [ptr, ptr + len) with the words for device byte offsets start .. start + len (both multiples of 8).
export function fillPattern(ptr: usize, len: u32, seed: u64, start: u64): void {
  for (let i: u32 = 0; i < len; i += 8) {
    store<u64>(ptr + <usize>i, patternWord(seed, start + <u64>i));
  }
}

// Index of the first byte that differs from the pattern, or -1 when all match.
export function checkPattern(ptr: usize, len: u32, seed: u64, start: u64): i64 {
  for (let i: u32 = 0; i < len; i += 8) {
    const want = patternWord(seed, start + <u64>i);
    const got = load<u64>(ptr + <usize>i);
    if (got != want) {
      const diff = got ^ want;
      return <i64>i + <i64>(ctz(diff) >> 3);
    }
  }
  return -1;
}
