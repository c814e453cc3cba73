import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { existsSync, type FSWatcher, readdirSync, watch } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import {
  EventType,
  type Filesystem,
  type FilesystemEvent,
  FilesystemEventSchema,
} from "../../../protocol/envd/filesystem/filesystem_pb.ts";
import { CLOSED, EventQueue, IDLE, keepaliveMs } from "./event-queue.ts";
import { fsError, resolvePath } from "./filesystem.ts";

export interface WatcherOptions {
  home: string;
  /** Watches open at once (each holds inotify watches); one beyond it is refused. */
  maxWatchers: number;
  /** Events a non-streaming watcher keeps until they are fetched; older ones are dropped beyond it. */
  maxPending: number;
}

/** A small fixed size per event: the queue bounds their number, not bytes. */
const EVENT_SIZE = 256;

/**
 * envd's directory watches: WatchDir streams events (a start event first), CreateWatcher / GetWatcherEvents /
 * RemoveWatcher keep them for polling. Events come from inotify through fs.watch: a name that appears is `create`, one
 * that disappears `remove`, a change `write`; names are relative to the watched directory.
 */
export class Watchers {
  private open = 0;
  private readonly polled = new Map<string, { watcher: FSWatcher; events: FilesystemEvent[] }>();

  constructor(private readonly options: WatcherOptions) {}

  readonly service: Partial<ServiceImpl<typeof Filesystem>> = {
    watchDir: (request, context) => this.stream(request.path, request.recursive, context),
    createWatcher: async (request) => {
      const path = await this.directory(request.path);
      const events: FilesystemEvent[] = [];
      const watcher = this.watch(path, request.recursive, (event) => {
        events.push(event);
        if (events.length > this.options.maxPending) events.shift();
      });
      const id = crypto.randomUUID();
      this.polled.set(id, { watcher, events });
      return { watcherId: id };
    },
    getWatcherEvents: (request) => {
      const entry = this.polled.get(request.watcherId);
      if (!entry) throw new ConnectError(`watcher '${request.watcherId}' not found`, Code.NotFound);
      return { events: entry.events.splice(0) };
    },
    removeWatcher: (request) => {
      const entry = this.polled.get(request.watcherId);
      if (!entry) throw new ConnectError(`watcher '${request.watcherId}' not found`, Code.NotFound);
      this.polled.delete(request.watcherId);
      this.close(entry.watcher);
      return {};
    },
  };

  closeAll(): void {
    for (const { watcher } of this.polled.values()) this.close(watcher);
    this.polled.clear();
  }

  private async *stream(rawPath: string, recursive: boolean, context: HandlerContext) {
    const path = await this.directory(rawPath);
    const queue = new EventQueue<FilesystemEvent>(this.options.maxPending * EVENT_SIZE, () => EVENT_SIZE);
    const watcher = this.watch(path, recursive, (event) => queue.push(event));
    const stop = () => queue.close();
    context.signal.addEventListener("abort", stop);
    try {
      yield { event: { case: "start" as const, value: {} } };
      const idleMs = keepaliveMs(context.requestHeader);
      for (;;) {
        const next = await queue.next(idleMs);
        if (next === CLOSED) break;
        yield next === IDLE ? { event: { case: "keepalive" as const, value: {} } } : { event: { case: "filesystem" as const, value: next } };
      }
      if (queue.closeReason) throw new ConnectError(queue.closeReason, Code.ResourceExhausted);
    } finally {
      context.signal.removeEventListener("abort", stop);
      this.close(watcher);
    }
  }

  private async directory(rawPath: string): Promise<string> {
    const path = resolvePath(rawPath, this.options.home);
    const info = await stat(path).catch((error) => {
      throw fsError(error, path);
    });
    if (!info.isDirectory()) throw new ConnectError(`path '${path}' is not a directory`, Code.InvalidArgument);
    return path;
  }

  private watch(path: string, recursive: boolean, emit: (event: FilesystemEvent) => void): FSWatcher {
    if (this.open >= this.options.maxWatchers) {
      throw new ConnectError(`too many watches open (${this.options.maxWatchers}); stop one first`, Code.ResourceExhausted);
    }
    // fs.watch says "rename" for both a name that appears and one that goes: which it was is told by whether the
    // name was there, tracked from a listing at the start (looking at the disk when the event is handled races with
    // what happened since: a file created and removed at once would read as two removals).
    const present = new Set(listing(path, recursive));
    let watcher: FSWatcher;
    try {
      watcher = watch(path, { recursive, persistent: false }, (kind, raw) => {
        if (!raw) return;
        const name = String(raw);
        let type: EventType;
        if (kind === "change") {
          type = EventType.WRITE;
          present.add(name);
        } else if (present.delete(name)) {
          // Gone, unless it was replaced in place (a rename over it): then it is there and changed.
          if (existsSync(join(path, name))) present.add(name);
          type = present.has(name) ? EventType.WRITE : EventType.REMOVE;
        } else {
          type = EventType.CREATE;
          present.add(name);
        }
        emit(create(FilesystemEventSchema, { name, type }));
      });
    } catch (error) {
      throw fsError(error, path);
    }
    this.open++;
    watcher.on("error", () => this.close(watcher));
    return watcher;
  }

  private close(watcher: FSWatcher): void {
    if ((watcher as { closedByUs?: boolean }).closedByUs) return;
    (watcher as { closedByUs?: boolean }).closedByUs = true;
    this.open--;
    watcher.close();
  }
}


const LISTING_LIMIT = 100_000;

/** Names under `dir` (relative, as fs.watch reports them), at most LISTING_LIMIT of them. */
function listing(dir: string, recursive: boolean): string[] {
  try {
    return (readdirSync(dir, { recursive }) as string[]).slice(0, LISTING_LIMIT);
  } catch {
    return [];
  }
}
