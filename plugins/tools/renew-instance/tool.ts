/** `RenewInstance`, the original's example tool: renews a monthly ECS instance (a stand-in; nothing is billed). */
import { defineTool } from "../../../core/kinds/tool.ts";
import { pythonRepr } from "../../protocol/python-repr.ts";

export default defineTool<{ instance_id: string; period: string }>({
  name: "RenewInstance",
  description: "续费一台包年包月ECS实例",
  parameters: [
    { name: "instance_id", description: "ECS实例ID", required: true, type: "string" },
    { name: "period", description: "续费时长以月为单位", required: true, type: "string" },
  ],
  // The original returned str() of a dict; ToolServiceProxy users compare against that text.
  call: ({ instance_id, period }) => `{'result': ${pythonRepr(`已完成ECS实例ID为${instance_id}的续费，续费时长${period}月`)}}`,
});
