/** Timeout and retry settings every HTTP model client shares, as TypeBox properties to spread into a config schema. */
import { Type } from "@sinclair/typebox";
import type { RetryPolicy } from "./retry.ts";

export const HTTP_DEFAULTS = {
  timeout_ms: 300_000,
  max_retries: 2,
  retry_base_delay_ms: 500,
  retry_max_delay_ms: 20_000,
} as const;

export const HttpSettings = {
  timeout_ms: Type.Optional(
    Type.Integer({ minimum: 1, default: HTTP_DEFAULTS.timeout_ms, description: "Deadline of a whole call, first byte to last, in ms" }),
  ),
  max_retries: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 10, default: HTTP_DEFAULTS.max_retries, description: "Retries on 429, 5xx and connection errors" }),
  ),
  retry_base_delay_ms: Type.Optional(Type.Integer({ minimum: 0, default: HTTP_DEFAULTS.retry_base_delay_ms })),
  retry_max_delay_ms: Type.Optional(
    Type.Integer({ minimum: 0, default: HTTP_DEFAULTS.retry_max_delay_ms, description: "Longest wait; a longer Retry-After fails at once" }),
  ),
};

export interface HttpSettingsInput {
  timeout_ms?: number;
  max_retries?: number;
  retry_base_delay_ms?: number;
  retry_max_delay_ms?: number;
}

export function resolveHttpSettings(config: HttpSettingsInput): { timeoutMs: number; retry: RetryPolicy } {
  return {
    timeoutMs: config.timeout_ms ?? HTTP_DEFAULTS.timeout_ms,
    retry: {
      maxRetries: config.max_retries ?? HTTP_DEFAULTS.max_retries,
      baseDelayMs: config.retry_base_delay_ms ?? HTTP_DEFAULTS.retry_base_delay_ms,
      maxDelayMs: config.retry_max_delay_ms ?? HTTP_DEFAULTS.retry_max_delay_ms,
    },
  };
}
