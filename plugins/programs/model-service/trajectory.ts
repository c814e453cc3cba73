/**
 * Proxy-mode trajectories, one JSON object per line in ROCK's shape: {model, stream, status, response_time,
 * start_time, end_time, request, response, error} (times in seconds since the epoch). The recorder only appends;
 * the replayer serves the recorded responses in order.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { SettingsError } from "./errors.ts";

export interface TrajectoryEntry {
  model: unknown;
  stream: boolean;
  status: "success" | "failure";
  response_time: number;
  start_time: number;
  end_time: number;
  request: unknown;
  response: unknown;
  error: string | null;
}

export class TrajectoryRecorder {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  record(entry: TrajectoryEntry): void {
    appendFileSync(this.path, `${JSON.stringify(entry)}\n`);
  }
}

export type ReplayStep = { step: number; entry: TrajectoryEntry } | { exhausted: string };

export class TrajectoryReplayer {
  private readonly entries: TrajectoryEntry[];
  private position = 0;

  constructor(readonly path: string) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new SettingsError(`cannot read the replay file: ${(error as Error).message}`);
    }
    this.entries = text
      .split("\n")
      .map((line, i) => ({ line: line.trim(), number: i + 1 }))
      .filter(({ line }) => line !== "")
      .map(({ line, number }) => {
        try {
          return JSON.parse(line) as TrajectoryEntry;
        } catch {
          throw new SettingsError(`${path}:${number}: not a JSON trajectory record`);
        }
      });
  }

  next(): ReplayStep {
    if (this.position >= this.entries.length) {
      return { exhausted: `trajectory exhausted at step ${this.position + 1} (total recorded steps=${this.entries.length})` };
    }
    return { step: ++this.position, entry: this.entries[this.position - 1] };
  }
}
