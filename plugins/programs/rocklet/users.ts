import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { rockletErrors } from "./errors.ts";

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * The account a session runs as (`remote_user`). Switching needs root; the shell is then spawned with that uid/gid
 * directly instead of through `su`, which would sit between the rocklet and bash and eat the interrupt signals.
 */
export function resolveRemoteUser(name: string | null): SystemUser | null {
  if (name === null || name === "" || name === currentUserName()) return null;
  if (process.getuid?.() !== 0) {
    throw rockletErrors.valueError(`remote_user '${name}' needs the rocklet to run as root`);
  }
  const entry = readPasswd().find((user) => user.name === name);
  if (!entry) throw rockletErrors.valueError(`remote_user '${name}' does not exist`);
  return entry;
}

function currentUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}

function readPasswd(): SystemUser[] {
  let text = "";
  try {
    text = readFileSync("/etc/passwd", "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .map((line) => line.split(":"))
    .filter((fields) => fields.length >= 7)
    .map(([name, , uid, gid, , home]) => ({ name, uid: Number(uid), gid: Number(gid), home }));
}
