/** Watches agent processes; when one exits, the session ends (ROCK checks every 5 s; we check every agentCheckIntervalMs). */
import { isAlive } from "./process-alive.ts";

export class AgentWatch {
  private readonly timers = new Map<number, ReturnType<typeof setInterval>>();

  constructor(
    private readonly intervalMs: number,
    private readonly onExit: (pid: number) => void,
  ) {}

  watch(pid: number): void {
    if (this.timers.has(pid)) return;
    const timer = setInterval(() => {
      if (isAlive(pid)) return;
      this.unwatch(pid);
      this.onExit(pid);
    }, this.intervalMs);
    this.timers.set(pid, timer);
  }

  unwatch(pid: number): void {
    clearInterval(this.timers.get(pid));
    this.timers.delete(pid);
  }

  close(): void {
    for (const pid of [...this.timers.keys()]) this.unwatch(pid);
  }
}
