/** Opening and releasing the ioredis connections of `RedisStore`, and naming a Redis URL without its password. */
import Redis, { type RedisOptions } from "ioredis";
import { errorMessage } from "../errors.ts";
import { createLogger, registerSecret } from "../log.ts";

const log = createLogger({ component: "store" });

/** `url` with any password replaced by `***`, safe for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/(\/\/[^/@:]*:)[^/@]*@/, "$1***@");
  }
}

function passwordOf(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Logs a connection's errors (ioredis reconnects by itself; without a listener it prints "Unhandled error event"):
 * each new error once, not every reconnect attempt, and the connection's return after them.
 */
export function logConnectionErrors(client: Redis, role: string): void {
  let last: string | undefined;
  client.on("error", (error: unknown) => {
    const message = errorMessage(error);
    if (message !== last) log.warn("redis connection error", { role, error: message });
    last = message;
  });
  client.on("ready", () => {
    if (last !== undefined) log.info("redis connection restored", { role });
    last = undefined;
  });
}

/**
 * How the store's connections wait, so that no caller waits on Redis longer than `timeoutMs`: a command answers or
 * fails within it, and none waits in a queue for a connection that may never come (a command sent while Redis is
 * away fails at once). A command that failed is never sent again later: the caller already saw it fail. The
 * connection itself keeps reconnecting, at most a second apart, so service resumes within a second of Redis
 * returning; subscriptions are renewed then (ioredis' autoResubscribe).
 */
export function boundedOptions(timeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  };
}

/** A connection to `url` that connects on first use; its password is registered so that no log line shows it. */
export function openConnection(url: string, timeoutMs: number): Redis {
  if (!/^rediss?:\/\//.test(url)) throw new Error(`not a Redis URL (redis:// or rediss://): ${redactRedisUrl(url)}`);
  registerSecret(passwordOf(url));
  const client = new Redis(url, boundedOptions(timeoutMs));
  logConnectionErrors(client, "commands");
  return client;
}

/** Connects when not yet connected and checks that the server answers; fails with the socket's own error. */
export async function verifyConnection(client: Redis): Promise<void> {
  let socketError: unknown;
  const remember = (error: unknown) => (socketError ??= error);
  client.on("error", remember);
  try {
    if (client.status === "wait") await client.connect();
    await client.ping();
  } catch (error) {
    throw socketError ?? error;
  } finally {
    client.off("error", remember);
  }
}

/** Waits for pending replies when connected; otherwise just drops the socket (QUIT would connect first). */
export async function releaseConnection(client: Redis): Promise<void> {
  if (client.status === "end") return;
  if (client.status !== "ready") return client.disconnect();
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
