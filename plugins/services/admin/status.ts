/** ROCK's `SandboxStatusResponse` built from the durable record and, for an active sandbox, a probe of its rocklet. */
import type { PhaseState } from "../../protocol/rock-admin/states.ts";
import type { SandboxStatus, StartResult } from "../../protocol/rock-admin/results.ts";
import type { SandboxRecord } from "./sandbox-records.ts";

const phase = (status: PhaseState) => ({ status, message: "" });

export function statusResponse(record: SandboxRecord, is_alive: boolean, expireTime: number | null): SandboxStatus {
  const meta = record.meta as Record<string, any>;
  const started = record.state === "running" || record.state === "stopped" || record.state === "deleted";
  return {
    sandbox_id: record.sandbox_id,
    status: {
      image_pull: phase(started || record.host_ip ? "success" : "running"),
      // ROCK's phase status `failed`, with why, for a sandbox whose instance died.
      docker_run: record.failure_reason ? { status: "failed", message: record.failure_reason } : phase(started ? "success" : record.host_ip ? "running" : "waiting"),
    },
    state: record.state,
    port_mapping: record.port_mapping,
    host_name: record.host_name,
    host_ip: record.host_ip,
    is_alive,
    image: record.spec.image,
    user_id: meta.user_id ?? "default",
    experiment_id: meta.experiment_id ?? "default",
    namespace: meta.namespace ?? "default",
    cpus: record.spec.cpus,
    memory: meta.memory,
    disk: meta.disk ?? null,
    disk_limit_rootfs: meta.disk ?? null,
    create_time: record.create_time,
    start_time: record.start_time,
    stop_time: record.stop_time,
    delete_time: record.delete_time,
    auto_stop_time: expireTime === null ? null : new Date(expireTime * 1000).toISOString(),
    state_history: record.state_history,
    // Not in ROCK (pydantic clients ignore extra keys): "none" tells the admin a local sandbox is not confined.
    ...(typeof meta.isolation === "string" ? { isolation: meta.isolation } : {}),
    // Not in ROCK either: the node labels the start asked for.
    ...(meta.placement && typeof meta.placement === "object" ? { placement: meta.placement } : {}),
  };
}

export function startResponse(record: SandboxRecord): StartResult {
  const meta = record.meta as Record<string, any>;
  return {
    code: 2000,
    exit_code: null,
    failure_reason: null,
    sandbox_id: record.sandbox_id,
    host_name: record.host_name,
    host_ip: record.host_ip,
    cpus: record.spec.cpus,
    memory: meta.memory,
    disk: meta.disk ?? null,
    disk_limit_rootfs: meta.disk ?? null,
  };
}
