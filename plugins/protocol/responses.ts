/**
 * Building blocks of response schemas. A route's answer is checked against its schema, and Elysia first cleans it with
 * TypeBox's Value.Clean, which drops every field an object schema does not list: each object of a response schema
 * therefore admits further fields (`Reply`), so that a schema may say less than a route sends but never changes it.
 * test/openapi checks every service's document for this.
 */
import { t, type TSchema } from "elysia";
import { Kind, Type, type ObjectOptions, type SchemaOptions, type TLiteral, type TProperties, type TUnion, type TUnsafe } from "@sinclair/typebox";

/** An object in an answer: these fields, and whatever else the route sends (clients ignore fields they do not know). */
export const Reply = <P extends TProperties>(properties: P, options: ObjectOptions = {}) => t.Object(properties, { ...options, additionalProperties: t.Unknown() });

/**
 * A body that is not JSON, documented under `mediaType` (the kernel files it there): a stream of server-sent events
 * whose `data:` lines are `item`, or plain text. The route returns it as a Response, which Elysia sends unchecked: a
 * string schema for the document, typed as the Response the handler returns.
 */
export const Streamed = (mediaType: string, description: string, item?: TSchema): TUnsafe<Response> =>
  Type.Unsafe<Response>({ [Kind]: "String", type: "string", contentMediaType: mediaType, description, ...(item ? { contentSchema: item } : {}) });

type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: TLiteral<T[K]> };

/** One of `values`, typed as their union (a union of a mapped array's literals is `never` in Elysia's route types). */
export const OneOf = <const T extends readonly string[]>(values: T, options?: SchemaOptions): TUnion<Literals<T>> =>
  t.Union(values.map((value) => t.Literal(value)), options) as unknown as TUnion<Literals<T>>;
