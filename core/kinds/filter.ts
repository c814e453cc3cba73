/**
 * The contract a `filter` plugin provides: text filters a worker layout puts before and after its LLM.
 *
 * One plugin instance serves every layout entry that names it; each entry's `args` are validated against the
 * instance's `args` schema and passed to `create`, so one plugin can be used twice with different settings
 * (e.g. OpenCC t2s on the way in and s2twp on the way out).
 */
import type { TObject } from "@sinclair/typebox";
import type { ShapeOf } from "./shape.ts";

/** Roles of the Worker Framework's chat records (`isbot` true → bot). */
export type Role = "user" | "bot" | "system";

export interface ChatRecord {
  msg: string;
  role: Role;
}

/**
 * One response stream's egress state. `write` takes the next delta and returns the text that is final so far
 * (possibly "", holding back a tail that a later delta could still change); `flush` returns the rest at the end.
 * Concatenating every returned piece must equal filtering the whole text at once.
 */
export interface EgressStream {
  write(delta: string): string;
  flush(): string;
}

export interface TextFilter {
  /** Sees the whole history before the LLM does; may drop, merge or rewrite records. */
  ingress(records: ChatRecord[]): ChatRecord[] | Promise<ChatRecord[]>;
  /** A fresh state machine for one response stream. */
  egress(): EgressStream;
}

/** What a filter plugin's `setup` returns. */
export interface FilterPluginInstance {
  /** Schema of one layout entry's `args` (defaults are applied before `create`). */
  args: TObject;
  create(args: any): TextFilter;
}

export const filterShape = { args: "object", create: "function" } satisfies ShapeOf<FilterPluginInstance>;

/** An egress stream that changes nothing (for filters that only act on the history). */
export function passThrough(): EgressStream {
  return { write: (delta) => delta, flush: () => "" };
}

/** Thrown by `create` for args the schema cannot check (e.g. a regular expression that does not compile). */
export class FilterArgsError extends Error {
  constructor(
    /** The arg at fault, e.g. "pattern". */
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "FilterArgsError";
  }
}
