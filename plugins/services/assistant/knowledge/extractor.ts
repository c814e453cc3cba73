/**
 * Extraction in a worker thread, one file at a time, each within a deadline. pdf.js, mammoth and html-to-text run
 * synchronously for long stretches: on the server's own thread a large or hostile file would stall every other
 * request (chat streams included), and a file that never finishes would hang its upload. A file past the deadline is
 * refused naming it and the limit, and its worker is replaced.
 */
import { ExtractionError } from "./extract.ts";

interface Job {
  file: string;
  type: string;
  bytes: Uint8Array;
  resolve(text: string): void;
  reject(error: Error): void;
}

type Answer = { id: number; text?: string; error?: string; unreadable?: string };

export class Extractor {
  private worker?: { thread: Worker; ready: Promise<void> };
  private readonly queue: Job[] = [];
  private busy = false;
  private nextId = 0;

  constructor(private readonly timeoutMs: number) {}

  extract(file: string, type: string, bytes: Uint8Array): Promise<string> {
    return new Promise((resolve, reject) => {
      this.queue.push({ file, type, bytes, resolve, reject });
      this.pump();
    });
  }

  /** A worker, ready once it has loaded the libraries (which does not count against a file's deadline). */
  private spawn() {
    const thread = new Worker(new URL("./extract-worker.ts", import.meta.url).href);
    thread.unref();
    const ready = new Promise<void>((resolve, reject) => {
      const onReady = (event: MessageEvent) => {
        if (!event.data?.ready) return;
        thread.removeEventListener("message", onReady);
        resolve();
      };
      thread.addEventListener("message", onReady);
      thread.addEventListener("error", (event) => reject(new Error(`the extraction worker failed to start: ${event.message}`)), { once: true });
    });
    return { thread, ready };
  }

  private async pump() {
    if (this.busy) return;
    const job = this.queue.shift();
    if (!job) return;
    this.busy = true;
    const spawned = (this.worker ??= this.spawn());
    try {
      await spawned.ready;
    } catch (error) {
      this.retire(spawned);
      this.busy = false;
      job.reject(error as Error);
      return void this.pump();
    }
    const worker = spawned.thread;
    const id = ++this.nextId;
    const done = () => {
      clearTimeout(timer);
      worker.removeEventListener("message", onMessage);
      worker.removeEventListener("error", onError);
      this.busy = false;
      this.pump();
    };
    const onMessage = (event: MessageEvent<Answer>) => {
      if (event.data.id !== id) return;
      done();
      const { text, error, unreadable } = event.data;
      if (unreadable !== undefined) job.reject(new ExtractionError(job.file, unreadable));
      else if (error !== undefined) job.reject(new Error(error));
      else job.resolve(text!);
    };
    const onError = (event: ErrorEvent) => {
      this.retire(spawned);
      done();
      job.reject(new ExtractionError(job.file, `could not be read (${event.message})`));
    };
    const timer = setTimeout(() => {
      this.retire(spawned);
      done();
      job.reject(new ExtractionError(job.file, `took longer than ${this.timeoutMs} ms to extract (knowledge.extract_timeout_ms)`));
    }, this.timeoutMs);
    worker.addEventListener("message", onMessage);
    worker.addEventListener("error", onError);
    // A copy goes over: the caller keeps its bytes to store them.
    const bytes = job.bytes.slice();
    worker.postMessage({ id, file: job.file, type: job.type, bytes }, [bytes.buffer]);
  }

  private retire(worker: { thread: Worker }) {
    worker.thread.terminate();
    if (this.worker === worker) this.worker = undefined;
  }

  stop() {
    if (this.worker) this.retire(this.worker);
    for (const job of this.queue.splice(0)) job.reject(new Error("the server is stopping"));
  }
}
