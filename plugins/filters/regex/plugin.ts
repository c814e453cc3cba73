import { Type } from "@sinclair/typebox";
import { FilterArgsError, passThrough, type Role, type TextFilter } from "../../../core/kinds/filter.ts";
import { definePlugin } from "../../../core/plugin.ts";
import { streamingReplace } from "./stream.ts";

const Args = Type.Object(
  {
    pattern: Type.String({ minLength: 1, description: "JavaScript regular expression (every match is replaced)" }),
    flags: Type.String({ default: "", pattern: "^[imsuv]*$", description: "Extra flags besides g: i, m, s, u, v" }),
    replacement: Type.String({ default: "[redacted]", description: "Replacement text; $1, $<name> refer to groups" }),
    ingress: Type.Boolean({ default: true, description: "Rewrite the history before the LLM" }),
    egress: Type.Boolean({ default: true, description: "Rewrite the response stream" }),
    roles: Type.Array(Type.Union([Type.Literal("user"), Type.Literal("bot"), Type.Literal("system")]), {
      default: ["user", "bot", "system"],
      description: "History records rewritten on the way in",
    }),
    window: Type.Integer({ minimum: 1, default: 64, description: "Longest match in characters (the stream holds this much back)" }),
  },
  { additionalProperties: false },
);

interface RegexArgs {
  pattern: string;
  flags: string;
  replacement: string;
  ingress: boolean;
  egress: boolean;
  roles: Role[];
  window: number;
}

function compile(args: RegexArgs): RegExp {
  try {
    return new RegExp(args.pattern, `g${args.flags}`);
  } catch (error) {
    throw new FilterArgsError("pattern", `not a valid regular expression: ${(error as Error).message}`);
  }
}

/** Replaces or redacts regex matches in the history and in the response stream: the smallest filter there is. */
export default definePlugin({
  name: "regex",
  kind: "filter",
  version: "0.1.0",
  description: "regex replace/redact on the history and the response stream",
  setup: () => ({
    args: Args,
    create(args: RegexArgs): TextFilter {
      const pattern = compile(args);
      const roles = new Set(args.roles);
      return {
        ingress: (records) =>
          args.ingress ? records.map((r) => (roles.has(r.role) ? { ...r, msg: r.msg.replace(pattern, args.replacement) } : r)) : records,
        egress: () => (args.egress ? streamingReplace(pattern, args.replacement, args.window) : passThrough()),
      };
    },
  }),
});
