/**
 * `RedisStore`'s subscriptions: one dedicated connection, opened on the first subscribe (a connection in
 * subscriber mode can run no other commands), carrying one Redis SUBSCRIBE per channel however many
 * handlers share it. The channel is unsubscribed in Redis when its last handler goes. After the connection was lost,
 * ioredis subscribes the channels again as soon as it is back.
 */
import type Redis from "ioredis";
import { ChannelHandlers, type HandlerErrorReporter, type MessageHandler, type Subscription } from "./channel-handlers.ts";
import { releaseConnection } from "./redis-connection.ts";
import type { Unsubscribe } from "./store.ts";
import { storeClosed } from "./values.ts";

export class RedisSubscriber {
  private readonly handlers: ChannelHandlers;
  /** Per subscribed channel, its SUBSCRIBE (in flight or acknowledged): later handlers wait for it too. */
  private readonly acknowledged = new Map<string, Promise<unknown>>();
  private client: Redis | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly openConnection: () => Redis,
    reportError?: HandlerErrorReporter,
  ) {
    this.handlers = new ChannelHandlers(reportError);
  }

  /** The connection, connected once (commands are not queued until it is: see `boundedOptions`). */
  private async connection(): Promise<Redis> {
    if (!this.client) {
      this.client = this.openConnection();
      this.client.on("message", (channel: string, text: string) => this.handlers.deliver(channel, text));
    }
    const client = this.client;
    if (client.status === "wait") this.connecting ??= client.connect().finally(() => (this.connecting = undefined));
    await this.connecting;
    return client;
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe> {
    if (this.closed) throw storeClosed();
    const subscription = { handler };
    if (this.handlers.add(channel, subscription)) this.acknowledged.set(channel, this.connection().then((client) => client.subscribe(channel)));
    try {
      await this.acknowledged.get(channel);
    } catch (error) {
      this.forget(channel, subscription);
      throw error;
    }
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      // Without a connection there is nothing to tell Redis: a channel resubscribed on reconnect finds no handler.
      if (this.forget(channel, subscription) && !this.closed) await this.connection().then((client) => client.unsubscribe(channel)).catch(() => undefined);
    };
  }

  /** Drops a handler; returns true when it was the channel's last. */
  private forget(channel: string, subscription: Subscription): boolean {
    if (!this.handlers.remove(channel, subscription)) return false;
    this.acknowledged.delete(channel);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    this.acknowledged.clear();
    if (this.client) await releaseConnection(this.client);
  }
}
