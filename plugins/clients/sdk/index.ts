/** The ROCK client SDK: `Sandbox` for one sandbox, `RockClient` for every admin route by id, typed errors. */
export { RockClient } from "./client.ts";
export {
  AuthenticationRockError,
  BadRequestRockError,
  CommandRockError,
  ConnectionRockError,
  errorForCode,
  InternalServerRockError,
  rockCodes,
  RockError,
  SandboxStartError,
} from "./errors.ts";
export { arunNohup, type ArunOptions } from "./nohup.ts";
export { Sandbox, type SandboxOptions, type StartOptions } from "./sandbox.ts";
export { AdminTransport, API_PREFIX, DEFAULT_BASE_URL, type TransportOptions } from "./transport.ts";
export type * from "./types.ts";
export type { UploadSource } from "./upload-source.ts";
export { DEFAULT_STARTUP_TIMEOUT_MS, waitUntilAlive, type StartProgress, type WaitOptions } from "./wait.ts";
