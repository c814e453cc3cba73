/** Where the tool manager finds the tool node: the binary `plugins/programs/tool-node/build.ts` compiles. */
export const TOOL_NODE_BINARY_DEFAULT = "dist/tool-node";

/** What to tell someone whose tool node binary is missing. */
export const TOOL_NODE_BUILD_HINT = "build it with: npx bun plugins/programs/tool-node/build.ts";
