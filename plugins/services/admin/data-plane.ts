/**
 * Data-plane calls (execute, sessions, files, upload) go straight to the sandbox's rocklet with its token. Each call
 * first slides the idle timeout; a sandbox that is not live is refused with code 4000.
 */
import { badRequest, codes, RockFailure } from "./envelope.ts";
import type { Located } from "./lifecycle.ts";
import type { LiveSandbox, LiveSandboxes } from "./live-sandboxes.ts";
import type { RockletClient } from "./rocklet-client.ts";
import { isPaused, type SandboxRecord } from "./sandbox-records.ts";

export class DataPlane {
  constructor(
    /**
     * The record and live entry of a sandbox, the entry rebuilt from the record when the store lost it
     * (`SandboxLifecycle.liveOrRebuilt`); `known` is the record when the caller read it already.
     */
    private readonly locate: (sandbox_id: string, known?: SandboxRecord | null) => Promise<Located>,
    private readonly live: LiveSandboxes,
    private readonly rocklet: RockletClient,
  ) {}

  /**
   * The live sandbox, its idle timeout refreshed; refuses unknown, stopped and not yet placed sandboxes. `known`: its
   * record, when the caller read it already.
   */
  async target(sandbox_id: string, known?: SandboxRecord | null): Promise<LiveSandbox> {
    const { record, info } = await this.locate(sandbox_id, known);
    if (!info || !record) {
      if (!record) throw badRequest(`Sandbox ${sandbox_id} not found`);
      if (record.state === "pending") throw badRequest(`Sandbox ${sandbox_id} is still starting`);
      throw badRequest(`Sandbox ${sandbox_id} is ${record.state}${record.failure_reason ? ` (it failed: ${record.failure_reason})` : ""}`);
    }
    if (!info.rockletUrl) throw badRequest(`Sandbox ${sandbox_id} is still starting`);
    // Its rocklet is frozen too: a call would hang until its timeout.
    if (isPaused(record)) throw badRequest(`Sandbox ${sandbox_id} is paused; resume it first (E2B: Sandbox.connect)`);
    await this.live.touch(sandbox_id);
    return info;
  }

  async execute(body: { sandbox_id: string } & Record<string, unknown>) {
    const result = await this.rocklet.postJson(await this.target(body.sandbox_id), "/execute", body);
    // The rocklet reports a timed-out command as exit_code -1 with a reason; ROCK answered Success with it.
    if (result?.exit_code === -1) {
      throw new RockFailure(codes.command, result.failure_reason ?? "command failed", { exit_code: -1, stdout: result.stdout ?? "", stderr: result.stderr ?? "" });
    }
    return { stdout: result.stdout, stderr: result.stderr, exit_code: result.exit_code };
  }

  async createSession(body: { sandbox_id: string } & Record<string, unknown>) {
    const result = await this.rocklet.postJson(await this.target(body.sandbox_id), "/create_session", body);
    return { output: result.output ?? "", session_type: result.session_type ?? "bash" };
  }

  async runInSession(body: { sandbox_id: string } & Record<string, unknown>) {
    const result = await this.rocklet.postJson(await this.target(body.sandbox_id), "/run_in_session", body);
    if (result?.exit_code === -1) {
      throw new RockFailure(codes.command, result.failure_reason ?? "command failed", { exit_code: -1, output: result.output ?? "" });
    }
    return result;
  }

  async closeSession(body: { sandbox_id: string } & Record<string, unknown>) {
    const result = await this.rocklet.postJson(await this.target(body.sandbox_id), "/close_session", body);
    return { session_type: result?.session_type ?? "bash" };
  }

  async readFile(body: { sandbox_id: string } & Record<string, unknown>) {
    const result = await this.rocklet.postJson(await this.target(body.sandbox_id), "/read_file", body);
    return { content: result.content };
  }

  async writeFile(body: { sandbox_id: string } & Record<string, unknown>) {
    const result = await this.rocklet.postJson(await this.target(body.sandbox_id), "/write_file", body);
    return { success: result.success === true, message: result.message ?? "" };
  }

  /** Forwarded as multipart with `unzip=false`, as ROCK's admin does. */
  async upload(sandbox_id: string, file: File, target_path: string) {
    const form = new FormData();
    form.append("file", file, file.name || "upload");
    form.append("target_path", target_path);
    form.append("unzip", "false");
    const result = await this.rocklet.postForm(await this.target(sandbox_id), "/upload", form);
    return { success: result.success === true, message: result.message ?? "", file_name: result.file_name ?? file.name };
  }

  /** The rocklet's cpu/mem/disk/net figures for the sandbox. */
  async statistics(sandbox_id: string) {
    return this.rocklet.getJson(await this.target(sandbox_id), "/get_statistics");
  }

  async isAlive(sandbox_id: string): Promise<{ is_alive: boolean; message: string }> {
    const { info, record } = await this.locate(sandbox_id);
    if (!info?.rockletUrl) return { is_alive: false, message: `sandbox ${sandbox_id} is alive failed` };
    // Its rocklet is frozen: asking it would only wait out the probe's timeout.
    if (record && isPaused(record)) return { is_alive: false, message: `sandbox ${sandbox_id} is paused; resume it first (E2B: Sandbox.connect)` };
    const alive = await this.rocklet.isAlive(info);
    return alive ? { is_alive: true, message: info.host_name } : { is_alive: false, message: `sandbox ${sandbox_id} is alive failed` };
  }
}
