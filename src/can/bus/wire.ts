import { performance } from 'node:perf_hooks';
import { stampFrame, type CanFrame } from './frame.ts';
import { busTiming, frameBits, type BusTiming, type FrameBits } from './timing.ts';

/** What the wire hands back when a frame has been transmitted. */
export type WireDelivery<Node> = (frame: CanFrame, sender: Node, endSeconds: number) => void;

interface QueuedFrame<Node> {
  frame: CanFrame;
  sender: Node;
  channel: string;
  /** Wire time at which the sender queued the frame. */
  queuedAt: number;
  priority: number;
  sequence: number;
  resolve: (frame: CanFrame) => void;
  reject: (error: Error) => void;
}

/** Counters of one timed wire; take two snapshots and diff them for a window (see `busLoadPercent`). */
export interface WireStatistics {
  frames: number;
  bits: number;
  stuffBits: number;
  /** Wire time spent transmitting frames. */
  busySeconds: number;
  /** Wire time elapsed since the wire was created: the end of the last transmitted frame, or now when idle. */
  elapsedSeconds: number;
  /** Wire time at which the last transmitted frame ended (relative to the wire's creation). */
  lastFrameEndSeconds: number;
  /** busySeconds / elapsedSeconds in percent. */
  loadPercent: number;
}

/** Bus load over the window between two snapshots of the same wire, in percent. */
export function busLoadPercent(before: WireStatistics, after: WireStatistics): number {
  const elapsed = after.elapsedSeconds - before.elapsedSeconds;
  return elapsed > 0 ? (100 * (after.busySeconds - before.busySeconds)) / elapsed : 0;
}

/**
 * How far wire time may lag behind real time. A reaction to a wire event counts as immediate (queued at
 * the event's wire time) however late the process got round to the event (timers fire late on a busy
 * machine), up to this much; beyond it, frames are queued at (now - this), so a process that cannot keep
 * up with the wire does not pile up ever older timestamps, and the catch-up after a stall carries at most
 * this much wire time.
 */
const MAX_LAG_SECONDS = 0.05;

const realSeconds = (): number => performance.now() / 1000;

/**
 * The arbitration priority of a frame as the bits on the wire decide it, lower wins: the 11 base-id bits,
 * then RTR/SRR, then IDE, then (29-bit) the 18 extension bits and RTR. A standard frame thus beats an
 * extended one with the same base id, and a data frame beats a remote frame with the same id. Error frames
 * do not arbitrate: they go first.
 */
export function arbitrationPriority(frame: CanFrame): number {
  if (frame.error) return -1;
  if (!frame.extended) {
    // base id, RTR (RRS is always dominant on FD frames), IDE = 0
    return (frame.id * 2 + (frame.remote ? 1 : 0)) * 2 ** 20;
  }
  const base = frame.id >>> 18;
  const extension = frame.id & 0x3ffff;
  // base id, SRR = 1, IDE = 1, extension id, RTR
  return (base * 4 + 3) * 2 ** 19 + extension * 2 + (frame.remote ? 1 : 0);
}

/**
 * A CAN wire with bit timing, shared by the nodes of one virtual channel. It keeps a wire clock: frames
 * go out back to back at the wire's bit rate, the lowest arbitration priority first among the nodes that
 * have a frame waiting when the bus goes idle, each node's own frames in order (one transmit FIFO per
 * node, as SocketCAN has). Timers only fire every millisecond or so while a frame lasts 0.1-0.3 ms, so
 * the wire releases frames in batches once real time has passed their end: a frame is never delivered
 * before the wire would have finished it.
 *
 * A node that reacts at once to a wire event (in the same turn of the event loop: an ISO-TP sender
 * whose `send` just resolved, a receiver answering with a flow control) has its frame queued at the wire
 * time of that event, not at the later real time the batch happened to run, so a busy stream stays back to
 * back on the wire as it would on a real bus.
 */
export class TimedWire<Node> {
  readonly timing: Required<Omit<BusTiming, 'dataBitrate'>> & Pick<BusTiming, 'dataBitrate'>;
  readonly #deliver: WireDelivery<Node>;
  readonly #queues = new Map<Node, QueuedFrame<Node>[]>();
  /** Wire time = real seconds since `#origin` (performance clock), lagging behind while catching up. */
  readonly #origin = realSeconds();
  #idleAt = 0;
  /** The last transmitted frame's end in wire time, and the real time the wire reached it. */
  #lastEvent = { wire: 0, real: 0 };
  #reacting = false;
  /** Wire time of the current turn of the event loop, once asked for (see `#now`). */
  #turnTime: number | undefined;
  #sequence = 0;
  #timer: NodeJS.Timeout | undefined;
  #pumpQueued = false;
  #frames = 0;
  #bits = 0;
  #stuffBits = 0;
  #busySeconds = 0;

  constructor(timing: BusTiming, deliver: WireDelivery<Node>) {
    this.timing = busTiming(timing);
    this.#deliver = deliver;
  }

  /** Epoch seconds of wire time 0, to stamp frames. */
  get epochOrigin(): number {
    return (performance.timeOrigin / 1000) + this.#origin;
  }

  /** Queues a frame; resolves with the frame as delivered (stamped with wire time and `channel`) once it has left the wire. */
  transmit(frame: CanFrame, sender: Node, channel: string): Promise<CanFrame> {
    return new Promise((resolve, reject) => {
      let queue = this.#queues.get(sender);
      if (!queue) {
        queue = [];
        this.#queues.set(sender, queue);
      }
      queue.push({
        frame, sender, channel, queuedAt: this.#now(), priority: arbitrationPriority(frame),
        sequence: this.#sequence++, resolve, reject,
      });
      this.#schedulePump();
    });
  }

  /** Drops a node's waiting frames (it left the bus), rejecting their sends with `error`. */
  cancel(sender: Node, error: Error): void {
    const queue = this.#queues.get(sender);
    this.#queues.delete(sender);
    for (const queued of queue ?? []) queued.reject(error);
  }

  get pendingFrames(): number {
    let count = 0;
    for (const queue of this.#queues.values()) count += queue.length;
    return count;
  }

  statistics(): WireStatistics {
    const elapsedSeconds = Math.max(this.#idleAt, this.#now());
    return {
      frames: this.#frames,
      bits: this.#bits,
      stuffBits: this.#stuffBits,
      busySeconds: this.#busySeconds,
      elapsedSeconds,
      lastFrameEndSeconds: this.#lastEvent.wire,
      loadPercent: elapsedSeconds > 0 ? (100 * this.#busySeconds) / elapsedSeconds : 0,
    };
  }

  /** Stops the timer; waiting frames stay queued (their nodes cancel them when they close). */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Wire time now, as seen by a node that is sending. One turn of the event loop is one instant: frames
   * queued together (a loop of sends, a node and its peers reacting to the same event) compete in the
   * same arbitration even if the OS preempted the process halfway through the loop.
   */
  #now(): number {
    if (this.#turnTime !== undefined) return this.#turnTime;
    const real = realSeconds() - this.#origin;
    this.#turnTime = this.#reacting ? Math.max(this.#lastEvent.wire, real - MAX_LAG_SECONDS)
      : Math.max(this.#lastEvent.wire + (real - this.#lastEvent.real), real - MAX_LAG_SECONDS);
    setImmediate(() => { this.#turnTime = undefined; });
    return this.#turnTime;
  }

  #schedulePump(): void {
    if (this.#pumpQueued || this.#timer) return;
    this.#pumpQueued = true;
    // After the current microtasks, so every node that reacts to the last event has queued its frame.
    setImmediate(() => {
      this.#pumpQueued = false;
      this.#reacting = false;
      this.#pump();
    });
  }

  /** Transmits the next frame if real time has reached its end, else sleeps until then. */
  #pump(): void {
    const next = this.#arbitrate();
    if (!next) return;
    const bits = frameBits(next.queued.frame, this.timing.stuffing);
    const duration = bits.nominalBits / this.timing.bitrate
      + bits.dataPhaseBits / (this.timing.dataBitrate ?? this.timing.bitrate);
    const end = next.start + duration;
    const real = realSeconds() - this.#origin;
    if (end > real) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, Math.max(1, Math.ceil((end - real) * 1000)));
      return;
    }
    this.#commit(next.queued, end, duration, bits, real);
    this.#schedulePump();
  }

  /** The frame that wins the bus when it next goes idle, and when it starts. */
  #arbitrate(): { queued: QueuedFrame<Node>; start: number } | undefined {
    let earliest = Infinity;
    for (const queue of this.#queues.values()) {
      if (queue.length > 0 && queue[0]!.queuedAt < earliest) earliest = queue[0]!.queuedAt;
    }
    if (earliest === Infinity) return undefined;
    const start = Math.max(this.#idleAt, earliest);
    let winner: QueuedFrame<Node> | undefined;
    for (const queue of this.#queues.values()) {
      const head = queue[0];
      if (!head || head.queuedAt > start) continue;
      if (!winner || head.priority < winner.priority
        || (head.priority === winner.priority && head.sequence < winner.sequence)) winner = head;
    }
    return { queued: winner!, start };
  }

  #commit(queued: QueuedFrame<Node>, end: number, duration: number, bits: FrameBits, real: number): void {
    this.#queues.get(queued.sender)!.shift();
    this.#idleAt = end;
    this.#lastEvent = { wire: end, real };
    this.#reacting = true;
    this.#turnTime = undefined;
    this.#frames += 1;
    this.#bits += bits.totalBits;
    this.#stuffBits += bits.stuffBits;
    this.#busySeconds += duration;
    const stamped = stampFrame(queued.frame, this.epochOrigin + end, queued.channel);
    try {
      this.#deliver(stamped, queued.sender, end);
    } finally {
      queued.resolve(stamped);
    }
  }
}
