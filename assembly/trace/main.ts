// trace.wasm: the trace decoder (docs/trace.md). Both hosts hand it what a trace shows — register and
// configuration accesses and interrupts they saw, commands, completions and stages the driver
// reported — and it prints each as one line in the spec's words. One decoder for both hosts, and none
// of these words in the driver: it keeps its size budget, and a trace costs it nothing when off.
//
// Exports (all i32): buffer() -> ptr (64 bytes the host copies an entry into), mmio(bdf, region, off,
// value, write), config(bdf, off, value, msixCap), irq(lines, line, vector, kind), command(where),
// completion(where), stage(where), quirk(where). Imports: env.memory, env.abort, env.console_write.
import { REAP_QID_SHIFT } from "../common/abi";
import { put, putDec, putHex, putBdf, newline, ascii, Text } from "../common/console";
import { putRegister, putMsixTable, putConfigWrite } from "./registers";
import { putCommand, putCompletion, commandKey } from "./commands";

// What the host says an MMIO access hit (host/trace.js, boot/host.c).
const REGION_OTHER: u32 = 0;
const REGION_NVME: u32 = 1;     // an NVMe controller's BAR0
const REGION_MSIX: u32 = 2;     // a function's MSI-X table
const MAX_FUNCTIONS: u32 = 16;
const CID_SLOTS: u32 = 1024;    // opcodes remembered per (controller, admin or IO), by cid mod this
const MAX_CONTROLLERS: u32 = 16;

const entry = memory.data(64, 16);
const strideBdf = memory.data(<i32>(MAX_FUNCTIONS * 8), 4);   // (bdf + 1, doorbell stride) pairs of u32
const opcodes = memory.data(<i32>(MAX_CONTROLLERS * 2 * CID_SLOTS * 2), 2); // u16: opcode + 1, 0 = unknown

export function buffer(): usize { return entry; }

// The doorbell stride of the function, learned from its CAP reads (4 bytes until then).
function stride(bdf: u32): u32 {
  for (let i: u32 = 0; i < MAX_FUNCTIONS; i++) {
    if (load<u32>(strideBdf + <usize>(i * 8)) == bdf + 1) return load<u32>(strideBdf + <usize>(i * 8 + 4));
  }
  return 4;
}

function learnStride(bdf: u32, capHigh: u32): void {
  for (let i: u32 = 0; i < MAX_FUNCTIONS; i++) {
    const k = load<u32>(strideBdf + <usize>(i * 8));
    if (k == 0 || k == bdf + 1) {
      store<u32>(strideBdf + <usize>(i * 8), bdf + 1);
      store<u32>(strideBdf + <usize>(i * 8 + 4), 4 << (capHigh & 0xf));
      return;
    }
  }
}

export function mmio(bdf: u32, region: u32, off: u32, value: u32, write: u32): void {
  put("mmio "); putBdf(bdf); put(write != 0 ? " write " : " read ");
  if (region == REGION_NVME) {
    if (write == 0 && off == 4) learnStride(bdf, value);
    putRegister(off, value, stride(bdf));
  } else if (region == REGION_MSIX) {
    putMsixTable(off, value);
  } else {
    put("+"); putHex(<u64>off, 4); put(" = "); putHex(<u64>value, 8);
  }
  newline();
}

export function config(bdf: u32, off: u32, value: u32, msixCap: u32): void {
  put("pci "); putBdf(bdf); put(" write ");
  putConfigWrite(off, value, msixCap);
  newline();
}

// An interrupt delivered: the mask of lines pending, and for one of them its kind and vector.
export function irq(lines: u32, line: u32, vector: u32, msix: u32): void {
  put("irq lines="); putHex(<u64>lines); put(" (line "); putDec(<u64>line);
  put(msix != 0 ? ": MSI-X vector " : ": INTx IRQ "); putHex(<u64>vector, 2); put(")");
  newline();
}

function slot(ctrl: u32, qid: u32, cid: u32): usize {
  const index = ((ctrl % MAX_CONTROLLERS) * 2 + (qid == 0 ? 0 : 1)) * CID_SLOTS + (cid % CID_SLOTS);
  return opcodes + <usize>(index * 2);
}

export function command(where: u32): void {
  const ctrl = where >> 16, qid = where & 0xffff;
  store<u16>(slot(ctrl, qid, load<u32>(entry) >> 16), <u16>(commandKey(qid, entry) + 1));
  putCommand(ctrl, qid, entry);
  newline();
}

export function completion(where: u32): void {
  const ctrl = where >> 16, qid = where & 0xffff;
  const s = slot(ctrl, qid, <u32>load<u16>(entry, 12));
  putCompletion(ctrl, qid, entry, <i32>load<u16>(s) - 1);
  store<u16>(s, 0);
  newline();
}

function stageText(stage: u32): Text {
  switch (stage) {
    case 1: return ascii("map BAR0, read CAP/VS/CSTS, reset");
    case 2: return ascii("admin queue, interrupts, the first command: Identify");
    case 3: return ascii("decode Identify, find and identify the namespaces");
    case 4: return ascii("Number of Queues, the IO queue pair");
    case 7: return ascii("ready: IO");
  }
  return ascii("");
}

export function stage(where: u32): void {
  put("stage nvme"); putDec(<u64>(where >> 16)); put(" "); putDec(<u64>(where & 0xffff));
  put(": "); put(stageText(where & 0xffff));
  newline();
}

// What the driver does differently for a quirk (driver/nvme/quirks.ts), by quirk bit; the names are
// Linux's (NVME_QUIRK_*), so a reader can find each in its quirk table.
function quirkText(bit: u32): Text {
  switch (bit) {
    case 0: return ascii("DELAY_BEFORE_CHK_RDY: CSTS left alone for 2300 ms after clearing CC.EN");
    case 1: return ascii("IDENTIFY_CNS: CNS read as a boolean, so no CNS 02h/03h: namespaces probed 1..NN, NVM assumed");
    case 2: return ascii("128_BYTES_SQES: IO submission queue entries 128 bytes apart");
    case 3: return ascii("SHARED_TAGS: one command id space, IO ids from 32 and below 128");
    case 4: return ascii("DMA_ADDRESS_BITS_48: the DMA window is at or above 2^48, out of this controller's reach");
    case 5: return ascii("DISABLE_WRITE_ZEROES: Write Zeroes refused (ERR_UNSUPPORTED), never sent");
  }
  return ascii("unknown");
}

// How many IO completion entries one reap of the driver consumed (after the interrupt line above
// it, or a poll).
export function reap(where: u32): void {
  put("reap nvme"); putDec(<u64>(where >> 16)); put(" CQ"); putDec(<u64>((where >> REAP_QID_SHIFT) & 0xf));
  put(" entries="); putDec(<u64>(where & ((1 << REAP_QID_SHIFT) - 1)));
  newline();
}

export function quirk(where: u32): void {
  put("quirk nvme"); putDec(<u64>(where >> 16)); put(" "); put(quirkText(where & 0xffff));
  newline();
}
