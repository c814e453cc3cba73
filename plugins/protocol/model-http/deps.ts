/** What a model client is given instead of reaching for globals. */

/** The kernel passes a permission-checked fetch; any function of this shape works. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Structured log sink; never receives API keys. */
export type Log = (message: string, fields?: Record<string, unknown>) => void;

export interface ClientDeps {
  fetch: Fetch;
  log?: Log;
  /** Plugin name reported by the client; defaults to the vendor name. */
  name?: string;
}
