/** The layout file (`layout.yaml`, version 1): its schema, and reading it with errors that name the field. */
import { Type, type Static } from "@sinclair/typebox";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { validate } from "../../core/config.ts";
import { ConfigError } from "../../core/errors.ts";

const Entry = Type.Object(
  {
    plugin: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]*$", description: "A model or filter plugin" })),
    module: Type.Optional(Type.String({ minLength: 1, description: "A module in the worker's folder" })),
    args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type LayoutEntry = Static<typeof Entry>;

const LayoutSchema = Type.Object(
  {
    version: Type.Literal(1),
    name: Type.Optional(Type.String({ minLength: 1, description: "Name registered with the Agent (LLM_NAME wins)" })),
    llm: Type.Optional(Entry),
    "ingress-filters": Type.Array(Entry, { default: [] }),
    "egress-filters": Type.Array(Entry, { default: [] }),
    "override-process": Type.Optional(Entry),
  },
  { additionalProperties: false },
);
export type LayoutFile = Static<typeof LayoutSchema>;

/** An entry and where it sits in the file, for error messages (`egress-filters[1]`). */
export interface PlacedEntry {
  entry: LayoutEntry;
  at: string;
}

export function readLayoutFile(path: string, shown: string): LayoutFile {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, "utf8"));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(shown, "", code === "ENOENT" ? "file not found" : `not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(shown, "", "expected a mapping with version: 1");
  const layout = validate(LayoutSchema, raw, shown, "", new Map());
  const placed = [
    ...(layout.llm ? [{ entry: layout.llm, at: "llm" }] : []),
    ...(layout["override-process"] ? [{ entry: layout["override-process"], at: "override-process" }] : []),
    ...layout["ingress-filters"].map((entry, i) => ({ entry, at: `ingress-filters[${i}]` })),
    ...layout["egress-filters"].map((entry, i) => ({ entry, at: `egress-filters[${i}]` })),
  ];
  for (const { entry, at } of placed) {
    if (!entry.plugin === !entry.module) throw new ConfigError(shown, at, "name exactly one of `plugin` or `module`");
  }
  if (!layout.llm === !layout["override-process"]) {
    throw new ConfigError(shown, "", "give either `llm` (with optional ingress-filters/egress-filters) or `override-process`, not both or neither");
  }
  if (layout["override-process"] && (layout["ingress-filters"].length || layout["egress-filters"].length)) {
    throw new ConfigError(shown, "override-process", "replaces the whole pipeline: remove ingress-filters and egress-filters");
  }
  if (layout["override-process"]?.plugin) throw new ConfigError(shown, "override-process.plugin", "a process is a module in the worker's folder (use `module:`)");
  return layout;
}
