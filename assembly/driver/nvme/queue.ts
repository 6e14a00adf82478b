// A submission queue and its completion queue (NVMe 1.4 section 4.1): rings in DMA memory, the tail
// and head doorbells (3.1.24, 3.1.25), the phase tag (4.6), and command identifiers.
//
// Rules kept here, each one a bug some public driver shipped:
// - the CQ is zeroed and the first pass expects phase 1; the expected phase flips at each wrap;
// - the phase is read before the rest of the entry;
// - the SQ head comes from the controller (CQE SQHD), never from our own count;
// - the SQ is full when tail + 1 == head (mod size): one slot always stays empty;
// - a command id belongs to a command until its completion arrives, never to an SQ slot;
// - the CQ head doorbell is rung after entries are consumed, or the controller stalls: at once on
//   the admin queue and with INTx, else before the entries consumed and the commands in flight
//   together reach half the ring, so the controller always has room to post (4.1: a full CQ stops it).
// - with shadow doorbells (dbbuf.ts) every doorbell value goes to the shadow buffer first, and the
//   register is written only when the controller's EventIdx asks for it (ring, below).
import { mmio_write32, fence } from "../imports";
import { SQE_BYTES, CQE_BYTES, REG_DOORBELL_BASE, SubmissionEntry, CompletionEntry, CQE_PHASE } from "./registers";

// Per-command bookkeeping, one record per command id.
export const SLOT_BYTES: u32 = 64;
export const MAX_LIST_PAGES: u32 = 4;
export const NO_REQUEST: u32 = 0xffffffff;        // a synchronous admin command (admin.ts)
export const AER_COMMAND: u32 = 0xfffffffe;       // the Asynchronous Event Request kept outstanding (admin-requests.ts)
export const EVENT_LOG_COMMAND: u32 = 0xfffffffd; // the Get Log Page that clears a reported event
// CommandSlot.request below this: a request's index.
@inline export function isRequest(owner: u32): bool { return owner < EVENT_LOG_COMMAND; }

@unmanaged
export class CommandSlot {
  busy: u32;        // 1 while the controller owns the id
  request: u32;     // index of the request the command belongs to (NO_REQUEST for admin commands)
  lba: u64;
  submitNs: u64;    // when the SQ tail doorbell sent it (0 while written, not rung): its timeout
                    // and the device's part of its latency count from here (ringSubmissionAt)
  blocks: u32;      // NLB + 1
  buffer: u32;      // linear-memory address of the data
  retries: u32;     // times this piece was sent again
  listCount: u32;   // PRP list pages held by this command
  list0: u32;
  list1: u32;
  list2: u32;
  list3: u32;
  status: u32;      // status field of the completion (phase removed), for admin waits
  dw0: u32;         // command-specific result, for admin waits
}
if (offsetof<CommandSlot>() > SLOT_BYTES) ERROR("CommandSlot outgrew SLOT_BYTES");

@unmanaged
export class QueuePair {
  qid: u32;
  entries: u32;     // ring size (1-based); entries - 1 command ids
  sq: usize;        // SQ ring, entries * sqeBytes
  sqeBytes: u32;    // 64 (4.2); 128 on controllers with QUIRK_128_BYTES_SQES (IO queues)
  cidBase: u32;     // the command id of slot 0 (QUIRK_SHARED_TAGS: IO ids above the admin ones)
  cq: usize;        // CQ ring, entries * 16 bytes
  slots: usize;     // entries * SLOT_BYTES
  freeCids: usize;  // stack of free command ids (u16)
  freeCount: u32;
  sqTail: u32;
  sqHead: u32;      // last SQHD reported by the controller
  cqHead: u32;
  phase: u32;       // the phase tag that marks a new entry
  unrung: u32;      // entries written since the last SQ tail doorbell
  cqUnrung: u32;    // CQ entries consumed since the last CQ head doorbell
  mmio: i32;
  sqDoorbell: u32;  // BAR0 offsets
  cqDoorbell: u32;
  vector: u32;      // the interrupt vector of the CQ (CDW11 IV of Create I/O CQ; 0 for the admin CQ)
  irqLine: i32;     // the host's line for that vector, -1 when polled
  // The requests waiting for this IO queue pair (requests.ts): the backlog of requests with blocks
  // not yet sent, and the ring of pieces to send again (retries, and what a reset took back).
  backlogHead: u32; // request index + 1; 0 = empty
  backlogTail: u32;
  pending: usize;   // ring of PendingPiece, `entries` of them
  pendingHead: u32;
  pendingCount: u32;
  listPages: u32;   // PRP list (and range list) pages its commands hold: at most its share of the pool
  sqShadow: usize;  // this SQ's tail entry in the shadow doorbell buffer; 0: the register only (dbbuf.ts)
  cqShadow: usize;  // this CQ's head entry there; 0: the register only
  eventIdxOffset: u32; // from a shadow entry to the controller's EventIdx entry for the same doorbell

  // Laid out in memory the caller provides (page-aligned rings, from the DMA allocator).
  init(qid: u32, entries: u32, sq: usize, cq: usize, slots: usize, freeCids: usize, mmio: i32, strideBytes: u32, sqeBytes: u32, cidBase: u32): void {
    assert(entries >= 2, "queue: fewer than 2 entries");
    assert(sqeBytes == SQE_BYTES || sqeBytes == 2 * SQE_BYTES, "queue: SQ entries neither 64 nor 128 bytes apart");
    assert(cidBase + entries <= 0x10000, "queue: command ids past 16 bits");
    this.qid = qid;
    this.sqeBytes = sqeBytes;
    this.cidBase = cidBase;
    this.entries = entries;
    this.sq = sq;
    this.cq = cq;
    this.slots = slots;
    this.freeCids = freeCids;
    this.mmio = mmio;
    this.sqDoorbell = REG_DOORBELL_BASE + (2 * qid) * strideBytes;
    this.cqDoorbell = REG_DOORBELL_BASE + (2 * qid + 1) * strideBytes;
    this.reset();
  }

  // The state of a queue the controller has just created (or after a controller reset).
  reset(): void {
    memory.fill(this.sq, 0, <usize>(this.entries * this.sqeBytes));
    memory.fill(this.cq, 0, <usize>(this.entries * CQE_BYTES));
    memory.fill(this.slots, 0, <usize>(this.entries * SLOT_BYTES));
    this.sqTail = 0;
    this.sqHead = 0;
    this.cqHead = 0;
    this.phase = 1;
    this.unrung = 0;
    this.cqUnrung = 0;
    this.sqShadow = 0;     // a controller starts (and restarts) without shadow doorbells
    this.cqShadow = 0;
    // At most entries - 1 commands can be queued, so that many ids suffice.
    this.freeCount = 0;
    for (let cid: u32 = this.entries - 1; cid > 0; cid--) {
      store<u16>(this.freeCids + <usize>(this.freeCount * 2), <u16>(cid - 1));
      this.freeCount++;
    }
  }

  @inline slot(cid: u32): CommandSlot {
    assert(cid < this.entries, "queue: command id out of range");
    return changetype<CommandSlot>(this.slots + <usize>(cid * SLOT_BYTES));
  }

  @inline sqFull(): bool {
    let next = this.sqTail + 1;
    if (next == this.entries) next = 0;
    return next == this.sqHead;
  }

  // Command ids the controller owns now.
  inFlight(): u32 {
    return this.entries - 1 - this.freeCount;
  }

  // A command can be queued now: an SQ slot and a command id are free.
  @inline canQueue(): bool {
    return this.freeCount > 0 && !this.sqFull();
  }

  // A free command id, or -1 when every id is owned by the controller.
  allocCid(): i32 {
    if (this.freeCount == 0) return -1;
    this.freeCount--;
    const cid = <u32>load<u16>(this.freeCids + <usize>(this.freeCount * 2));
    const slot = this.slot(cid);
    assert(slot.busy == 0, "queue: a free command id was busy");
    slot.busy = 1;
    return <i32>cid;
  }

  // A free command id for a command of `request` about to be written, its slot filled in (not yet
  // sent: no time, no PRP list pages). The caller has checked there is room (freeCount > 0).
  claim(request: u32, lba: u64, blocks: u32, buffer: u32, retries: u32): u32 {
    const got = this.allocCid();
    assert(got >= 0, "queue: no free command id to claim");
    const cid = <u32>got;
    const slot = this.slot(cid);
    slot.request = request;
    slot.lba = lba;
    slot.blocks = blocks;
    slot.buffer = buffer;
    slot.retries = retries;
    slot.submitNs = 0;
    slot.listCount = 0;
    return cid;
  }

  freeCid(cid: u32): void {
    const slot = this.slot(cid);
    assert(slot.busy == 1, "queue: freeing a command id that is not busy");
    assert(this.freeCount < this.entries - 1, "queue: command id pool overflow");
    slot.busy = 0;
    store<u16>(this.freeCids + <usize>(this.freeCount * 2), <u16>cid);
    this.freeCount++;
  }

  // The SQE at the tail, zeroed, with opcode and command id set (the id the controller sees is
  // cidBase + cid). The caller checks canQueue() first (push() asserts it). Zeroed with eight
  // stores: this is on every command's path (the second half of a 128-byte entry stays zero).
  nextEntry(opcode: u32, cid: u32): SubmissionEntry {
    const p = this.sq + <usize>(this.sqTail * this.sqeBytes);
    store<u64>(p, 0); store<u64>(p, 0, 8); store<u64>(p, 0, 16); store<u64>(p, 0, 24);
    store<u64>(p, 0, 32); store<u64>(p, 0, 40); store<u64>(p, 0, 48); store<u64>(p, 0, 56);
    const sqe = changetype<SubmissionEntry>(p);
    sqe.cdw0 = (opcode & 0xff) | ((cid + this.cidBase) << 16);
    return sqe;
  }

  // Makes the entry at the tail part of the queue; the doorbell is rung separately, so that
  // a batch of commands costs one MMIO write.
  push(): void {
    assert(!this.sqFull(), "queue: pushing onto a full SQ");
    this.sqTail++;
    if (this.sqTail == this.entries) this.sqTail = 0;
    this.unrung++;
  }

  ringSubmission(): void {
    if (this.unrung == 0) return;
    assert(this.unrung < this.entries, "queue: more unrung entries than the SQ holds");
    this.ring(this.sqDoorbell, this.sqShadow, this.sqTail, this.unrung);
    this.unrung = 0;
  }

  // Every doorbell write goes through here. Without a shadow entry: the register. With one (NVMe 1.3
  // Doorbell Buffer Config, 5.10): the new value goes to the shadow entry, and the register is written
  // (with the same value) only if the controller's EventIdx lies in [old, value) of the ring, old
  // being the value `advanced` entries back, the need-event rule: (value - EventIdx - 1) mod 2^16 <
  // (value - old) mod 2^16. That is exact for a ring of at most 2^16 entries, wrapped or not. The
  // first fence puts the entries (or the consumed CQ entries' reads) before the shadow store; the
  // second the shadow store before the EventIdx load: a controller that wrote EventIdx and then
  // reads the shadow sees our value, or we see its.
  ring(register: u32, shadow: usize, value: u32, advanced: u32): void {
    if (shadow != 0) {
      fence();
      store<u32>(shadow, value);
      fence();
      const eventIdx = load<u32>(shadow + <usize>this.eventIdxOffset);
      const old = (value + this.entries - advanced) % this.entries;
      if (((value - eventIdx - 1) & 0xffff) >= ((value - old) & 0xffff)) return;
    }
    mmio_write32(this.mmio, register, value);
  }

  // The IO queues' doorbell: first stamps the commands it sends (the `unrung` entries before the
  // tail, found by the command id in their CDW0) with `nowNs`, the time it is rung.
  ringSubmissionAt(nowNs: u64): void {
    assert(this.unrung < this.entries, "queue: more unrung entries than the SQ holds");
    let index = this.sqTail;
    for (let k: u32 = 0; k < this.unrung; k++) {
      index = (index == 0 ? this.entries : index) - 1;
      const cdw0 = load<u32>(this.sq + <usize>(index * this.sqeBytes));
      this.slot((cdw0 >> 16) - this.cidBase).submitNs = nowNs;
    }
    this.ringSubmission();
  }

  // The CQE at the head if the controller has posted it (its phase tag matches), else null.
  peek(): CompletionEntry | null {
    const cqe = changetype<CompletionEntry>(this.cq + <usize>(this.cqHead * CQE_BYTES));
    if ((<u32>cqe.status & CQE_PHASE) != this.phase) return null;
    return cqe;
  }

  // Consumes the entry peek() returned; the doorbell is rung by ringCompletion().
  pop(cqe: CompletionEntry): void {
    const sqhd = <u32>cqe.sqhd;
    if (sqhd < this.entries) this.sqHead = sqhd;
    this.cqHead++;
    this.cqUnrung++;
    if (this.cqHead == this.entries) {
      this.cqHead = 0;
      this.phase ^= 1;
    }
  }

  ringCompletion(): void {
    assert(this.cqUnrung < this.entries, "queue: more consumed CQ entries than the CQ holds");
    this.ring(this.cqDoorbell, this.cqShadow, this.cqHead, this.cqUnrung);
    this.cqUnrung = 0;
  }

  // The CQ head doorbell may wait while the entries it would give back, with room for every
  // command in flight and `more` about to be sent, stay within half the ring.
  @inline cqDoorbellDue(more: u32): bool {
    return this.cqUnrung != 0 && this.cqUnrung + this.inFlight() + more > this.entries >> 1;
  }
}

// The IO queue pairs of a controller lie QUEUE_PAIR_BYTES apart (controller.ts).
export const QUEUE_PAIR_BYTES: u32 = 128;
if (offsetof<QueuePair>() > QUEUE_PAIR_BYTES) ERROR("QueuePair outgrew QUEUE_PAIR_BYTES");

// The status field of a completion, without the phase tag.
@inline export function cqeStatus(cqe: CompletionEntry): u32 {
  return <u32>cqe.status >> 1;
}
