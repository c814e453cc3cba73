/** The few admin-service calls the code interpreter makes, in ROCK's envelope (`{status, message, error, result}`). */
const PREFIX = "/apis/envs/sandbox/v1";

export interface AdminSettings {
  admin_url: string;
  token?: string;
}

interface Envelope {
  status?: string;
  message?: string | null;
  error?: string | null;
  result?: any;
}

export class AdminCallError extends Error {
  constructor(
    message: string,
    /** True when the admin said the sandbox does not exist (any more). */
    readonly sandboxGone = false,
  ) {
    super(message);
    this.name = "AdminCallError";
  }
}

export async function adminCall(settings: AdminSettings, path: string, body: unknown, signal: AbortSignal): Promise<any> {
  const url = settings.admin_url.replace(/\/+$/, "") + PREFIX + path;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(settings.token ? { authorization: `Bearer ${settings.token}` } : {}) },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    throw new AdminCallError(`the admin service at ${settings.admin_url} cannot be reached: ${(error as Error).message}`);
  }
  const text = await response.text();
  let envelope: Envelope;
  try {
    envelope = JSON.parse(text);
  } catch {
    throw new AdminCallError(`the admin service answered ${response.status} without JSON: ${text.slice(0, 200)}`);
  }
  if (response.status === 401) {
    const reason = envelope.error ?? envelope.message ?? "unauthorized";
    const setting = settings.token ? "the tool_cfg field 'token' is not the admin's token" : "the tool_cfg field 'token' is not set";
    throw new AdminCallError(`the admin service at ${settings.admin_url} answered 401 (${reason}): ${setting} (the admin's server.token / ROCK_API_TOKEN, or plugins.admin.token / ROCK_ADMIN_TOKEN)`);
  }
  if (!response.ok || envelope.status !== "Success") {
    const reason = envelope.error ?? envelope.message ?? `HTTP ${response.status}`;
    throw new AdminCallError(`admin ${path} failed: ${reason}`, /not found|is stopped|is deleted/i.test(String(reason)));
  }
  return envelope.result;
}
