/** ROCK EnvHub's routes (§1.8): request bodies (`lenient`, as its pydantic models), answers, and FastAPI's `{detail}` for errors. */
import { t, type Static, type TSchema } from "elysia";
import { lenient } from "../../../core/http/lenient.ts";
import { Reply } from "../responses.ts";

const Name = t.String({ minLength: 1, pattern: "\\S", description: "Environment name" });

export const Register = lenient(t.Object({
  env_name: Name,
  image: t.String({ minLength: 1, pattern: "\\S" }),
  owner: t.Optional(t.String()),
  description: t.Optional(t.String()),
  tags: t.Optional(t.Array(t.String())),
  extra_spec: t.Optional(t.Nullable(t.Record(t.String(), t.Any()))),
}));

export const ByName = lenient(t.Object({ env_name: Name }));

/** Tags match when the env has any of them. */
export const ListFilter = lenient(t.Optional(t.Object({ owner: t.Optional(t.String()), tags: t.Optional(t.Array(t.String())) })));

/** An environment: a name that sandboxes can be started from, and the image behind it. */
export const EnvInfo = Reply({
  env_name: t.String(),
  image: t.String(),
  owner: t.String(),
  description: t.String(),
  tags: t.Array(t.String()),
  extra_spec: t.Nullable(t.Record(t.String(), t.Unknown())),
  create_at: t.String(),
  update_at: t.String(),
});
export type EnvInfo = Static<typeof EnvInfo>;

export const EnvList = Reply({ envs: t.Array(EnvInfo) });

export const ErrorDetail = Reply({ detail: t.String() });

/** A route's answers: `ok` with 200, `{detail}` with any error status. */
export const answers = <T extends TSchema>(ok: T) => ({ 200: ok, "4XX": ErrorDetail, "5XX": ErrorDetail });
