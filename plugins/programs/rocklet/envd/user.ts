import { Code, ConnectError } from "@connectrpc/connect";
import { chown } from "node:fs/promises";
import { resolveRemoteUser, type SystemUser } from "../users.ts";

/**
 * The user an envd call acts as: RPCs name it in `Authorization: Basic base64(user:)`, /files in `?username=` (the
 * SDK's `user` option). Null for none or the rocklet's own user; another user needs the rocklet to run as root.
 */
export function userFromBasic(authorization: string | null): SystemUser | null {
  const match = authorization ? /^Basic\s+(\S+)$/i.exec(authorization.trim()) : null;
  return match ? userNamed(Buffer.from(match[1], "base64").toString("utf8").split(":")[0]) : null;
}

export function userNamed(name: string | null): SystemUser | null {
  try {
    return resolveRemoteUser(name || null);
  } catch (error) {
    throw new ConnectError(`user '${name}': ${(error as Error).message.replace(/^remote_user '[^']*' /, "")}`, Code.InvalidArgument);
  }
}

/** Gives what the call created to the user it acts as (nothing to do for the rocklet's own user). */
export async function chownTo(user: SystemUser | null, paths: string[]): Promise<void> {
  if (!user) return;
  for (const path of paths) await chown(path, user.uid, user.gid);
}
