/**
 * The message handlers of each channel and their isolated delivery, shared by both stores' pub/sub.
 * Every handler gets its own fresh parse of the message, and a handler that throws (or rejects) is
 * reported and skipped without affecting the others.
 */
import { errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";

export type MessageHandler = (message: unknown) => void;
export type HandlerErrorReporter = (channel: string, error: unknown) => void;

const log = createLogger({ component: "store" });

export const logHandlerError: HandlerErrorReporter = (channel, error) =>
  log.error("store subscriber failed", { channel, error: errorMessage(error) });

/** One `subscribe` call: a token of its own, so the same function subscribed twice is removed once per unsubscribe. */
export interface Subscription {
  readonly handler: MessageHandler;
}

export class ChannelHandlers {
  private readonly byChannel = new Map<string, Set<Subscription>>();

  constructor(private readonly reportError: HandlerErrorReporter = logHandlerError) {}

  /** Adds a handler; returns true when it is the channel's first. */
  add(channel: string, subscription: Subscription): boolean {
    const existing = this.byChannel.get(channel);
    if (existing) {
      existing.add(subscription);
      return false;
    }
    this.byChannel.set(channel, new Set([subscription]));
    return true;
  }

  /** Removes a handler; returns true when it was the channel's last. */
  remove(channel: string, subscription: Subscription): boolean {
    const handlers = this.byChannel.get(channel);
    if (!handlers?.delete(subscription)) return false;
    if (handlers.size > 0) return false;
    this.byChannel.delete(channel);
    return true;
  }

  has(channel: string): boolean {
    return this.byChannel.has(channel);
  }

  clear(): void {
    this.byChannel.clear();
  }

  /** Calls every current handler of `channel` with its own parse of `text`. */
  deliver(channel: string, text: string): void {
    for (const { handler } of [...(this.byChannel.get(channel) ?? [])]) this.invoke(channel, handler, text);
  }

  private invoke(channel: string, handler: MessageHandler, text: string): void {
    try {
      const outcome: unknown = handler(JSON.parse(text));
      if (outcome instanceof Promise) outcome.catch((error: unknown) => this.reportError(channel, error));
    } catch (error) {
      this.reportError(channel, error);
    }
  }
}
