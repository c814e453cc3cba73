/** `serve`: runs the service in this process until SIGTERM/SIGINT, holding the pid file while it runs. */
import { claimPidFile, releasePidFile } from "./pid-file.ts";
import { startModelService } from "./server.ts";
import { stderrLog } from "./service-log.ts";
import type { ServiceSettings } from "./settings.ts";

export async function serveForeground(settings: ServiceSettings): Promise<number> {
  claimPidFile(settings.pidFile);
  let service;
  try {
    service = startModelService(settings, stderrLog);
  } catch (error) {
    releasePidFile(settings.pidFile);
    throw error;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      stderrLog("stopping", { signal });
      service.stop().finally(() => {
        releasePidFile(settings.pidFile);
        resolve(0);
      });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}
