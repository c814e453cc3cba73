/**
 * The events of one server stream, pushed by a process or a watcher and pulled by the RPC's generator. A reader that
 * falls behind by more than `maxBytes` is cut off (its stream ends with the reason) instead of growing without bound.
 */
export class EventQueue<T> {
  private readonly items: T[] = [];
  private bytes = 0;
  private waiting: ((value: T | typeof IDLE | typeof CLOSED) => void) | null = null;
  private closedWith: { reason: string | null } | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (item: T) => number,
  ) {}

  push(item: T): void {
    if (this.closedWith) return;
    if (this.waiting) {
      const wake = this.waiting;
      this.waiting = null;
      wake(item);
      return;
    }
    this.bytes += this.sizeOf(item);
    if (this.bytes > this.maxBytes) {
      this.close(`the reader fell more than ${this.maxBytes} bytes behind the output and was disconnected`);
      return;
    }
    this.items.push(item);
  }

  /** Ends the stream once what was queued is read; with a reason, the reader gets it as an error. */
  close(reason: string | null = null): void {
    if (this.closedWith) return;
    this.closedWith = { reason };
    if (reason !== null) this.items.length = 0;
    if (this.waiting && this.items.length === 0) {
      const wake = this.waiting;
      this.waiting = null;
      wake(CLOSED);
    }
  }

  /** The next item, IDLE after `idleMs` without one, or CLOSED (then `closeReason` says why, if not normally). */
  next(idleMs: number): Promise<T | typeof IDLE | typeof CLOSED> {
    const item = this.items.shift();
    if (item !== undefined) {
      this.bytes -= this.sizeOf(item);
      return Promise.resolve(item);
    }
    if (this.closedWith) return Promise.resolve(CLOSED);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        resolve(IDLE);
      }, idleMs);
      this.waiting = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
    });
  }

  get closeReason(): string | null {
    return this.closedWith?.reason ?? null;
  }
}

export const IDLE = Symbol("idle");
export const CLOSED = Symbol("closed");

/** How long a stream may stay silent before a keepalive event: the client's `Keepalive-Ping-Interval` (seconds). */
export function keepaliveMs(headers: Headers): number {
  const seconds = Number(headers.get("keepalive-ping-interval"));
  return Number.isFinite(seconds) && seconds >= 1 ? Math.min(seconds, 300) * 1000 : 50_000;
}
