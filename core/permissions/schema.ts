import { Type, type Static } from "@sinclair/typebox";

/**
 * What a plugin may touch. Nothing is allowed unless listed (Deno's deny-by-default).
 * - net: hosts for `ctx.fetch`: "host" (any port), "host:port", "*.domain" (subdomains), an IPv4 block "10.0.0.0/8", or "*" (anything)
 * - env: environment variables `ctx.env` may read
 * - read / write: directories (or files) `ctx.fs` may read / read and write; relative to the project root
 * - run: programs `ctx.run` may start (a name looked up in PATH, or an absolute path)
 * - docker: a Docker client whose containers carry the plugin's labels
 * - store: the namespace of the hot-state store this plugin gets
 * - database: a SQLite database file of its own
 */
export const Permissions = Type.Object(
  {
    net: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    env: Type.Optional(Type.Array(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }))),
    read: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    write: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    run: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    docker: Type.Optional(Type.Boolean()),
    store: Type.Optional(Type.String({ pattern: "^[a-z0-9][a-z0-9_.-]*$" })),
    database: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type Permissions = Static<typeof Permissions>;

/** One line per granted permission, as `rock plugins` prints them. */
export function describePermissions(p: Permissions): string[] {
  const out: string[] = [];
  if (p.net?.length) out.push(`net: ${p.net.join(", ")}`);
  if (p.env?.length) out.push(`env: ${p.env.join(", ")}`);
  if (p.read?.length) out.push(`read: ${p.read.join(", ")}`);
  if (p.write?.length) out.push(`write: ${p.write.join(", ")}`);
  if (p.run?.length) out.push(`run: ${p.run.join(", ")}`);
  if (p.docker) out.push("docker");
  if (p.store) out.push(`store: ${p.store}`);
  if (p.database) out.push("database");
  return out;
}
