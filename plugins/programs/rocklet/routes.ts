import { environmentWithoutSecrets } from "./auth.ts";
import { executeCommand } from "./execute.ts";
import { readTextFile, writeTextFile } from "./files.ts";
import {
  parseBashAction,
  parseCloseSession,
  parseCreateSession,
  parseExecute,
  parseReadFile,
  parseWriteFile,
} from "./requests.ts";
import type { SessionRegistry } from "./sessions.ts";
import { collectStatistics } from "./statistics.ts";
import { handleUpload, type UploadLimits } from "./upload.ts";
import type { Body } from "./validation.ts";

export interface RouteContext {
  sessions: SessionRegistry;
  bashPath: string;
  maxOutputBytes: number;
  maxReadBytes: number;
  upload: UploadLimits;
  /** Extra time a command route is given beyond the command's own timeout (interrupt and resync, transfer). */
  commandMarginSeconds: number;
}

/**
 * A route either has a fixed budget (the server's default request timeout) or derives its deadline from the parsed
 * request, so that a command is never cut short by the server before its own timeout (ROCK's fixed 85 s did that).
 */
export type Route =
  | { public?: boolean; input: "none"; run: () => Promise<unknown> | unknown }
  | { input: "request"; run: (request: Request) => Promise<unknown> }
  | { input: "json"; deadlineSeconds?: (body: Body) => number | null; run: (body: Body) => Promise<unknown> };

export function buildRoutes(context: RouteContext): Map<string, Route> {
  const { sessions } = context;
  const margin = context.commandMarginSeconds;
  const plusMargin = (seconds: number | null) => (seconds === null ? null : seconds + margin);
  return new Map<string, Route>([
    ["GET /", { public: true, input: "none", run: () => ({ message: "hello world" }) }],
    ["GET /is_alive", { public: true, input: "none", run: () => ({ is_alive: true, message: "" }) }],
    ["GET /get_statistics", { input: "none", run: () => collectStatistics() }],
    [
      "POST /create_session",
      {
        input: "json",
        deadlineSeconds: (body) => plusMargin(parseCreateSession(body).startupTimeout),
        run: (body) => sessions.create(parseCreateSession(body)),
      },
    ],
    [
      "POST /run_in_session",
      {
        input: "json",
        deadlineSeconds: (body) => plusMargin(parseBashAction(body).timeout),
        run: (body) => sessions.run(parseBashAction(body)),
      },
    ],
    ["POST /close_session", { input: "json", run: (body) => sessions.close(parseCloseSession(body).session) }],
    [
      "POST /execute",
      {
        input: "json",
        deadlineSeconds: (body) => plusMargin(parseExecute(body).timeout),
        run: (body) =>
          executeCommand(parseExecute(body), {
            bashPath: context.bashPath,
            maxOutputBytes: context.maxOutputBytes,
            baseEnv: environmentWithoutSecrets,
          }),
      },
    ],
    ["POST /read_file", { input: "json", run: (body) => readTextFile(parseReadFile(body), context.maxReadBytes) }],
    ["POST /write_file", { input: "json", run: (body) => writeTextFile(parseWriteFile(body)) }],
    ["POST /upload", { input: "request", run: (request) => handleUpload(request, context.upload) }],
    [
      "POST /close",
      {
        input: "none",
        run: async () => {
          await sessions.closeAll();
          return {};
        },
      },
    ],
  ]);
}
