/**
 * The agent loop of `/v1/assistants/lite` (the original's `RolePlay._run`, reference §5.1): stream the model with the
 * original stop words, pass every piece on, parse the turn's first `Action`, run that tool, pass on
 * `\nObservation: <result>…</result>\nAnswer:` and append the turn and the observation to the user message, then ask
 * the model again; at most `maxTurns` model calls. A tool that fails, or a name that is not a tool, becomes the
 * original's observation text, so that the model (and the client) see what went wrong.
 */
import { chatBatches, type ChatMessage, type ChatOptions, type ModelClient } from "../../../../core/kinds/model.ts";
import { parseReply } from "../../../protocol/function-calling/parse.ts";
import { pythonJsonDumps } from "../../../protocol/function-calling/python-json.ts";
import { cutAtStopMarker, StopMarkerFilter } from "../../../protocol/function-calling/stop-marker.ts";
import { formatTemplate, OBSERVATION_TEMPLATE, STOP_WORDS } from "../../../protocol/function-calling/templates.ts";
import { pythonRepr } from "../../../protocol/python-repr.ts";
import type { PromptTool } from "../../../protocol/assistant/prompt.ts";

export interface AgentTool extends PromptTool {
  /** Runs the tool with the model's argument text; throws to report a failure. */
  call(args: string, kwargs: Record<string, unknown>, signal: AbortSignal): Promise<unknown>;
}

export type AgentEvent =
  | { type: "text"; text: string }
  | { type: "tool_call"; name: string; arguments: string }
  /** `text` is what the raw stream carries: the original's observation template around `result`. */
  | { type: "observation"; name: string; result: string; text: string };

export interface AgentRun {
  client: ModelClient;
  /** The prompt (`agentMessages`); the last message is the user turn the transcript is appended to. */
  messages: ChatMessage[];
  tools: ReadonlyMap<string, AgentTool>;
  /** Model name and sampling options. */
  options: ChatOptions;
  /** Passed to every tool call (the original's kwargs: `tool_name`, `lang`, the request's extra keys). */
  kwargs: Record<string, unknown>;
  maxTurns: number;
  toolTimeoutMs: number;
  signal: AbortSignal;
}

/** The original kept about half of its 6000-token budget for an observation fed back; this many characters. */
export const OBSERVATION_FEEDBACK_CHARS = 2989;

const ORIGINAL_CALL = /Action: (.+)\nAction Input: (.+)/;

/** The turn's first call: one of the tools (arguments as compact JSON text), else any `Action:` pair the original would have taken. */
export function firstCall(text: string, toolNames: readonly string[]): { name: string; arguments: string } | undefined {
  const parsed = parseReply(text, { toolNames, parallelToolCalls: false }).tool_calls[0];
  if (parsed) return { name: parsed.function.name, arguments: parsed.function.arguments };
  const match = ORIGINAL_CALL.exec(cutAtStopMarker(text));
  return match ? { name: match[1], arguments: match[2] } : undefined;
}

function failure(name: string, args: string, details: string): string {
  return `Tool api ${name} failed to call. Args: ${args}.Details: ${details.slice(0, 200)}`;
}

async function observe(run: AgentRun, name: string, args: string): Promise<string> {
  const tool = run.tools.get(name);
  // The original looked the name up in a dict: str(KeyError(name)) is the quoted name.
  if (!tool) return failure(name, args, pythonRepr(name));
  const signal = AbortSignal.any([run.signal, AbortSignal.timeout(run.toolTimeoutMs)]);
  try {
    const result = await Promise.race([
      tool.call(args, { ...run.kwargs, tool_name: name }, signal),
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
    ]);
    return typeof result === "string" ? result : pythonJsonDumps(result);
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    return failure(name, args, timedOut ? `timed out after ${run.toolTimeoutMs} ms` : error instanceof Error ? error.message : String(error));
  }
}

/** The loop's events; returns the number of model calls made. Model failures throw (ModelError). */
export async function* runAgent(run: AgentRun): AsyncGenerator<AgentEvent, number> {
  const names = [...run.tools.keys()];
  const user = run.messages[run.messages.length - 1];
  const stop = [...STOP_WORDS, ...(run.options.stop ?? [])];
  for (let turn = 1; ; turn++) {
    const filter = new StopMarkerFilter();
    let turnText = "";
    for await (const batch of chatBatches(run.client, run.messages, { ...run.options, stop, signal: run.signal })) {
      let text = "";
      for (const event of batch) if (event.type === "text") text += filter.push(event.text);
      if (text) {
        turnText += text;
        yield { type: "text", text };
      }
      // A backend that ignores stop words is cut here, as the upstream would have cut it.
      if (filter.stopped) break;
    }
    const rest = filter.flush();
    if (rest) {
      turnText += rest;
      yield { type: "text", text: rest };
    }

    const call = firstCall(turnText, names);
    if (!call) return turn;
    yield { type: "tool_call", ...call };
    const result = await observe(run, call.name, call.arguments);
    yield { type: "observation", name: call.name, result, text: formatTemplate(OBSERVATION_TEMPLATE, { exec_result: result }) };
    user.content += turnText + formatTemplate(OBSERVATION_TEMPLATE, { exec_result: result.slice(0, OBSERVATION_FEEDBACK_CHARS) });
    if (turn >= run.maxTurns) return turn;
  }
}
