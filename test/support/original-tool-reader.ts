/**
 * How the original's ToolServiceProxy reads `/tool_info` (modelscope_agent/tools/base.py, BaseTool): the keys its
 * `_build_function` ('oai' schema) and `_verify_args` index in each item of `parameters`, run by a real Python so
 * that a JSON Schema object fails as it does there (iterated as its keys: TypeError).
 */
const reader = `
import json, sys
info = json.load(sys.stdin)

def oai_function(info):
    function = {"name": info["name"], "description": info["description"], "parameters": {"type": "object", "properties": {}, "required": []}}
    for para in info["parameters"]:
        details = {"type": para["type"] if "type" in para else para["schema"]["type"], "description": para["description"]}
        if "enum" in para and para["enum"] not in ["", []]:
            details["enum"] = para["enum"]
        function["parameters"]["properties"][para["name"]] = details
        if "required" in para and para["required"]:
            function["parameters"]["required"].append(para["name"])
    return function

def missing_required(parameters, args):
    return [para["name"] for para in parameters if "required" in para and para["required"] and para["name"] not in args]

try:
    print(json.dumps({"function": oai_function(info), "missing": missing_required(info["parameters"], info.get("args", {}))}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__}))
`;

export const python = Bun.which("python3") ?? undefined;

/** What the original client makes of `info` (`{name, description, parameters}`), and which required `args` are missing. */
export function readAsOriginal(info: unknown, args: Record<string, unknown> = {}): { function?: any; missing?: string[]; error?: string } {
  const run = Bun.spawnSync([python!, "-c", reader], { stdin: new TextEncoder().encode(JSON.stringify({ ...(info as object), args })) });
  if (run.exitCode !== 0) throw new Error(`python3 failed: ${run.stderr.toString()}`);
  return JSON.parse(run.stdout.toString());
}
