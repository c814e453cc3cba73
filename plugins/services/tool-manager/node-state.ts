/** What Docker says about a node's container, in words for a `failed` record. */
import type Docker from "dockerode";
import type { ScopedContainer } from "../../../core/permissions/docker.ts";
import { logTail } from "../../shared/containers/container-logs.ts";

export async function exitReason(container: ScopedContainer, info?: Docker.ContainerInspectInfo): Promise<string> {
  const state = (info ?? (await container.inspect())).State;
  const output = await logTail(container, 10);
  const how = state.OOMKilled ? "was killed for exceeding its memory limit" : state.Error ? `failed: ${state.Error}` : `exited with code ${state.ExitCode}`;
  return `the tool node ${how}${output ? `: ${output}` : ""}`;
}
