import { findSentinel, type Sentinel } from "./sentinel.ts";

export type WaitOutcome =
  | { kind: "sentinel"; text: string; exitCode: number }
  | { kind: "expect"; text: string; matched: string }
  | { kind: "timeout" }
  | { kind: "closed" };

interface Waiter {
  sentinel: Sentinel | null;
  expect: readonly string[];
  resolve: (outcome: WaitOutcome) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

/** Room kept after the last scan so that a marker or expect string split across chunks is still found. */
const SCAN_OVERLAP = 64;

/**
 * The decoded output of one bash session and the (single) waiter for a marker or an expect string. Resolution
 * happens on data arrival, never by polling. Output beyond `maxChars` keeps its head and its tail and drops the middle.
 */
export class SessionOutput {
  private text = "";
  private omitted = 0;
  private scanFrom = 0;
  private waiter: Waiter | null = null;
  private closed = false;

  constructor(private readonly maxChars: number) {}

  append(chunk: string): void {
    if (chunk.length === 0) return;
    this.text += chunk;
    if (this.text.length > this.maxChars) this.dropMiddle();
    this.settle();
  }

  markClosed(): void {
    this.closed = true;
    this.finish({ kind: "closed" });
  }

  /** Waits for `sentinel` or one of `expect`; `timeoutMs` null waits forever. */
  wait(sentinel: Sentinel | null, expect: readonly string[], timeoutMs: number | null): Promise<WaitOutcome> {
    if (this.waiter) throw new Error("session output already has a waiter");
    return new Promise((resolve) => {
      const waiter: Waiter = { sentinel, expect, resolve, timer: null };
      this.waiter = waiter;
      this.scanFrom = 0;
      if (timeoutMs !== null) {
        waiter.timer = setTimeout(() => this.finish({ kind: "timeout" }), Math.max(0, timeoutMs));
      }
      this.settle();
      if (this.closed) this.finish({ kind: "closed" });
    });
  }

  /** Everything not yet consumed, with the omission notice if output overflowed. */
  peek(): string {
    return this.render(this.text);
  }

  takeAll(): string {
    const all = this.peek();
    this.consume(this.text.length);
    return all;
  }

  private settle(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    const from = this.scanFrom;
    this.scanFrom = Math.max(0, this.text.length - longestPattern(waiter) - SCAN_OVERLAP);
    let best: { index: number; outcome: () => WaitOutcome } | null = null;
    const hit = waiter.sentinel ? findSentinel(this.text, waiter.sentinel, from) : null;
    if (hit) {
      best = {
        index: hit.start,
        outcome: () => {
          const text = this.render(this.text.slice(0, hit.start));
          this.consume(hit.end);
          return { kind: "sentinel", text, exitCode: hit.exitCode };
        },
      };
    }
    for (const expected of waiter.expect) {
      const index = this.text.indexOf(expected, from);
      if (index >= 0 && (!best || index < best.index)) {
        best = {
          index,
          outcome: () => {
            const text = this.render(this.text.slice(0, index));
            this.consume(index + expected.length);
            return { kind: "expect", text, matched: expected };
          },
        };
      }
    }
    if (best) this.finish(best.outcome());
  }

  private finish(outcome: WaitOutcome): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = null;
    if (waiter.timer) clearTimeout(waiter.timer);
    waiter.resolve(outcome);
  }

  private consume(end: number): void {
    this.text = this.text.slice(end);
    this.omitted = 0;
    this.scanFrom = 0;
  }

  private dropMiddle(): void {
    const half = Math.floor(this.maxChars / 2);
    this.omitted += this.text.length - 2 * half;
    this.text = this.text.slice(0, half) + this.text.slice(this.text.length - half);
    this.scanFrom = half;
  }

  private render(slice: string): string {
    if (this.omitted === 0) return slice;
    const half = Math.floor(this.maxChars / 2);
    if (slice.length <= half) return slice;
    return `${slice.slice(0, half)}\n[rocklet: ${this.omitted} characters of output omitted]\n${slice.slice(half)}`;
  }
}

function longestPattern(waiter: Waiter): number {
  const expectLength = waiter.expect.reduce((longest, item) => Math.max(longest, item.length), 0);
  return Math.max(expectLength, waiter.sentinel ? waiter.sentinel.marker.length + 16 : 0);
}
