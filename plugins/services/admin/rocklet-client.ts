/**
 * Calls a sandbox's rocklet with its token and turns every rocklet failure into a `RockFailure` instead of an empty
 * success (ROCK's §10 bugs): 511 exceptions and command timeouts are code 6000, an unreachable rocklet 5000.
 */
import { PermissionDenied } from "../../../core/errors.ts";
import { codes, RockFailure } from "./envelope.ts";

/**
 * A rocklet on a host the admin may not call (an operator placed it on another machine): an error naming the setting,
 * at once, rather than a rocklet that never answers.
 */
function hostRefused(target: RockletTarget, error: unknown): RockFailure | null {
  if (!(error instanceof PermissionDenied)) return null;
  const host = new URL(target.rockletUrl).hostname;
  return new RockFailure(codes.internal, `the sandbox's rocklet is on ${host}, which the admin may not call: add it to plugins.admin.rocklet_hosts`);
}

export interface RockletTarget {
  rockletUrl: string;
  rockletToken: string;
  /** A sandbox still `pending` may have its rocklet's URL before the rocklet listens. */
  state?: string;
  sandbox_id?: string;
}

export class RockletClient {
  constructor(private readonly fetcher: typeof fetch) {}

  async isAlive(target: RockletTarget, timeoutMs = 2000): Promise<boolean> {
    try {
      const res = await this.fetcher(`${target.rockletUrl}/is_alive`, { signal: AbortSignal.timeout(timeoutMs) });
      return res.ok && (await res.json())?.is_alive === true;
    } catch (error) {
      const refused = hostRefused(target, error);
      if (refused) throw refused;
      return false;
    }
  }

  getJson<T = any>(target: RockletTarget, path: string): Promise<T> {
    return this.call(target, path, { method: "GET" });
  }

  postJson<T = any>(target: RockletTarget, path: string, body: unknown): Promise<T> {
    return this.call(target, path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  }

  postForm<T = any>(target: RockletTarget, path: string, form: FormData): Promise<T> {
    return this.call(target, path, { method: "POST", body: form });
  }

  private async call<T>(target: RockletTarget, path: string, init: RequestInit): Promise<T> {
    let res: Response;
    try {
      res = await this.fetcher(target.rockletUrl + path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${target.rockletToken}` } });
    } catch (error) {
      const refused = hostRefused(target, error);
      if (refused) throw refused;
      const why = error instanceof Error ? error.message : String(error);
      // Not the server's fault: the client asked before the start finished (is_alive says when it has).
      if (target.state === "pending") throw new RockFailure(codes.badRequest, `Sandbox ${target.sandbox_id} is still starting: its rocklet does not answer yet (${why})`);
      throw new RockFailure(codes.internal, `Service unavailable: the sandbox's rocklet is not reachable (${why})`);
    }
    const text = await res.text();
    let body: any = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: reported below with the status.
    }
    if (res.status === 200) return body as T;
    if (res.status === 511 && body?.rockletexception) {
      throw new RockFailure(codes.command, body.rockletexception.message, { exit_code: -1 });
    }
    if (res.status === 422 || res.status === 400 || res.status === 413) {
      throw new RockFailure(codes.badRequest, describeDetail(body?.detail) ?? `rocklet refused the request (HTTP ${res.status})`);
    }
    if (res.status === 504) throw new RockFailure(codes.command, describeDetail(body?.detail) ?? "the rocklet timed out", { exit_code: -1 });
    throw new RockFailure(codes.internal, `rocklet answered HTTP ${res.status}${body?.detail ? `: ${describeDetail(body.detail)}` : ""}`);
  }
}

function describeDetail(detail: unknown): string | undefined {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d: any) => `${(d.loc ?? []).slice(1).join(".")}: ${d.msg}`).join("; ");
  return undefined;
}
