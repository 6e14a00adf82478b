// Controllers that depart from the spec in ways a driver must meet, found by PCI vendor and device
// id. The facts are those of Linux's quirk table (nvme_id_table, drivers/nvme/host/pci.c); each
// quirk carries Linux's name, so the two tables can be read side by side. Only quirks that make this
// driver act differently are here: it always uses one interrupt vector (NVME_QUIRK_SINGLE_VECTOR
// holds already).
// Each act on a quirk is reported to the trace (EVENT_QUIRK), so a trace shows where it happens.
import { trace_event } from "../imports";
import { traceMaskNow } from "../trace";
import { EVENT_QUIRK } from "../../common/abi";

// After CC.EN goes 1 -> 0, do not read CSTS for QUIRK_RDY_DELAY_MS: these controllers wedge (Linux:
// NVME_QUIRK_DELAY_BEFORE_CHK_RDY, NVME_QUIRK_DELAY_AMOUNT 2300 ms, "found empirically").
export const QUIRK_DELAY_BEFORE_CHK_RDY: u32 = 1 << 0;
// Identify's CNS is taken as a boolean: anything but 00h returns the controller data, so the active
// namespace list (CNS 02h) and the identification descriptors (CNS 03h) cannot be asked for.
export const QUIRK_IDENTIFY_CNS: u32 = 1 << 1;
// IO submission queue entries are 128 bytes apart (the command in the first 64), whatever CC.IOSQES.
export const QUIRK_128_BYTES_SQES: u32 = 1 << 2;
// One command id space for the admin and IO queues, ids below 128: IO ids start at
// QUIRK_IO_CID_BASE so that they never meet an admin id.
export const QUIRK_SHARED_TAGS: u32 = 1 << 3;
// Bus addresses at or above 2^48 do not reach memory.
export const QUIRK_DMA_ADDRESS_BITS_48: u32 = 1 << 4;
// Write Zeroes is advertised (ONCS bit 3) but broken (SK hynix PC400: NLB taken one block too far):
// OP_WRITE_ZEROES is answered ERR_UNSUPPORTED, nothing sent, as if ONCS said no.
export const QUIRK_DISABLE_WRITE_ZEROES: u32 = 1 << 5;
// The bit numbers, as the trace decoder names them (EVENT_QUIRK's `where` low half).
export const QUIRK_BIT_DELAY_BEFORE_CHK_RDY: u32 = 0;
export const QUIRK_BIT_IDENTIFY_CNS: u32 = 1;
export const QUIRK_BIT_128_BYTES_SQES: u32 = 2;
export const QUIRK_BIT_SHARED_TAGS: u32 = 3;
export const QUIRK_BIT_DMA_ADDRESS_BITS_48: u32 = 4;
export const QUIRK_BIT_DISABLE_WRITE_ZEROES: u32 = 5;

export const QUIRK_RDY_DELAY_MS: u32 = 2300;
export const QUIRK_IO_CID_BASE: u32 = 32;     // admin ids stay below (the admin queue has 32 entries at most)
export const QUIRK_SHARED_CID_LIMIT: u32 = 128;
export const QUIRK_SQE_BYTES: u32 = 128;
export const DMA_48_BIT_LIMIT: u64 = <u64>1 << 48;

// (vendor << 16 | device, quirks) pairs.
const DELAY = QUIRK_DELAY_BEFORE_CHK_RDY;
const NO_WZ = QUIRK_DISABLE_WRITE_ZEROES;
const TABLE: usize = memory.data<u32>([
  0x1c580003, DELAY,                           // HGST SN100 (Ultrastar)
  0x1c580023, DELAY,                           // WDC SN200
  0x1c5f0540, DELAY,                           // Memblaze Pblaze4
  0x144da821, DELAY,                           // Samsung PM1725
  0x144da822, DELAY | NO_WZ,                   // Samsung PM1725a
  0x1bb10100, DELAY,                           // Seagate Nytro Flash Storage
  0x80865845, QUIRK_IDENTIFY_CNS | NO_WZ,      // QEMU's emulated controller before it had its own id
  0x106b2005, QUIRK_IDENTIFY_CNS | QUIRK_128_BYTES_SQES | QUIRK_SHARED_TAGS, // Apple T2
  0x1d0f0061, QUIRK_DMA_ADDRESS_BITS_48,       // Amazon EBS and instance storage (Annapurna Labs)
  0x1d0f0065, QUIRK_DMA_ADDRESS_BITS_48,
  0x1d0f8061, QUIRK_DMA_ADDRESS_BITS_48,
  0x1d0fcd00, QUIRK_DMA_ADDRESS_BITS_48,
  0x1d0fcd01, QUIRK_DMA_ADDRESS_BITS_48,
  0x1d0fcd02, QUIRK_DMA_ADDRESS_BITS_48,
  0x8086f1a5, NO_WZ,                           // Intel 600P/P3100
  0x19875019, NO_WZ,                           // Phison E19
  0x19875021, NO_WZ,                           // Phison E21
  0x1c5c1504, NO_WZ,                           // SK hynix PC400
  0x1c5c1d59, NO_WZ,                           // SK hynix BC901
  0x15b72001, NO_WZ,                           // SanDisk Skyhawk
  0x1d972263, NO_WZ,                           // SPCC (Linux lists the id twice; its first entry wins)
  0x144da80b, NO_WZ,                           // Samsung PM9B1 256G and 512G
  0x144da809, NO_WZ,                           // Samsung MZALQ256HBJD 256G
  0x1cc46303, NO_WZ,                           // UMIS RPJTJ512MGE1QDY 512G
  0x1cc46302, NO_WZ,                           // UMIS RPJTJ256MGE1QDY 256G
  0x26465018, NO_WZ,                           // Kingston OM8SFP4xxxxP OS21012
  0x26465016, NO_WZ,                           // Kingston OM3PGP4xxxxP OS21011
  0x2646501a, NO_WZ,                           // Kingston OM8PGP4xxxxP OS21005
  0x2646501b, NO_WZ,                           // Kingston OM8PGP4xxxxQ OS21005
  0x2646501e, NO_WZ,                           // Kingston OM3PGP4xxxxQ OS21011
]);
const TABLE_ENTRIES: u32 = 30;

// The quirks of the function with this vendor and device id; 0 for one the table does not know.
export function quirksOf(vendor: u32, device: u32): u32 {
  const key = (vendor << 16) | (device & 0xffff);
  for (let i: u32 = 0; i < TABLE_ENTRIES; i++) {
    if (load<u32>(TABLE + <usize>(i * 8)) == key) return load<u32>(TABLE + <usize>(i * 8 + 4));
  }
  return 0;
}

// Tells the trace that controller `ctrl` is acting on quirk bit `bit` now.
export function traceQuirk(ctrl: u32, bit: u32): void {
  if (traceMaskNow() != 0) trace_event(EVENT_QUIRK, (ctrl << 16) | bit, 0, 0);
}
