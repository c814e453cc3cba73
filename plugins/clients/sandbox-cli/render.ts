/** Readable output of `rock sandbox`: status blocks, list tables and start progress on stderr. */
import type { SandboxStatus, StartProgress } from "../sdk/index.ts";

export function statusText(s: SandboxStatus): string {
  const rows: [string, unknown][] = [
    ["sandbox_id", s.sandbox_id],
    ["state", s.state],
    ["alive", s.is_alive],
    ["image", s.image],
    ["cpus", s.cpus],
    ["memory", s.memory],
    ["host", `${s.host_name} (${s.host_ip})`],
    ["user", `${s.user_id} / ${s.experiment_id} / ${s.namespace}`],
    ["created", s.create_time],
    ["started", s.start_time],
    ["stopped", s.stop_time],
    ["auto stop", s.auto_stop_time],
  ];
  return rows
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${key.padEnd(11)} ${value}`)
    .join("\n");
}

export function listText(items: SandboxStatus[]): string {
  const header = ["SANDBOX ID", "STATE", "ALIVE", "IMAGE", "CPUS", "MEMORY", "CREATED"];
  const rows = items.map((s) => [s.sandbox_id, s.state, String(s.is_alive), s.image, String(s.cpus), s.memory, s.create_time]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ")).join("\n");
}

/** Prints each state change (and the moment the sandbox answers) on its own line, a dot for every other poll. */
export function progressPrinter(write: (text: string) => void) {
  let dots = false;
  const finish = () => {
    if (dots) write("\n");
    dots = false;
  };
  return {
    onProgress(p: StartProgress) {
      if (!p.changed && !p.isAlive) {
        write(".");
        dots = true;
        return;
      }
      finish();
      write(`sandbox ${p.sandboxId}: ${p.isAlive ? "alive" : p.state} after ${(p.elapsedMs / 1000).toFixed(1)} s\n`);
    },
    /** Ends a line of dots, e.g. before an error message. */
    finish,
  };
}
