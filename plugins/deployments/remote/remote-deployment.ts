import { hostname } from "node:os";
import type { Deployment, InstanceState, SandboxHandle, SandboxSpec } from "../../../core/kinds/deployment.ts";
import type { Logger } from "../../../core/log.ts";
import { assertSandboxId } from "../../shared/deployment/sandbox-id.ts";

export interface RemoteDeploymentOptions {
  name: string;
  /** Base URL of the rocklet, without a trailing slash. */
  url: string;
  /** Its token; empty when it runs without one. */
  token: string;
  fetch: typeof fetch;
  log: Logger;
}

const PROBE_TIMEOUT_MS = 2000;
const CLOSE_TIMEOUT_MS = 5000;

/**
 * One rocklet that already runs somewhere (started by someone else) serves one sandbox at a time: start binds a
 * sandbox id to it, stop closes its sessions and frees it. Nothing is created or destroyed, and the binding lives in
 * memory only (after a kernel restart the rocklet is free again).
 */
export class RemoteDeployment implements Deployment {
  readonly name: string;
  private current: string | null = null;

  constructor(private readonly options: RemoteDeploymentOptions) {
    this.name = options.name;
  }

  async start(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxHandle> {
    assertSandboxId(spec.sandbox_id);
    signal?.throwIfAborted();
    if (this.current === spec.sandbox_id) throw new Error(`sandbox '${spec.sandbox_id}' already exists (running)`);
    if (this.current !== null) {
      throw new Error(`the remote rocklet ${this.options.url} already serves sandbox '${this.current}' (one sandbox at a time; stop it first)`);
    }
    this.current = spec.sandbox_id;
    const url = new URL(this.options.url);
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    return {
      sandbox_id: spec.sandbox_id,
      rockletUrl: this.options.url,
      host_ip: url.hostname,
      host_name: url.hostname === "127.0.0.1" || url.hostname === "localhost" ? hostname() : url.hostname,
      port_mapping: { [String(port)]: port },
      instance_id: this.options.url,
      rockletToken: this.options.token,
    };
  }

  async state(sandboxId: string): Promise<InstanceState> {
    if (sandboxId !== this.current) return "missing";
    return (await this.alive()) ? "running" : "stopped";
  }

  async stop(sandboxId: string): Promise<void> {
    if (sandboxId !== this.current) return;
    try {
      const response = await this.call("POST", "/close", CLOSE_TIMEOUT_MS);
      if (!response.ok) this.options.log.warn("remote rocklet refused /close", { sandbox_id: sandboxId, status: response.status });
    } catch (error) {
      this.options.log.warn("remote rocklet did not answer /close", { sandbox_id: sandboxId, error: error instanceof Error ? error.message : String(error) });
    }
    this.current = null;
  }

  async list(): Promise<{ sandbox_id: string; state: InstanceState }[]> {
    if (this.current === null) return [];
    return [{ sandbox_id: this.current, state: await this.state(this.current) }];
  }

  private async alive(): Promise<boolean> {
    try {
      const response = await this.call("GET", "/is_alive", PROBE_TIMEOUT_MS);
      return response.ok && ((await response.json()) as { is_alive?: unknown }).is_alive === true;
    } catch {
      return false;
    }
  }

  private call(method: "GET" | "POST", path: string, timeoutMs: number): Promise<Response> {
    const headers: Record<string, string> = this.options.token ? { authorization: `Bearer ${this.options.token}` } : {};
    if (method === "POST") headers["content-type"] = "application/json";
    return this.options.fetch(this.options.url + path, {
      method,
      headers,
      body: method === "POST" ? "{}" : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
  }
}
