/** The nested_args fixture tool's parameters as `/tool_info` answers them, and as the original's client then reads them. */

/** The list form of the nested_args fixture: one item per top-level property, nesting kept in `schema`. */
export const nestedList = [
  { name: "query", type: "string", description: "What to look for", required: true },
  {
    name: "filters",
    type: "object",
    description: "Narrows the search",
    required: true,
    schema: { properties: { region: { type: "string", enum: ["cn", "us"] }, limit: { type: "integer", minimum: 1 } }, required: ["region"] },
  },
  { name: "tags", type: "array", description: "", required: false, schema: { items: { type: "string" } } },
  { name: "mode", type: "string", description: "How to search", required: false, enum: ["fast", "exact"] },
  { name: "note", type: "string", description: "Free text", required: false },
];

/** What the original's `_build_function` makes of it. */
export const nestedAsOriginal = {
  name: "nested_args",
  description: "Echoes its arguments",
  parameters: {
    type: "object",
    properties: {
      query: { type: "string", description: "What to look for" },
      filters: { type: "object", description: "Narrows the search" },
      tags: { type: "array", description: "" },
      mode: { type: "string", description: "How to search", enum: ["fast", "exact"] },
      note: { type: "string", description: "Free text" },
    },
    required: ["query", "filters"],
  },
};
