/** Opening and releasing the ioredis connections of `RedisStore`, and naming a Redis URL without its password. */
import Redis from "ioredis";
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

/** Logs a connection's errors (ioredis reconnects by itself; without a listener it prints "Unhandled error event"). */
export function logConnectionErrors(client: Redis, role: string): void {
  client.on("error", (error: unknown) => log.warn("redis connection error", { role, error: errorMessage(error) }));
}

/** A connection to `url` that connects on first use; its password is registered so that no log line shows it. */
export function openConnection(url: string): Redis {
  if (!/^rediss?:\/\//.test(url)) throw new Error(`not a Redis URL (redis:// or rediss://): ${redactRedisUrl(url)}`);
  registerSecret(passwordOf(url));
  const client = new Redis(url, { lazyConnect: true });
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
