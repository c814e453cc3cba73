/**
 * Request schemas with the leniency of a pydantic model, which the originals' clients rely on: an optional field
 * accepts `null` and means absent, a query parameter is text that a bool or a number is read from. `lenient(schema)`
 * declares it (validation and OpenAPI), and the HTTP host removes the nulls before the handler runs
 * (`nullStripper`), so handlers never see `null` where they expect a field to be absent. Required fields stay
 * required and non-null.
 */
import { Kind, OptionalKind, TransformKind, Type, type TSchema } from "@sinclair/typebox";

const Stripper = Symbol.for("rock.nullStripper");

type Strip = (value: unknown) => void;
type Schema = TSchema & Record<PropertyKey, any>;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function admitsNull(schema: Schema): boolean {
  const kind = schema[Kind];
  if (kind === "Null" || kind === "Any" || kind === "Unknown") return true;
  return kind === "Union" && schema.anyOf.some((member: Schema) => admitsNull(member));
}

/** `schema` with every optional property, at any depth of objects, arrays and unions, also accepting `null`. */
export function lenient<T extends TSchema>(schema: T): T {
  const result = nullable(schema as Schema) as Schema;
  const strip = stripperOf(result);
  if (strip) Object.defineProperty(result, Stripper, { value: strip });
  return result as T;
}

function nullable(schema: Schema): Schema {
  if (schema[TransformKind]) return schema;
  switch (schema[Kind]) {
    case "Object": {
      const properties: Record<string, Schema> = {};
      for (const [name, property] of Object.entries<Schema>(schema.properties)) {
        const inner = nullable(property);
        if (!property[OptionalKind] || admitsNull(inner)) properties[name] = inner;
        else {
          const { [OptionalKind]: _, ...required } = inner;
          properties[name] = Type.Optional(Type.Union([required as Schema, Type.Null()]));
        }
      }
      return { ...schema, properties };
    }
    case "Array":
      return { ...schema, items: nullable(schema.items) };
    case "Union":
      return { ...schema, anyOf: schema.anyOf.map((member: Schema) => nullable(member)) };
    default:
      return schema;
  }
}

/**
 * Deletes, in place, every property the schema declares optional whose value is `null`, at every depth the schema
 * describes (never inside free-form records, which hold the client's own data); undefined when there is none.
 */
function stripperOf(schema: Schema): Strip | undefined {
  if (schema[TransformKind]) return undefined;
  switch (schema[Kind]) {
    case "Object": {
      const optional: string[] = [];
      const nested: [string, Strip][] = [];
      for (const [name, property] of Object.entries<Schema>(schema.properties)) {
        if (property[OptionalKind]) optional.push(name);
        const strip = stripperOf(property);
        if (strip) nested.push([name, strip]);
      }
      if (optional.length === 0 && nested.length === 0) return undefined;
      return (value) => {
        if (!isObject(value)) return;
        for (const name of optional) if (value[name] === null) delete value[name];
        for (const [name, strip] of nested) {
          const inner = value[name];
          if (inner !== undefined && inner !== null) strip(inner);
        }
      };
    }
    case "Array": {
      const strip = stripperOf(schema.items);
      if (!strip) return undefined;
      return (value) => {
        if (Array.isArray(value)) for (const item of value) strip(item);
      };
    }
    case "Union": {
      // One structured member (an object or a list of them beside null or text): its nulls are unambiguous.
      const strips = schema.anyOf.map((member: Schema) => stripperOf(member)).filter(Boolean) as Strip[];
      return strips.length === 1 ? strips[0] : undefined;
    }
    default:
      return undefined;
  }
}

/** The null stripper of a schema made with `lenient`, if it has optional properties. */
export function nullStripper(schema: unknown): Strip | undefined {
  return isObject(schema) ? (schema as Schema)[Stripper] : undefined;
}

const TRUE_WORDS = ["1", "on", "t", "true", "y", "yes"];
const FALSE_WORDS = ["0", "off", "f", "false", "n", "no"];
const caseless = (word: string) => word.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);

/** A bool in a query string, read as pydantic reads one: true/t/yes/y/on/1 and false/f/no/n/off/0, in any case. */
export const QueryBool = (options: { description?: string } = {}) =>
  Type.Transform(
    Type.String({
      pattern: `^(${[...TRUE_WORDS, ...FALSE_WORDS].map(caseless).join("|")})$`,
      description: options.description ?? "true/false (also True, 1, yes, on / False, 0, no, off)",
    }),
  )
    .Decode((text) => TRUE_WORDS.includes(text.toLowerCase()))
    .Encode((value) => String(value));

/**
 * A query schema read as pydantic reads one: a boolean declared in it is parsed from its text
 * (`include_all_states=True`); numbers are parsed by the HTTP host's own query coercion.
 */
export function lenientQuery<T extends TSchema>(schema: T): T {
  const object = schema as Schema;
  const properties: Record<string, Schema> = {};
  for (const [name, property] of Object.entries<Schema>(object.properties)) {
    const optional = property[OptionalKind] === "Optional";
    let read: Schema = property;
    if (property[Kind] === "Boolean" && !property[TransformKind]) read = QueryBool({ description: property.description });
    properties[name] = optional && read !== property ? Type.Optional(read) : read;
  }
  return { ...object, properties } as Schema as T;
}
