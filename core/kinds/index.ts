/** The plugin kinds: what each one's `setup` returns, and the members the kernel checks at setup. */
import { deploymentShape, type DeploymentPluginInstance } from "./deployment.ts";
import { filterShape, type FilterPluginInstance } from "./filter.ts";
import { modelShape, type ModelPluginInstance } from "./model.ts";
import { operatorShape, type OperatorPluginInstance } from "./operator.ts";
import { serviceShape, type ServicePluginInstance } from "./service.ts";
import { missingMember, type MissingMember, type Shape } from "./shape.ts";
import { toolShape, type ToolPluginInstance } from "./tool.ts";

export const pluginKinds = ["deployment", "operator", "model", "tool", "filter", "service"] as const;
export type PluginKind = (typeof pluginKinds)[number];

/** The members a plugin of each kind provides (beside its lifecycle hooks); `ctx.use(name, kind)` returns these. */
export interface KindInstances {
  deployment: DeploymentPluginInstance;
  operator: OperatorPluginInstance;
  model: ModelPluginInstance;
  tool: ToolPluginInstance;
  filter: FilterPluginInstance;
  service: ServicePluginInstance;
}

const shapes: Record<PluginKind, Shape> = {
  deployment: deploymentShape,
  operator: operatorShape,
  model: modelShape,
  tool: toolShape,
  filter: filterShape,
  service: serviceShape,
};

/** The first member that an instance of `kind` lacks; undefined when it provides them all. */
export function missingKindMember(kind: PluginKind, instance: unknown): MissingMember | undefined {
  return missingMember(instance, shapes[kind]);
}
