// A D-Bus API declared once, as signature strings; the TypeScript types of arguments and replies are
// derived from them, and the bus edge checks each reply and signal against the same strings.
import type { Variant } from 'dbus-next';
import type { Bus } from './connection.ts';

/** dbus-next's JavaScript value for each basic type code. */
interface Basic {
  y: number;
  b: boolean;
  n: number;
  q: number;
  i: number;
  u: number;
  x: bigint;
  t: bigint;
  d: number;
  h: number;
  s: string;
  o: string;
  g: string;
  v: Variant;
}

/** One complete type at the start of S, as [its JavaScript type, the rest of S]. */
type ParseOne<S extends string> = S extends `a{${infer Rest}`
  ? ParseDictEntry<Rest>
  : S extends `a${infer Rest}`
    ? ParseOne<Rest> extends [infer Element, infer After extends string]
      ? [Element[], After]
      : never
    : S extends `(${infer Rest}`
      ? ParseStruct<Rest, []>
      : S extends `${infer Code}${infer Rest}`
        ? Code extends keyof Basic
          ? [Basic[Code], Rest]
          : never
        : never;

type ParseStruct<S extends string, Fields extends unknown[]> = S extends `)${infer Rest}`
  ? [Fields, Rest]
  : ParseOne<S> extends [infer Field, infer Rest extends string]
    ? ParseStruct<Rest, [...Fields, Field]>
    : never;

// dbus-next gives a dictionary as a plain object keyed by the (string or number) key.
type ParseDictEntry<S extends string> =
  ParseOne<S> extends [infer Key, infer AfterKey extends string]
    ? ParseOne<AfterKey> extends [infer Value, `}${infer Rest}`]
      ? [Record<Key & (string | number), Value>, Rest]
      : never
    : never;

/** The body of a message with signature S, e.g. `Body<'uosss'>` is `[number, string, string, string, string]`. */
export type Body<S extends string, Fields extends unknown[] = []> = string extends S
  ? unknown[] // not a literal signature (a generic one): nothing to derive
  : S extends ''
  ? Fields
  : ParseOne<S> extends [infer Field, infer Rest extends string]
    ? Body<Rest, [...Fields, Field]>
    : never;

/** A method as its interface declares it: argument and reply signatures. */
export interface MethodSpec<In extends string = string, Out extends string = string> {
  readonly in: In;
  readonly out: Out;
}

export interface InterfaceSpec {
  readonly name: string;
  readonly methods: Readonly<Record<string, MethodSpec>>;
  /** Signal name → body signature. */
  readonly signals: Readonly<Record<string, string>>;
  /** Property name → type signature. */
  readonly properties: Readonly<Record<string, string>>;
}

export const method = <In extends string, Out extends string>(inSignature: In, outSignature: Out): MethodSpec<In, Out> => ({
  in: inSignature,
  out: outSignature,
});

/** Declares an interface, keeping each member's literal signatures for the types derived from them. */
export const declareInterface = <const Spec extends InterfaceSpec>(spec: Spec): Spec => spec;

/** org.freedesktop.DBus.Properties, which every object the product reads serves. */
export const PropertiesInterface = declareInterface({
  name: 'org.freedesktop.DBus.Properties',
  methods: {
    Get: method('ss', 'v'),
    GetAll: method('s', 'a{sv}'),
    Set: method('ssv', ''),
  },
  signals: { PropertiesChanged: 'sa{sv}as' },
  properties: {},
});

/** Calls `member` of `spec` with arguments typed by its declaration; a reply of another signature is a `contract` error. */
export async function callMember<Spec extends InterfaceSpec, Member extends keyof Spec['methods'] & string>(
  bus: Bus,
  destination: string,
  path: string,
  spec: Spec,
  member: Member,
  body: Body<Spec['methods'][Member]['in']>,
  timeoutMs?: number,
): Promise<Body<Spec['methods'][Member]['out']>> {
  const declared = spec.methods[member]!;
  const reply = await bus.call({
    destination,
    path,
    interface: spec.name,
    member,
    signature: declared.in,
    body,
    replySignature: declared.out,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  return reply as never; // the reply's signature was checked against the declaration
}
