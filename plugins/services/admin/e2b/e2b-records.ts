/**
 * What the E2B API adds to a sandbox's record: its template, metadata, the env vars of its commands and the envd access
 * token its SDK presents (kept server-side like the rocklet's token; the SDK gets it from create and connect). It is a
 * part of the sandbox's record (`e2b`), so it is shared by every admin and belongs to that sandbox only (a later
 * sandbox of the same id has a record of its own). A sandbox started through ROCK's routes gets it when an E2B client
 * first connects to it.
 */
import { randomBytes } from "node:crypto";
import { HttpError } from "../../../../core/errors.ts";
import { sameSecret } from "../../../../core/http/token.ts";
import type { E2bPart, SandboxRecord, SandboxRecords } from "../sandbox-records.ts";

export interface E2bRecord {
  sandbox_id: string;
  /** The `create_time` of the sandbox record the row belongs to: a later sandbox of the same id is another sandbox. */
  record_created: string;
  template_id: string;
  metadata: Record<string, string>;
  env_vars: Record<string, string>;
  access_token: string;
  /** E2B's `lifecycle.onTimeout`: at its timeout the sandbox is killed, or paused (`autoPause`). */
  on_timeout: "kill" | "pause";
  /** E2B's `lifecycle.autoResume`: a data-plane call to the paused sandbox resumes it. */
  auto_resume: boolean;
}

export interface E2bLifecycle {
  on_timeout: "kill" | "pause";
  auto_resume: boolean;
}

export class E2bRecords {
  constructor(private readonly records: SandboxRecords) {}

  /**
   * Gives the sandbox its E2B part, with a new access token, unless it has one: then that one is kept (of two clients
   * connecting at once, on any admins, both get the same token).
   */
  async put(
    record: { sandbox_id: string; create_time: string },
    template_id: string,
    metadata: Record<string, string>,
    env_vars: Record<string, string>,
    lifecycle: E2bLifecycle = { on_timeout: "kill", auto_resume: false },
  ): Promise<E2bRecord> {
    const part = await this.records.withE2b(record.sandbox_id, record.create_time, { template_id, metadata, env_vars, access_token: randomBytes(24).toString("base64url"), ...lifecycle });
    if (!part) throw new HttpError(404, `sandbox '${record.sandbox_id}' not found`);
    return { sandbox_id: record.sandbox_id, record_created: record.create_time, ...lifecycleOf(part), ...part };
  }

  /** The E2B part of the sandbox now holding `sandbox_id`, if an E2B client created or connected to it. */
  async get(sandbox_id: string): Promise<E2bRecord | null> {
    const record = await this.records.get(sandbox_id);
    return record?.e2b ? { sandbox_id, record_created: record.create_time, ...lifecycleOf(record.e2b), ...record.e2b } : null;
  }

  /** The record of the sandbox now holding `sandbox_id` when `token` is its access token (constant time), else null. */
  async accepted(sandbox_id: string, token: string): Promise<SandboxRecord | null> {
    const record = await this.records.get(sandbox_id);
    return record?.e2b && sameSecret(token, record.e2b.access_token) ? record : null;
  }
}

/** The lifecycle of a part written before E2B's lifecycle was kept: killed at its timeout, never resumed by a call. */
function lifecycleOf(part: E2bPart): E2bLifecycle {
  return { on_timeout: part.on_timeout ?? "kill", auto_resume: part.auto_resume ?? false };
}
