import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { readStdinLine } from "../process-secrets.ts";

/** Environment variable holding the per-sandbox token; it is removed from the environment commands inherit. */
export const TOKEN_ENV = "ROCKLET_TOKEN";
export const TOKEN_HEADER = "x-rocklet-token";
/** envd's header: the E2B SDK sends its sandbox's access token in it. */
export const ENVD_TOKEN_HEADER = "x-access-token";

export type TokenSource = { token: string; from: string } | { token: null; from: "none" };

/** How long `--token-stdin` waits for the orchestrator to write the token. */
export const TOKEN_STDIN_TIMEOUT_MS = 60_000;

/**
 * Finds the token: the first line of stdin with `--token-stdin`, else `--token-file`, else `ROCKLET_TOKEN`. The file
 * is deleted after reading, so that commands running in the sandbox cannot read it later; a read-only mount (e.g. a
 * Kubernetes secret) keeps it, with a warning.
 */
export async function loadToken(
  source: { tokenStdin: boolean; tokenFile: string | null },
  warn: (message: string) => void,
): Promise<TokenSource> {
  if (source.tokenStdin) {
    const token = (await readStdinLine("token", TOKEN_STDIN_TIMEOUT_MS, 4096)).trim();
    if (!token) throw new Error("the token line on stdin is empty");
    return { token, from: "stdin" };
  }
  const tokenFile = source.tokenFile;
  if (tokenFile) {
    const token = readFileSync(tokenFile, "utf8").trim();
    if (!token) throw new Error(`token file ${tokenFile} is empty`);
    try {
      unlinkSync(tokenFile);
    } catch (error) {
      warn(`could not delete token file ${tokenFile} after reading it: ${(error as Error).message}`);
    }
    return { token, from: "--token-file" };
  }
  const fromEnv = process.env[TOKEN_ENV]?.trim();
  if (fromEnv) return { token: fromEnv, from: TOKEN_ENV };
  return { token: null, from: "none" };
}

/** A SHA-256 digest as `--token-sha256` takes it: 64 hex digits. */
export const SHA256_HEX = /^[0-9a-f]{64}$/i;

/** Checks `Authorization: Bearer <token>`, `X-Rocklet-Token: <token>` or `X-Access-Token: <token>` in constant time. */
export class TokenCheck {
  private readonly digest: Buffer;

  /** `form` "sha256": `token` is the token's SHA-256 digest in hex (`--token-sha256`), not the token itself. */
  constructor(token: string, form: "token" | "sha256" = "token") {
    this.digest = form === "sha256" ? Buffer.from(token, "hex") : sha256(token);
  }

  accepts(headers: Headers): boolean {
    const presented = bearer(headers.get("authorization")) ?? headers.get(TOKEN_HEADER) ?? headers.get(ENVD_TOKEN_HEADER);
    if (presented === null) return false;
    // Comparing fixed-length digests keeps the comparison constant-time whatever the presented length.
    return timingSafeEqual(sha256(presented.trim()), this.digest);
  }
}

function bearer(value: string | null): string | null {
  const match = value ? /^Bearer\s+(.+)$/i.exec(value.trim()) : null;
  return match ? match[1] : null;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** The environment handed to commands: the rocklet's own, without the token. */
export function environmentWithoutSecrets(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== TOKEN_ENV) env[key] = value;
  }
  return env;
}
