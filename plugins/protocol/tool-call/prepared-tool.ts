/**
 * A tool ready to run: its parameters normalised to JSON Schema once, its config schema compiled once. The node
 * uses it to check every call; the manager uses it to describe tools and to know which config fields are secret.
 */
import { Value } from "@sinclair/typebox/value";
import type { Tool } from "../../../core/kinds/tool.ts";
import { normaliseParameters, type JsonSchema } from "../function-calling/parameters.ts";
import { parseParams } from "./params.ts";
import { ArgumentError, checkValue } from "./schema-check.ts";

export interface ToolInfo {
  name: string;
  description: string;
  /** As the tool declared them (the original answered its list form). */
  parameters: unknown;
}

export class ToolConfigError extends Error {
  constructor(tool: string, problem: string) {
    super(`tool_cfg of '${tool}' ${problem}`);
    this.name = "ToolConfigError";
  }
}

export class PreparedTool {
  readonly schema: JsonSchema;

  constructor(readonly tool: Tool) {
    this.schema = normaliseParameters(tool.parameters, `tool '${tool.name}' parameters`);
  }

  get name(): string {
    return this.tool.name;
  }

  info(): ToolInfo {
    return { name: this.tool.name, description: this.tool.description, parameters: this.tool.parameters };
  }

  /** Parsed and checked arguments; throws ArgumentError naming the argument. */
  arguments(params: unknown): Record<string, unknown> {
    return checkValue(this.schema, parseParams(params)) as Record<string, unknown>;
  }

  /** The instance config with the schema's defaults; throws ToolConfigError naming the field. */
  config(toolCfg: unknown): Record<string, unknown> {
    const given = toolCfg ?? {};
    if (typeof given !== "object" || Array.isArray(given)) throw new ToolConfigError(this.name, "must be an object");
    if (!this.tool.config) return given as Record<string, unknown>;
    const value = Value.Default(this.tool.config, structuredClone(given));
    const problem = Value.Errors(this.tool.config, value).First();
    if (problem) throw new ToolConfigError(this.name, `field '${problem.path.slice(1) || "(root)"}': ${problem.message}`);
    return value as Record<string, unknown>;
  }

  /**
   * Values to mask wherever they could be logged: config fields the schema marks `secret`, and fields it does not
   * declare whose names look secret (`*key*`, `*token*`, …). A declared field is trusted: `key_id` stays visible.
   */
  secretValues(toolCfg: unknown): string[] {
    if (!toolCfg || typeof toolCfg !== "object") return [];
    const properties = (this.tool.config?.properties ?? {}) as Record<string, { secret?: boolean }>;
    const secret = (key: string) => (Object.hasOwn(properties, key) ? properties[key].secret === true : /KEY|TOKEN|SECRET|PASSWORD/i.test(key));
    return Object.entries(toolCfg as Record<string, unknown>)
      .filter(([key, value]) => typeof value === "string" && secret(key))
      .map(([, value]) => value as string);
  }
}

export { ArgumentError };
