import type Docker from "dockerode";
import { constants } from "node:os";

const signalNames = new Map(Object.entries(constants.signals).map(([name, number]) => [number as number, name]));

/**
 * Why a container stopped, from the engine's record: the program's exit code (and the signal that killed it, as init
 * reports 128 + N), whether it hit its memory limit (the engine's OOMKilled), the engine's own error. `program` and
 * `holder` name them in the reason: "the rocklet", "the sandbox".
 */
export function exitReason(info: Docker.ContainerInspectInfo, program: string, holder: string): string {
  const { ExitCode: code, OOMKilled: oomKilled, Error: engineError } = info.State;
  const signal = code > 128 ? signalNames.get(code - 128) : undefined;
  let reason = signal ? `${program} was killed by ${signal} (exit code ${code})` : `${program} exited with code ${code}`;
  if (oomKilled) {
    const limit = info.HostConfig?.Memory ? `its memory limit of ${Math.round(info.HostConfig.Memory / 1024 ** 2)} MiB` : "its memory limit";
    reason += `: ${holder} ran out of memory (${limit}; OOM killed)`;
  }
  if (engineError) reason += `: ${engineError}`;
  return reason;
}
