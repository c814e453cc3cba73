/**
 * Who is calling: the token in `Authorization` (`Bearer <t>`, or the bare token as the original's clients send it)
 * names a tenant, and a caller may act only on its own tenant's tools. The admin token, when configured, may act on
 * any tenant. Missing or unknown tokens get 401, another tenant's tools 403.
 */
import { HttpError } from "../../../core/errors.ts";
import { sameSecret } from "../../../core/http/token.ts";

export interface Caller {
  /** The caller's tenant; undefined for the admin token. */
  tenant?: string;
}

function tokenOf(header: string | null): string | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(value);
  if (match) return match[1].trim();
  return value.includes(" ") ? undefined : value;
}

/** `tenant:token,tenant:token` (the env form of the `tenants` config). */
export function parseTenantTokens(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf(":");
    if (at <= 0 || at === pair.length - 1) throw new Error(`expected tenant:token pairs separated by commas (got an entry without a tenant or token)`);
    out[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return out;
}

export class TenantAuth {
  private readonly tokens: [token: string, tenant: string][];

  constructor(
    tenants: Record<string, string>,
    private readonly adminToken?: string,
  ) {
    this.tokens = Object.entries(tenants).map(([tenant, token]) => [token, tenant]);
  }

  get tenantCount(): number {
    return this.tokens.length;
  }

  /** The caller of a request; 401 when the token is missing or nobody's. */
  caller(headers: Headers): Caller {
    const token = tokenOf(headers.get("authorization"));
    if (!token) throw new HttpError(401, "missing token: send Authorization: Bearer <tenant token>");
    if (this.adminToken && sameSecret(token, this.adminToken)) return {};
    // Compare with every token so that the time taken does not tell which tenant's token was close.
    let tenant: string | undefined;
    for (const [candidate, owner] of this.tokens) if (sameSecret(token, candidate)) tenant = owner;
    if (tenant === undefined) throw new HttpError(401, "invalid token");
    return { tenant };
  }

  /** 403 unless `caller` may act on `tenant`. */
  allow(caller: Caller, tenant: string): void {
    if (caller.tenant !== undefined && caller.tenant !== tenant) {
      throw new HttpError(403, `this token belongs to tenant '${caller.tenant}' and may not act on tenant '${tenant}'`);
    }
  }
}
