// The block interface's numbers and record layouts: what nvme.wasm exports and what a client
// (shell.wasm, …) sees through the host. Compiled into both modules; docs/block-interface.md is the
// prose, boot/nvme_wasm.h the same numbers for C, host/block-link.js for JavaScript
// (test/machine/abi.test.js checks that the three agree).

// ---- request operations (the `op` argument of submit) ----
export const OP_READ: u32 = 1;        // blocks from the namespace into the buffer
export const OP_WRITE: u32 = 2;       // blocks from the buffer to the namespace
export const OP_FLUSH: u32 = 3;       // commit the volatile write cache (lba, blocks, buffer ignored)
export const OP_WRITE_ZEROES: u32 = 4; // the blocks read as zeroes afterwards: Write Zeroes (buffer ignored)
export const OP_DEALLOCATE: u32 = 5;   // the blocks are deallocated (trim): Dataset Management (buffer ignored)
// An admin request (docs/block-interface.md "Log pages"): Get Log Page (NVMe 1.4 section 5.14) of
// controller `ns` (a controller index here, not a namespace), log page LID = lba bits 7:0, from
// byte offset lba bits 63:32 (dword-aligned; LPO, Identify LPA bit 2), `blocks` bytes (a multiple
// of 4, 4..LOG_PAGE_BYTES_MAX) into `buffer`. Sent with RAE = 1: a client's read never clears an
// asynchronous event.
export const OP_LOG_PAGE: u32 = 6;
export const OP_MASK: u32 = 0xff;
// Flag: more submissions follow at once, so the driver may leave the SQ tail doorbell for the
// last one (or for the next poll/interrupt/tick): one MMIO write for a batch.
export const OP_FLAG_MORE: u32 = 0x100;

// ---- status codes: a completion's status, and submit's answer ----
// 0 is success (and, for submit, "queued"). Values below 0x10000 are the NVMe Status Field of the
// completion as the device reported it, without the phase tag (NVMe 1.4 section 4.6.1: SC 7:0,
// SCT 10:8, CRD 12:11, M 13, DNR 14). Values from 0x10000 are the driver's own.
export const STATUS_OK: u32 = 0;
export const ERR_TIMEOUT: u32 = 0x10000;          // no completion within CAP.TO; the controller was reset
export const ERR_CONTROLLER_FATAL: u32 = 0x10001; // CSTS.CFS was set; the controller was reset
export const ERR_NOT_READY: u32 = 0x10002;        // the controller failed, is not brought up, or shut down
export const ERR_BAD_COMPLETION: u32 = 0x10003;   // a completion for a command id the driver did not issue (log only)
export const ERR_BUSY: u32 = 0x10004;             // submit: no queue slot, command id or request record now
export const ERR_NO_NAMESPACE: u32 = 0x10005;     // submit: no namespace with that index
export const ERR_RANGE: u32 = 0x10006;            // submit: no blocks, or the range passes the end
export const ERR_READ_ONLY: u32 = 0x10007;        // submit: write to a write-protected namespace
export const ERR_BAD_BUFFER: u32 = 0x10008;       // submit: buffer outside the handed-out memory, or not 4-byte aligned
export const ERR_BAD_OP: u32 = 0x10009;           // submit: unknown operation or flag
export const ERR_UNUSABLE: u32 = 0x1000a;         // submit: the driver refused this namespace at bring-up
export const ERR_UNSUPPORTED: u32 = 0x1000b;      // submit: the controller does not offer this operation (ONCS, or a quirk)
export const DRIVER_STATUS_BASE: u32 = 0x10000;

// ---- start options ----
export const IRQ_AUTO: u32 = 0;   // MSI-X, else MSI, else INTx, else polling
export const IRQ_POLL: u32 = 1;
export const IRQ_INTX: u32 = 2;
export const IRQ_MSIX: u32 = 3;
export const IRQ_MSI: u32 = 4;    // plain MSI (PCI capability 05h), one message
export const LOG_ERRORS: u32 = 0; // only error lines
export const LOG_NORMAL: u32 = 1; // bring-up and shutdown lines too
// Bring-up stages of the seed write-up; start stops after the one asked for.
export const STAGE_RESET: u32 = 1;      // map BAR0, dump CAP/VS/CSTS, reset
export const STAGE_IDENTIFY: u32 = 2;   // admin queue, first command: Identify Controller
export const STAGE_NAMESPACES: u32 = 3; // decode Identify, find and identify the namespaces
export const STAGE_IO_QUEUES: u32 = 4;  // Number of Queues, interrupts, IO CQ/SQ
export const STAGE_ALL: u32 = 7;        // everything: IO (5), exerciser (6), stat counters (7)
// start's answer when it cannot run at all (otherwise the number of controllers found).
export const START_AGAIN: i32 = -1;        // already started
export const START_BAD_OPTION: i32 = -2;   // an option out of range
export const START_NO_MEMORY: i32 = -3;    // the buffer does not fit in the DMA window

// ---- io_queues (before start): IO queue pairs asked of each controller ----
// Client c's requests go to IO queue pair (c % pairs in use) + 1, c being the tag's bits 63:32.
export const IO_QUEUES_MAX: u32 = 8;

// ---- controller record (describe_controller), CONTROLLER_RECORD_BYTES, little-endian ----
export const CTRL_INDEX: u32 = 0;         // u32 n of nvmeN
export const CTRL_BDF: u32 = 4;           // u32 bus << 8 | dev << 3 | fn
export const CTRL_VID: u32 = 8;           // u16 PCI vendor id
export const CTRL_DID: u32 = 10;          // u16 PCI device id
export const CTRL_STATE: u32 = 12;        // u32 STATE_*
export const CTRL_STAGE: u32 = 16;        // u32 the stage bring-up stopped after (STAGE_ALL when complete)
export const CTRL_IRQ: u32 = 20;          // u32 IRQ_MODE_*
export const CTRL_VERSION: u32 = 24;      // u32 VS (3.1.2): major 31:16, minor 15:8, tertiary 7:0
export const CTRL_MQES: u32 = 28;         // u32 CAP.MQES as read (0-based)
export const CTRL_DSTRD: u32 = 32;        // u32 CAP.DSTRD as read
export const CTRL_TIMEOUT_MS: u32 = 36;   // u32 CAP.TO in milliseconds (at least 500)
export const CTRL_MDTS_BYTES: u32 = 40;   // u64 MDTS in bytes, 0 = no limit
export const CTRL_MAX_TRANSFER: u32 = 48; // u32 bytes the driver puts in one command
export const CTRL_FLAGS: u32 = 52;        // u32 CTRL_FLAG_*
export const CTRL_QUEUES: u32 = 56;       // u32 IO queue pairs granted (Number of Queues)
export const CTRL_IO_ENTRIES: u32 = 60;   // u32 entries of the IO queue pair in use
export const CTRL_NAMESPACES: u32 = 64;   // u32 namespaces found
export const CTRL_FAIL_REASON: u32 = 68;  // u32 FAIL_* when STATE_FAILED
export const CTRL_FAIL_STATUS: u32 = 72;  // u32 the status behind the failure, or 0
export const CTRL_ONCS: u32 = 76;         // u32 ONCS (Identify Controller)
export const CTRL_SERIAL: u32 = 80;       // 20 bytes SN, as the device gave them
export const CTRL_MODEL: u32 = 100;       // 40 bytes MN
export const CTRL_FIRMWARE: u32 = 140;    // 8 bytes FR
export const CTRL_IO_QUEUES: u32 = 148;   // u32 IO queue pairs in use: min(the wish, IO_QUEUES_MAX, granted)
export const CTRL_VECTORS: u32 = 152;     // u32 interrupt vectors in use (1 + one per IO CQ with its own; 0 polled)
export const CONTROLLER_RECORD_BYTES: u32 = 156;
export const CTRL_FLAG_IDENTIFIED: u32 = 1; // Identify Controller was read: the fields from it are valid
export const CTRL_FLAG_SGL: u32 = 2;        // SGLS says SGLs are supported
export const CTRL_FLAG_VWC: u32 = 4;        // a volatile write cache is present
export const CTRL_FLAG_CAP: u32 = 8;        // CAP was read: the fields from it are valid

export const STATE_ABSENT: u32 = 0;    // not brought up (yet)
export const STATE_FAILED: u32 = 1;    // bring-up or recovery failed: CTRL_FAIL_REASON says why
export const STATE_STOPPED: u32 = 2;   // bring-up stopped at the requested stage
export const STATE_READY: u32 = 3;     // IO queues exist: requests go
export const STATE_SHUT_DOWN: u32 = 4;

export const IRQ_MODE_POLL: u32 = 0;
export const IRQ_MODE_INTX: u32 = 1;
export const IRQ_MODE_MSIX: u32 = 2;
export const IRQ_MODE_MSI: u32 = 3;

// ---- namespace record (describe_namespace), NAMESPACE_RECORD_BYTES ----
export const NS_CTRL: u32 = 0;          // u32 controller index
export const NS_NSID: u32 = 4;          // u32 namespace id
export const NS_BLOCKS: u32 = 8;        // u64 NSZE
export const NS_LBA_SHIFT: u32 = 16;    // u32 log2 of the block size (valid unless refused for its format)
export const NS_METADATA: u32 = 20;     // u32 metadata bytes per block of the format in use
export const NS_READONLY: u32 = 24;     // u32 1 when NSATTR says write protected
export const NS_REFUSED: u32 = 28;      // u32 REFUSED_*, 0 when usable
export const NS_FORMAT: u32 = 32;       // u32 the LBA format in use (FLBAS)
export const NAMESPACE_RECORD_BYTES: u32 = 36;

// ---- stats record (controller_stats): u64 counters ----
export const STAT_COMMANDS: u32 = 0;
export const STAT_COMPLETIONS: u32 = 8;
export const STAT_ERRORS: u32 = 16;
export const STAT_RETRIES: u32 = 24;
export const STAT_READ_BYTES: u32 = 32;
export const STAT_WRITE_BYTES: u32 = 40;
export const STAT_INTERRUPTS: u32 = 48;
export const STAT_POLLS: u32 = 56;
export const STAT_TIMEOUTS: u32 = 64;
export const STAT_RESETS: u32 = 72;
// The device's part of IO commands: the sum, over IO commands completed, of the time from the SQ
// tail doorbell that sent each to the poll that found its completion (the emulator's or the
// device's work, the interrupt and the wait for the next look included), and how many were summed.
export const STAT_DEVICE_NS: u32 = 80;
export const STAT_DEVICE_COMMANDS: u32 = 88;
// Asynchronous Event Requests (NVMe 1.4 5.2) outstanding, 0 or 1: a command counted in STAT_COMMANDS
// whose completion comes only with an event, so commands == completions + this when no IO is in flight.
export const STAT_EVENTS_ARMED: u32 = 96;
export const STATS_RECORD_BYTES: u32 = 104;

// ---- completion record (client side: blk.complete writes these) ----
export const DONE_TAG: u32 = 0;         // u32 the client's tag
export const DONE_STATUS: u32 = 4;      // u32 status code
export const DONE_ERROR_LBA: u32 = 8;   // u64 first block that failed (when status != 0)
export const DONE_RECORD_BYTES: u32 = 16;

// ---- wait_hint: what the host may do while requests are outstanding ----
export const WAIT_NOTHING: u32 = 0;     // no request outstanding: nothing will complete
export const WAIT_INTERRUPT: u32 = 1;   // every outstanding request is on a controller with interrupts
export const WAIT_POLL: u32 = 2;        // some are on a polled controller: keep calling poll

export const IDENTIFY_BYTES: u32 = 4096;

// ---- log pages (OP_LOG_PAGE; NVMe 1.4 section 5.14.1) ----
export const LOG_PAGE_BYTES_MAX: u32 = 4096;  // one request: at most one page, two PRP entries
export const LID_ERROR_INFO: u32 = 0x01;      // 5.14.1.1 Error Information, 64-byte entries
export const LID_SMART: u32 = 0x02;           // 5.14.1.2 SMART / Health Information, 512 bytes

// ---- trace (trace=… boot option, the trace export; docs/trace.md) ----
// What to trace: a mask. The host traces register and configuration accesses and interrupts it
// sees; the driver reports commands, completions and bring-up stages through env.trace_event.
export const TRACE_REGS: u32 = 1;       // every MMIO access, every configuration-space write
export const TRACE_CMDS: u32 = 2;       // every command submitted and completion consumed
export const TRACE_IRQ: u32 = 4;        // every interrupt delivered
export const TRACE_ALL: u32 = 7;
// env.trace_event kinds; `where` is controller index << 16 | queue id (or the stage for STAGE).
export const EVENT_COMMAND: u32 = 1;    // ptr: the 64-byte submission queue entry just written
export const EVENT_COMPLETION: u32 = 2; // ptr: the 16-byte completion queue entry just consumed
export const EVENT_STAGE: u32 = 3;      // where: controller index << 16 | the stage now begun; no data
export const EVENT_QUIRK: u32 = 4;      // where: controller index << 16 | the quirk bit acted on now (driver/nvme/quirks.ts); no data
export const EVENT_REAP: u32 = 5;       // where: controller index << 16 | IO CQ id << 12 | the entries one reap consumed (> 0, < 4096); no data; under TRACE_IRQ
export const REAP_QID_SHIFT: u32 = 12;
