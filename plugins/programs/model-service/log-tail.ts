/**
 * Follows the log file as it grows: reads only the new bytes, parses them into a LogState and tells the waiters.
 * Wakes on a change notification (inotify on the file's directory, which also sees the file being created or
 * replaced) and, as a fallback for filesystems that do not notify (network mounts, some overlays), on a poll.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { LogParser, type LogRecord } from "./log-parser.ts";
import { LogState } from "./log-state.ts";

export interface TailOptions {
  pollIntervalMs: number;
  /** Called once per malformed record found, e.g. to log it. */
  onMalformed?: (record: Extract<LogRecord, { kind: "malformed" }>) => void;
}

type Waiter = () => void;

export class TimeoutError extends Error {
  override name = "TimeoutError";
}

const READ_CHUNK = 1 << 20;
const ALERT_WINDOW_MS = 50;

export class LogTail {
  state = new LogState();
  private parser = new LogParser();
  private decoder = new TextDecoder();
  private fd: number | undefined;
  private inode: number | undefined;
  private offset = 0;
  private readonly waiters = new Set<Waiter>();
  private watcher: FSWatcher | undefined;
  private poller: ReturnType<typeof setInterval> | undefined;
  private alertTimer: ReturnType<typeof setInterval> | undefined;
  private alertUntil = 0;

  constructor(
    readonly path: string,
    private readonly options: TailOptions,
  ) {}

  /** Starts following; reads what is already there. */
  start(): this {
    this.refresh();
    const name = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), (_event, file) => {
        if (file === null || file === name) this.onChange();
      });
      this.watcher.on("error", () => this.stopWatching());
    } catch {
      // No notifications here (directory missing, inotify limit reached): the poll alone still works.
    }
    this.poller = setInterval(() => this.refresh(), this.options.pollIntervalMs);
    return this;
  }

  close(): void {
    this.stopWatching();
    clearInterval(this.alertTimer);
    this.alertTimer = undefined;
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * Bun 1.4's fs.watch loses changes that follow the previous notification closely (oven-sh/bun#7919), which is
   * exactly when the other side answers fast. So any activity also re-reads the file every millisecond for a short
   * while; later changes are notified normally, and the slow poll stays as the last resort.
   */
  private onChange(): void {
    this.refresh();
    this.stayAlert();
  }

  private stayAlert(): void {
    this.alertUntil = performance.now() + ALERT_WINDOW_MS;
    if (this.alertTimer) return;
    this.alertTimer = setInterval(() => {
      this.refresh();
      if (performance.now() < this.alertUntil) return;
      clearInterval(this.alertTimer);
      this.alertTimer = undefined;
    }, 1);
  }

  /** Reads new bytes; returns true when records were added. */
  refresh(): boolean {
    if (!this.openCurrentFile()) return false;
    let added = false;
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    while (true) {
      const read = readSync(this.fd!, buffer, 0, READ_CHUNK, this.offset);
      if (read <= 0) break;
      this.offset += read;
      const records = this.parser.feed(this.decoder.decode(buffer.subarray(0, read), { stream: true }));
      for (const record of records) {
        this.state.apply(record);
        if (record.kind === "malformed") this.options.onMalformed?.(record);
      }
      added ||= records.length > 0;
    }
    if (added) {
      if (this.poller) this.stayAlert();
      for (const wake of [...this.waiters]) wake();
    }
    return added;
  }

  /**
   * Resolves with the first non-undefined value of `check(state)`, re-checked whenever records arrive.
   * Rejects with a TimeoutError after `timeoutMs`, or with the signal's reason when it aborts.
   */
  waitFor<T>(check: (state: LogState) => T | undefined, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (options.signal?.aborted) return reject(options.signal.reason);
      let timer: ReturnType<typeof setTimeout> | undefined;
      let done = false;
      const finish = (outcome: () => void) => {
        done = true;
        this.waiters.delete(attempt);
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        outcome();
      };
      const attempt = () => {
        try {
          const value = check(this.state);
          if (value !== undefined) finish(() => resolve(value));
        } catch (error) {
          finish(() => reject(error));
        }
      };
      const onAbort = () => finish(() => reject(options.signal!.reason));
      this.refresh();
      attempt();
      if (done) return;
      this.waiters.add(attempt);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => finish(() => reject(new TimeoutError(`timed out after ${options.timeoutMs} ms`))), options.timeoutMs);
      }
    });
  }

  /** Opens the file, or reopens it when it was replaced or truncated (then everything is read again). */
  private openCurrentFile(): boolean {
    let inode: number;
    try {
      inode = statSync(this.path).ino;
    } catch {
      return false;
    }
    if (this.fd !== undefined && inode === this.inode && fstatSync(this.fd).size >= this.offset) return true;
    if (this.fd !== undefined) closeSync(this.fd);
    try {
      this.fd = openSync(this.path, "r");
    } catch {
      this.fd = undefined;
      return false;
    }
    this.inode = fstatSync(this.fd).ino;
    this.offset = 0;
    this.parser = new LogParser();
    this.decoder = new TextDecoder();
    this.state = new LogState();
    return true;
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
