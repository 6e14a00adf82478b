// Scatter Gather Lists (NVMe 1.4 section 4.4), the alternative to PRPs (prp.ts) for IO commands on
// controllers whose Identify SGLS (bytes 539:536, bits 1:0) offers them, when the boot option `sgl=on`
// allows it. A request's buffer is one run of the DMA window, contiguous in bus addresses as well
// (dma.ts busAddress maps a whole range), so one Data Block descriptor in the command itself describes
// any transfer: no list page, however many pages it spans (a PRP list needs one entry per page).
// A buffer that was not contiguous would need a Last Segment descriptor pointing at a list of Data
// Block descriptors; the driver never has one.
import {
  SubmissionEntry, PSDT_SGL, SGL_LENGTH, SGL_IDENTIFIER, SGL_DATA_BLOCK, SGLS_DWORD_ALIGNED,
} from "./registers";
import { Controller } from "./controller";
import { busAddress } from "../dma";

// SGL descriptor 1 of `sqe` (the 16 bytes PRP1 and PRP2 occupy) for [buffer, buffer + bytes), and
// PSDT = 01b. Where SGLS asks for dword alignment, address and length are dword multiples already
// (submit refuses a buffer that is not; lengths are whole blocks).
export function buildSgl(c: Controller, sqe: SubmissionEntry, buffer: usize, bytes: u32): void {
  const bus = busAddress(buffer, bytes);
  assert(c.sglAlignment != SGLS_DWORD_ALIGNED || ((<u32>bus | bytes) & 3) == 0, "sgl: a data block not dword-aligned");
  const descriptor = changetype<usize>(sqe) + offsetof<SubmissionEntry>("prp1");
  store<u64>(descriptor, bus);
  store<u32>(descriptor + <usize>SGL_LENGTH, bytes);
  store<u8>(descriptor + <usize>SGL_IDENTIFIER, <u8>SGL_DATA_BLOCK);
  sqe.cdw0 |= PSDT_SGL;
}
