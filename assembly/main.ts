// The driver's entry point: PCI enumeration, bring-up of every NVMe controller, the boot command
// line, then the interactive shell unless a command was `poweroff`; then an orderly shutdown.
//
// Boot options, given as ';'-separated items of the command line before or among the commands:
//   stage=N   stop bring-up after stage N (1 reset, 2 first Identify, 3 namespaces, 4 IO queues;
//             7, the default, is everything), as in the seed write-up's steps
//   irq=auto|poll|intx|msix   how completions are noticed (auto: MSI-X, else INTx, else polling)
import { cmdline, poweroff } from "./kernel";
import { put, putLine, putDec, putCtrlName, newline, putBytes, putError, errorLines } from "./console";
import { enumerate, nvmeFunction, nvmeSkipped, printFunction, MAX_NVME } from "./pci";
import { attach, bringUp, setStopStage, setIrqPreference, STAGE_RESET, STAGE_ALL } from "./nvme/controller";
import { IRQ_PREF_AUTO, IRQ_PREF_POLL, IRQ_PREF_INTX, IRQ_PREF_MSIX } from "./nvme/interrupts";
import { initShell, runCommands, interactive, shutdownAll, poweroffRequested } from "./shell";

const CMDLINE_CAP: i32 = 4096;
const commandLine: usize = memory.data(CMDLINE_CAP);

function matches(ptr: usize, len: i32, s: string): bool {
  if (len != s.length) return false;
  for (let i = 0; i < len; i++) if (<i32>load<u8>(ptr + <usize>i) != s.charCodeAt(i)) return false;
  return true;
}

function trim(ptr: usize, len: i32, wantStart: bool): i32 {
  let a = 0;
  let b = len;
  while (a < b && load<u8>(ptr + <usize>a) <= 32) a++;
  while (b > a && load<u8>(ptr + <usize>(b - 1)) <= 32) b--;
  return wantStart ? a : b;
}

// Applies stage= and irq= items; anything else is left for the shell.
function applyOption(ptr: usize, len: i32): void {
  const a = trim(ptr, len, true);
  const b = trim(ptr, len, false);
  const p = ptr + <usize>a;
  const n = b - a;
  if (n == 7 && matches(p, 6, "stage=")) {
    const d = <u32>load<u8>(p + 6) - 48;
    if (d >= STAGE_RESET && d <= STAGE_ALL) { setStopStage(d); return; }
  } else if (n > 4 && matches(p, 4, "irq=")) {
    const v = p + 4;
    const m = n - 4;
    if (matches(v, m, "auto")) { setIrqPreference(IRQ_PREF_AUTO); return; }
    if (matches(v, m, "poll")) { setIrqPreference(IRQ_PREF_POLL); return; }
    if (matches(v, m, "intx")) { setIrqPreference(IRQ_PREF_INTX); return; }
    if (matches(v, m, "msix")) { setIrqPreference(IRQ_PREF_MSIX); return; }
  } else {
    return; // not an option: a command
  }
  putError();
  put("boot option not understood: ");
  putBytes(p, n);
  newline();
}

function applyOptions(ptr: usize, len: i32): void {
  let start = 0;
  for (let i = 0; i <= len; i++) {
    if (i == len || load<u8>(ptr + <usize>i) == 59) {
      applyOption(ptr + <usize>start, i - start);
      start = i + 1;
    }
  }
}

export function main(): i32 {
  putLine("nvme-wasm: NVMe driver (AssemblyScript guest) starting");
  let len = cmdline(commandLine, CMDLINE_CAP);
  if (len > CMDLINE_CAP) {
    putError();
    putLine("boot command line longer than 4096 bytes, ignored");
    len = 0;
  }
  if (len < 0) len = 0;
  applyOptions(commandLine, len);
  if (!initShell()) {
    putError();
    putLine("not enough DMA memory for the IO buffer");
    poweroff(1);
    return 1;
  }

  const found = enumerate();
  if (found == 0) {
    putError();
    putLine("no NVMe controller (PCI class 01/08/02) found");
  }
  if (nvmeSkipped() > 0) {
    put("pci: "); putDec(<u64>nvmeSkipped()); put(" more NVMe functions ignored (at most "); putDec(<u64>MAX_NVME); putLine(")");
  }
  for (let i: u32 = 0; i < found; i++) {
    const bdf = nvmeFunction(i);
    printFunction(bdf);
    put(" -> "); putCtrlName(i); newline();
  }
  for (let i: u32 = 0; i < found; i++) {
    const c = attach(nvmeFunction(i));
    if (c == null) { putError(); putLine("out of DMA memory for a controller"); break; }
    bringUp(c); // a failure is reported, and counted, as an error line
  }

  runCommands(commandLine, len);
  if (!poweroffRequested) interactive();
  shutdownAll();
  const code = errorLines == 0 ? 0 : 1;
  put("poweroff code="); putDec(<u64>code); newline();
  poweroff(code);
  return code;
}
