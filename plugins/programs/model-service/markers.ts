/** The markers of ROCK's log-file protocol (rock/sdk/model/server/config.py); the file is shared with ROCK's tools. */
export const REQUEST_START = "LLM_REQUEST_START";
export const REQUEST_END = "LLM_REQUEST_END";
export const RESPONSE_START = "LLM_RESPONSE_START";
export const RESPONSE_END = "LLM_RESPONSE_END";
export const SESSION_END = "SESSION_END";

export const ALL_MARKERS = [REQUEST_START, REQUEST_END, RESPONSE_START, RESPONSE_END, SESSION_END] as const;
