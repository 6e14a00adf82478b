// The host's side of the block interface (docs/block-interface.md): it holds the driver's exports,
// takes the driver's request_done calls, and gives each client module (the shell, …) its `blk`
// imports. The host is the only party that sees both memories: data moves between the client's
// memory and the client's share of the driver's buffer memory by copies made here, and a client
// never learns a driver address.
//
//   const link = new BlockLink(machine, driverInstance);            // after driver.start…()
//   const blk = link.clientImports(() => clientMemory, shareBytes); // a client's `blk` module
//
// Waiting (blk.complete) is where the host decides how completions are noticed: it polls the
// driver, sleeps in the machine's irq_wait and calls the driver's interrupt entry when a line
// fires, or, while a polled controller has requests, lets time pass a step at a time; and it calls
// tick every TICK_NS so lost commands are found.

// Numbers of the block interface; test/machine/abi.test.js checks them against assembly/common/abi.ts.
export const OP_MASK = 0xff;
export const OP_READ = 1;
export const OP_WRITE = 2;
export const OP_LOG_PAGE = 6;
export const LOG_PAGE_BYTES_MAX = 4096;
export const ERR_BAD_BUFFER = 0x10008;
export const ERR_NO_NAMESPACE = 0x10005;
export const CONTROLLER_RECORD_BYTES = 156;
export const NAMESPACE_RECORD_BYTES = 36;
export const STATS_RECORD_BYTES = 104;
export const STAT_DEVICE_NS = 80; // u64: doorbell rung -> completion seen, summed over IO commands
export const STAT_DEVICE_COMMANDS = 88; // u64: the IO commands in that sum
export const IDENTIFY_BYTES = 4096;
export const DONE_RECORD_BYTES = 16;
export const NS_LBA_SHIFT = 16;
export const WAIT_NOTHING = 0;
export const WAIT_POLL = 2;

export const TICK_NS = 1_000_000n; // how often blk.complete calls the driver's tick
const IRQ_SLICE_NS = 2_000_000n; // one irq_wait while requests are on interrupt-driven controllers

export class BlockLink {
  constructor(machine, driver) {
    this.m = machine;
    this.drv = driver.exports;
    this.clients = [];
    this.lastTick = machine.now;
    this.shareUsed = 0;
  }

  driverBytes() {
    return new Uint8Array(this.m.memory.buffer);
  }

  // env.request_done of the driver: a request finished; it goes to its client's queue.
  requestDone(tag, status, errorLba) {
    const t = BigInt.asUintN(64, tag);
    const client = this.clients[Number(t >> 32n)];
    if (!client) throw new Error(`request_done for tag ${t}: no such client`);
    client.done.push({ tag: Number(t & 0xffff_ffffn), status: status >>> 0, errorLba: BigInt.asUintN(64, errorLba) });
    client.inFlight--;
  }

  // Lets time pass until something may have completed: an interrupt (handed to the driver), or one
  // poll step; the driver's tick every TICK_NS.
  idle(deadline) {
    const m = this.m;
    if (this.drv.wait_hint() === WAIT_POLL) m.relaxStepAdvance();
    else {
      let slice = deadline - m.now;
      if (slice > IRQ_SLICE_NS) slice = IRQ_SLICE_NS;
      if (slice < 0n) slice = 0n;
      const lines = m.irqWait(slice);
      if (lines) this.drv.interrupt(lines);
    }
    if (m.now - this.lastTick >= TICK_NS) {
      this.lastTick = m.now;
      this.drv.tick();
    }
  }

  // The `blk` imports of a client. `memory()` returns the client's memory; `shareBytes` of the
  // driver's buffer memory become the client's (offsets 0 .. shareBytes - 1).
  clientImports(memory, shareBytes) {
    const id = this.clients.length;
    const base = Number(this.drv.buffer_base()) >>> 0;
    const total = this.drv.buffer_bytes() >>> 0;
    if (this.shareUsed + shareBytes > total)
      throw new Error(`client ${id}: ${shareBytes} bytes of buffer asked, ${total - this.shareUsed} left`);
    const client = { id, shareBase: base + this.shareUsed, shareBytes, done: [], inFlight: 0 };
    this.shareUsed += shareBytes;
    this.clients.push(client);
    const link = this;
    const drv = this.drv;
    const clientBytes = () => new Uint8Array(memory().buffer);
    const inClient = (ptr, len) => ptr >= 0 && len >= 0 && ptr + len <= memory().buffer.byteLength;
    const inShare = (off, len) => off >= 0 && len >= 0 && off + len <= shareBytes;
    const copyRecord = (addr, ptr, len) => {
      if (!addr || !inClient(ptr, len)) return -1;
      clientBytes().set(link.driverBytes().subarray(addr, addr + len), ptr);
      return len;
    };
    // Each namespace's log2 block size, read once (namespaces do not change after start).
    const shifts = Array.from({ length: drv.namespace_count() }, (_, ns) => {
      const p = drv.describe_namespace(ns) >>> 0;
      return new DataView(link.m.memory.buffer).getUint32(p + NS_LBA_SHIFT, true);
    });
    const lbaShift = (ns) => (ns < shifts.length ? shifts[ns] : -1);
    return {
      controller_count: () => drv.controller_count(),
      namespace_count: () => drv.namespace_count(),
      describe_controller: (i, ptr) => copyRecord(drv.describe_controller(i) >>> 0, ptr >>> 0, CONTROLLER_RECORD_BYTES),
      describe_namespace: (i, ptr) => copyRecord(drv.describe_namespace(i) >>> 0, ptr >>> 0, NAMESPACE_RECORD_BYTES),
      controller_stats: (i, ptr) => copyRecord(drv.controller_stats(i) >>> 0, ptr >>> 0, STATS_RECORD_BYTES),
      identify_data: (i, ptr) => copyRecord(drv.identify_data(i) >>> 0, ptr >>> 0, IDENTIFY_BYTES),
      buffer_bytes: () => shareBytes,
      buffer_write(off, ptr, len) {
        off >>>= 0;
        ptr >>>= 0;
        len >>>= 0;
        if (!inShare(off, len) || !inClient(ptr, len)) return -1;
        link.driverBytes().set(clientBytes().subarray(ptr, ptr + len), client.shareBase + off);
        return 0;
      },
      buffer_read(off, ptr, len) {
        off >>>= 0;
        ptr >>>= 0;
        len >>>= 0;
        if (!inShare(off, len) || !inClient(ptr, len)) return -1;
        clientBytes().set(link.driverBytes().subarray(client.shareBase + off, client.shareBase + off + len), ptr);
        return 0;
      },
      // Only reads, writes and log pages move data: the others (flush, zeroes, deallocate, and any
      // unknown op, which the driver refuses) get the share's start, never a client's offset. A log
      // page's `ns` is a controller index and `blocks` its byte count; past the limit the driver
      // refuses it (ERR_RANGE), so it is not checked here.
      submit(tag, op, ns, lba, blocks, off) {
        op >>>= 0;
        ns >>>= 0;
        blocks >>>= 0;
        off >>>= 0;
        const kind = op & OP_MASK;
        const data = kind === OP_READ || kind === OP_WRITE || kind === OP_LOG_PAGE;
        if (kind === OP_LOG_PAGE) {
          if (blocks <= LOG_PAGE_BYTES_MAX && !inShare(off, blocks)) return ERR_BAD_BUFFER;
        } else if (data) {
          const shift = lbaShift(ns);
          if (shift < 0) return ERR_NO_NAMESPACE;
          if (!inShare(off, blocks * 2 ** shift)) return ERR_BAD_BUFFER;
        }
        const driverTag = (BigInt(id) << 32n) | BigInt(tag >>> 0);
        const status = drv.submit(driverTag, op, ns, lba, blocks, client.shareBase + (data ? off : 0)) >>> 0;
        if (status === 0) client.inFlight++;
        return status;
      },
      complete(ptr, cap, timeoutNs) {
        ptr >>>= 0;
        cap >>>= 0;
        const m = link.m;
        const deadline = m.clampNs(m.now + BigInt.asUintN(64, timeoutNs));
        drv.poll();
        while (!client.done.length && client.inFlight !== 0 && m.now < deadline) {
          link.idle(deadline);
          if (!client.done.length) drv.poll();
        }
        const n = Math.min(cap, client.done.length);
        if (!inClient(ptr, n * DONE_RECORD_BYTES)) return -1;
        const view = new DataView(memory().buffer);
        for (let i = 0; i < n; i++) {
          const d = client.done.shift();
          view.setUint32(ptr + i * DONE_RECORD_BYTES, d.tag, true);
          view.setUint32(ptr + i * DONE_RECORD_BYTES + 4, d.status, true);
          view.setBigUint64(ptr + i * DONE_RECORD_BYTES + 8, d.errorLba, true);
        }
        return n;
      },
      driver_errors: () => drv.log_errors(),
      shutdown: () => drv.shutdown(),
    };
  }
}
