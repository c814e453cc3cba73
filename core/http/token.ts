import { timingSafeEqual } from "node:crypto";

/** Constant-time comparison of an `Authorization: Bearer <token>` header with the expected token. */
export function bearerMatches(header: string | null, expected: string): boolean {
  if (!header) return false;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return false;
  const given = Buffer.from(match[1]);
  const wanted = Buffer.from(expected);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
