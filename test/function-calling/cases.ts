/**
 * Model replies and what they must parse to, shared by the whole-text and the streaming parser tests.
 * `calls` are [name, arguments]; ids are checked separately.
 */
export interface ReplyCase {
  name: string;
  text: string;
  toolNames?: string[];
  parallel?: boolean;
  content: string;
  calls: [string, string][];
}

export const DEFAULT_TOOL_NAMES = ["amap_weather", "web_search"];

const README_PARALLEL =
  'Action: amap_weather\nAction Input: {"location": "北京"}\nAction: amap_weather\nAction Input: {"location": "上海"}\n\n';
const DOCS_VLLM_PREAMBLE =
  "好的，我已经调用了amap_weather工具查询了海淀区的天气情况。现在，让我为您展示一下查询结果吧。\n\n工具调用";

export const REPLY_CASES: ReplyCase[] = [
  // Reference §8, with the fixes applied (content is the text before the first call).
  {
    name: "§8#1 README: two parallel calls",
    text: README_PARALLEL,
    content: "",
    calls: [
      ["amap_weather", '{"location":"北京"}'],
      ["amap_weather", '{"location":"上海"}'],
    ],
  },
  {
    name: "§8#2 docs (vLLM): Chinese preamble kept as content",
    text: `${DOCS_VLLM_PREAMBLE}\nAction: amap_weather\nAction Input: {"location": "海淀区"}\n`,
    content: DOCS_VLLM_PREAMBLE,
    calls: [["amap_weather", '{"location":"海淀区"}']],
  },
  { name: "§8#3 text only", text: "海淀区今天晴，气温 25 度。", content: "海淀区今天晴，气温 25 度。", calls: [] },
  {
    name: "§8#4 multi-line JSON is read whole (original captured only the first line)",
    text: 'Action: a\nAction Input: {"x":\n 1}',
    toolNames: ["a"],
    content: "",
    calls: [["a", '{"x":1}']],
  },
  {
    name: "§8#5 no space after Action: (original: no call)",
    text: "Action:a\nAction Input: {}",
    toolNames: ["a"],
    content: "",
    calls: [["a", "{}"]],
  },
  {
    name: "§8#5 blank line before Action Input (original: no call)",
    text: "Action: a\n\nAction Input: {}",
    toolNames: ["a"],
    content: "",
    calls: [["a", "{}"]],
  },
  {
    name: "README parallel_tool_calls:false keeps the first call",
    text: README_PARALLEL,
    parallel: false,
    content: "",
    calls: [["amap_weather", '{"location":"北京"}']],
  },

  // Malformed replies.
  {
    name: "missing Action Input line",
    text: "Action: amap_weather\n海淀区天气很好",
    content: "Action: amap_weather\n海淀区天气很好",
    calls: [],
  },
  {
    name: "reply ends on the Action line",
    text: "Let me check.\nAction: amap_weather",
    content: "Let me check.\nAction: amap_weather",
    calls: [],
  },
  {
    name: "Action without input, then a complete call",
    text: 'Action: amap_weather\nAction: web_search\nAction Input: {"query": "x"}',
    content: "Action: amap_weather",
    calls: [["web_search", '{"query":"x"}']],
  },
  {
    name: "a line between Action and Action Input breaks the call",
    text: "Action: web_search\nThought: hmm\nAction Input: {}",
    content: "Action: web_search\nThought: hmm\nAction Input: {}",
    calls: [],
  },
  {
    name: "unknown tool stays content",
    text: "Action: get_time\nAction Input: {}\n",
    content: "Action: get_time\nAction Input: {}\n",
    calls: [],
  },
  {
    name: "unknown tool, then a known one",
    text: 'Action: get_time\nAction Input: {}\nAction: web_search\nAction Input: {"query": "今天"}',
    content: "Action: get_time\nAction Input: {}",
    calls: [["web_search", '{"query":"今天"}']],
  },
  {
    name: "tool names offered: none (tool_choice none) means nothing is parsed",
    text: 'Action: web_search\nAction Input: {"query": "x"}\nObservation: y',
    toolNames: [],
    content: 'Action: web_search\nAction Input: {"query": "x"}\nObservation: y',
    calls: [],
  },
  {
    name: "Python-style arguments are repaired",
    text: "Action: web_search\nAction Input: {'query': 'ModelScope', 'top_k': 3, 'safe': True,}\n",
    content: "",
    calls: [["web_search", '{"query":"ModelScope","top_k":3,"safe":true}']],
  },
  {
    name: "truncated JSON is closed",
    text: 'Action: web_search\nAction Input: {"query": "北京天',
    content: "",
    calls: [["web_search", '{"query":"北京天"}']],
  },
  {
    name: "plain-text input becomes a JSON string",
    text: "Action: web_search\nAction Input: 北京 天气\n",
    content: "",
    calls: [["web_search", JSON.stringify("北京 天气")]],
  },
  {
    name: "quoted-string input stays a JSON string",
    text: 'Action: web_search\nAction Input: "北京"',
    content: "",
    calls: [["web_search", '"北京"']],
  },
  {
    name: "number input stays a number",
    text: "Action: web_search\nAction Input: 42 ",
    content: "",
    calls: [["web_search", "42"]],
  },
  {
    name: "empty input line means no arguments",
    text: "Action: web_search\nAction Input:\nAction: amap_weather\nAction Input: {}",
    content: "",
    calls: [
      ["web_search", "{}"],
      ["amap_weather", "{}"],
    ],
  },
  { name: "reply ends right after Action Input:", text: "Action: web_search\nAction Input:", content: "", calls: [["web_search", "{}"]] },
  {
    name: "Chinese text around the call",
    text: '我来帮你查一下天气。\nAction: amap_weather\nAction Input: {"location": "海淀区"}\n查询完成后我会告诉你。',
    content: "我来帮你查一下天气。",
    calls: [["amap_weather", '{"location":"海淀区"}']],
  },
  {
    name: "two different tools with text between",
    text: 'First.\nAction: amap_weather\nAction Input: {"location": "北京"}\nNow search.\nAction: web_search\nAction Input: {"query": "北京景点"}\n',
    content: "First.",
    calls: [
      ["amap_weather", '{"location":"北京"}'],
      ["web_search", '{"query":"北京景点"}'],
    ],
  },
  {
    name: "parallel false with text between",
    text: 'First.\nAction: amap_weather\nAction Input: {"location": "北京"}\nNow search.\nAction: web_search\nAction Input: {"query": "北京景点"}\n',
    parallel: false,
    content: "First.",
    calls: [["amap_weather", '{"location":"北京"}']],
  },
  {
    name: "Action at the very start, no trailing newline",
    text: 'Action: web_search\nAction Input: {"query": "x"}',
    content: "",
    calls: [["web_search", '{"query":"x"}']],
  },
  {
    name: "whitespace-only preamble",
    text: "\n\n  Action: web_search\nAction Input: {}",
    content: "",
    calls: [["web_search", "{}"]],
  },
  {
    name: "trailing whitespace everywhere",
    text: 'Sure.   \n\nAction: amap_weather   \nAction Input:   {"location": "上海"}   \n\n  ',
    content: "Sure.",
    calls: [["amap_weather", '{"location":"上海"}']],
  },
  {
    name: "Windows newlines",
    text: 'OK\r\nAction: amap_weather\r\nAction Input: {"location": "北京"}\r\n',
    content: "OK",
    calls: [["amap_weather", '{"location":"北京"}']],
  },
  {
    name: "Windows newlines inside multi-line JSON",
    text: 'Action: amap_weather\r\nAction Input: {\r\n  "location": "北京"\r\n}\r\n',
    content: "",
    calls: [["amap_weather", '{"location":"北京"}']],
  },
  {
    name: "Windows newlines, plain-text input",
    text: "Action: web_search\r\nAction Input: hello\r\n",
    content: "",
    calls: [["web_search", '"hello"']],
  },
  {
    name: "invented Observation/Answer after the call is cut",
    text: 'Action: amap_weather\nAction Input: {"location": "北京"}\nObservation: <result>晴</result>\nAnswer: 北京晴\nAction: web_search\nAction Input: {}',
    content: "",
    calls: [["amap_weather", '{"location":"北京"}']],
  },
  {
    name: "Observation: in a text-only reply cuts it",
    text: "The answer is 42.\nObservation: something",
    content: "The answer is 42.\n",
    calls: [],
  },
  {
    name: "Observation: inside arguments cuts them (as an upstream stop word would)",
    text: 'Action: web_search\nAction Input: {"query": "Observation: x"}',
    content: "",
    calls: [["web_search", '{"query":""}']],
  },
  {
    name: "a partial marker at the end of a text-only reply is content",
    text: "Check the Obs",
    content: "Check the Obs",
    calls: [],
  },
  { name: "a partial Action at the end is content", text: "Next Act", content: "Next Act", calls: [] },
  {
    name: "Action: in the middle of a line",
    text: 'I will search. Action: web_search\nAction Input: {"query": "x"}',
    content: "I will search.",
    calls: [["web_search", '{"query":"x"}']],
  },
  {
    name: "Action: inside the name line",
    text: 'Action: Action: web_search\nAction Input: {"query": "x"}',
    content: "Action:",
    calls: [["web_search", '{"query":"x"}']],
  },
  { name: "Action: in prose", text: "Call to Action: act now!\nThanks.", content: "Call to Action: act now!\nThanks.", calls: [] },
  {
    name: "JSON starting on the next line",
    text: 'Action: web_search\nAction Input:\n{\n  "query": "多行",\n  "top_k": 5\n}\n',
    content: "",
    calls: [["web_search", '{"query":"多行","top_k":5}']],
  },
  {
    name: "unterminated JSON ends at the next Action line",
    text: 'Action: web_search\nAction Input: {"query": "a"\n  Action: amap_weather\nAction Input: {"location": "b"}',
    content: "",
    calls: [
      ["web_search", '{"query":"a"}'],
      ["amap_weather", '{"location":"b"}'],
    ],
  },
  {
    name: "text after the JSON on the same line is dropped",
    text: 'Action: web_search\nAction Input: {"query": "x"} (search it)\n',
    content: "",
    calls: [["web_search", '{"query":"x"}']],
  },
  {
    name: "a second Action Input line is ignored",
    text: 'Action: web_search\nAction Input: {"query": "a"}\nAction Input: {"query": "b"}',
    content: "",
    calls: [["web_search", '{"query":"a"}']],
  },
  {
    name: "nested objects, arrays and a big integer keep their tokens",
    text: 'Action: web_search\nAction Input: {"query": "x", "filters": {"site": ["a.com", "b.com"], "recent": false}, "n": 12345678901234567890}',
    content: "",
    calls: [["web_search", '{"query":"x","filters":{"site":["a.com","b.com"],"recent":false},"n":12345678901234567890}']],
  },
  {
    name: "escapes and emoji are kept as written",
    text: 'Action: web_search\nAction Input: {"query": "say \\"hi\\" \\u4e2d 😀\\n"}',
    content: "",
    calls: [["web_search", '{"query":"say \\"hi\\" \\u4e2d 😀\\n"}']],
  },
  {
    name: "raw line break inside a string is escaped",
    text: 'Action: web_search\nAction Input: {"query": "line1\nline2"}',
    content: "",
    calls: [["web_search", '{"query":"line1\\nline2"}']],
  },
  {
    name: "array arguments with a trailing comma",
    text: 'Action: web_search\nAction Input: ["a", "b",]',
    content: "",
    calls: [["web_search", '["a","b"]']],
  },
  {
    name: "indented Action Input and a blank line of spaces",
    text: 'Action: web_search\n   \n  Action Input: {"query": "x"}',
    content: "",
    calls: [["web_search", '{"query":"x"}']],
  },
  { name: "empty reply", text: "", content: "", calls: [] },
  { name: "emoji in a text-only reply", text: "天气不错 😀👍 \n", content: "天气不错 😀👍 \n", calls: [] },
  {
    name: "emoji before a call",
    text: '好的😀\nAction: web_search\nAction Input: {"q": "👍"}',
    content: "好的😀",
    calls: [["web_search", '{"q":"👍"}']],
  },
  {
    name: "tool name that prefixes another",
    text: "Action: web\nAction Input: {}\nAction: web_search\nAction Input: {}",
    toolNames: ["web", "web_search"],
    content: "",
    calls: [
      ["web", "{}"],
      ["web_search", "{}"],
    ],
  },
];
