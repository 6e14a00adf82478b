// The block-device view: names as Linux gives them (nvme0 a controller, nvme0n1 its namespace 1),
// resolved to the controller and namespace the driver found.
import { Namespace, findNamespace } from "./nvme/namespace";

// Parses a decimal number at [ptr, ptr+len); -1 if not all digits or too long.
function decimal(ptr: usize, len: i32): i64 {
  if (len == 0 || len > 9) return -1;
  let v: i64 = 0;
  for (let i = 0; i < len; i++) {
    const c = <i32>load<u8>(ptr + <usize>i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + <i64>(c - 48);
  }
  return v;
}

function startsWithNvme(ptr: usize, len: i32): bool {
  return len > 4 && load<u8>(ptr) == 110 && load<u8>(ptr + 1) == 118 && load<u8>(ptr + 2) == 109 && load<u8>(ptr + 3) == 101;
}

// "nvme0n1" -> that namespace, or null.
export function namespaceByName(ptr: usize, len: i32): Namespace | null {
  if (!startsWithNvme(ptr, len)) return null;
  let split = -1;
  for (let i = 4; i < len; i++) if (load<u8>(ptr + <usize>i) == 110) { split = i; break; }
  if (split < 0) return null;
  const ctrl = decimal(ptr + 4, split - 4);
  const nsid = decimal(ptr + <usize>(split + 1), len - split - 1);
  if (ctrl < 0 || nsid <= 0) return null;
  return findNamespace(<u32>ctrl, <u32>nsid);
}

export function blockBytes(ns: Namespace): u32 {
  return 1 << ns.lbaShift;
}
