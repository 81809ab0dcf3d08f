// D-Bus introspection XML as data, for comparing what the product declares and what the stand-in serves
// with what the real services answered (recorded/introspect/).
import { readFile } from 'node:fs/promises';
import { parseStringPromise } from 'xml2js';
import type { InterfaceSpec } from '../../controller/bus/signature.ts';

export interface Arg {
  readonly name?: string;
  readonly type: string;
  readonly direction?: 'in' | 'out';
}

export interface Member {
  readonly args: readonly Arg[];
  readonly annotations: Readonly<Record<string, string>>;
}

export interface Property {
  readonly type: string;
  readonly access: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface Interface {
  readonly name: string;
  readonly methods: ReadonlyMap<string, Member>;
  readonly signals: ReadonlyMap<string, Member>;
  readonly properties: ReadonlyMap<string, Property>;
}

interface XmlElement {
  $?: Record<string, string>;
  interface?: XmlElement[];
  method?: XmlElement[];
  signal?: XmlElement[];
  property?: XmlElement[];
  arg?: XmlElement[];
  annotation?: XmlElement[];
}

const annotationsOf = (element: XmlElement): Record<string, string> =>
  Object.fromEntries((element.annotation ?? []).map((annotation) => [annotation.$!.name!, annotation.$!.value!]));

const membersOf = (elements: XmlElement[] | undefined): Map<string, Member> =>
  new Map(
    (elements ?? []).map((element) => [
      element.$!.name!,
      {
        args: (element.arg ?? []).map((arg) => ({
          ...(arg.$!.name === undefined ? {} : { name: arg.$!.name }),
          type: arg.$!.type!,
          ...(arg.$!.direction === undefined ? {} : { direction: arg.$!.direction as 'in' | 'out' }),
        })),
        annotations: annotationsOf(element),
      },
    ]),
  );

/** The interfaces of one object, by name. */
export async function parseIntrospection(xml: string): Promise<Map<string, Interface>> {
  const parsed = (await parseStringPromise(xml)) as { node: XmlElement };
  return new Map(
    (parsed.node.interface ?? []).map((element) => {
      const name = element.$!.name!;
      return [
        name,
        {
          name,
          methods: membersOf(element.method),
          signals: membersOf(element.signal),
          properties: new Map(
            (element.property ?? []).map((property) => [
              property.$!.name!,
              { type: property.$!.type!, access: property.$!.access!, annotations: annotationsOf(property) },
            ]),
          ),
        },
      ];
    }),
  );
}

export async function recordedInterfaces(file: string): Promise<Map<string, Interface>> {
  return parseIntrospection(await readFile(new URL(`./recorded/introspect/${file}`, import.meta.url), 'utf8'));
}

/** The signature of a member's arguments in one direction (a signal's arguments have none). */
export const signatureOf = (member: Member, direction?: 'in' | 'out'): string =>
  member.args
    .filter((arg) => (direction === 'in' ? arg.direction !== 'out' : direction === 'out' ? arg.direction === 'out' : true))
    .map((arg) => arg.type)
    .join('');

/**
 * Where the product's declaration of an interface disagrees with an introspected one: a line per member.
 * `sentSignatures` overrides a signal's introspected signature with what the service was seen sending.
 */
export function declarationDifferences(spec: InterfaceSpec, actual: Interface | undefined, sentSignatures: ReadonlyMap<string, string> = new Map()): string[] {
  if (!actual) return [`${spec.name}: not served`];
  const differences: string[] = [];
  for (const [name, declared] of Object.entries(spec.methods)) {
    const method = actual.methods.get(name);
    if (!method) differences.push(`${spec.name}.${name}: no such method`);
    else {
      const [inSignature, outSignature] = [signatureOf(method, 'in'), signatureOf(method, 'out')];
      if (inSignature !== declared.in || outSignature !== declared.out) {
        differences.push(`${spec.name}.${name}: declared (${declared.in}) → (${declared.out}), served (${inSignature}) → (${outSignature})`);
      }
    }
  }
  for (const [name, declared] of Object.entries(spec.signals)) {
    const signal = actual.signals.get(name);
    const served = sentSignatures.get(`${spec.name}.${name}`) ?? (signal ? signatureOf(signal) : undefined);
    if (served === undefined) differences.push(`${spec.name}.${name}: no such signal`);
    else if (served !== declared) differences.push(`${spec.name}.${name}: declared signal (${declared}), served (${served})`);
  }
  for (const [name, declared] of Object.entries(spec.properties)) {
    const property = actual.properties.get(name);
    if (!property) differences.push(`${spec.name}.${name}: no such property`);
    else if (property.type !== declared) differences.push(`${spec.name}.${name}: declared property ${declared}, served ${property.type}`);
  }
  return differences;
}

/**
 * Where two introspections of the same object differ, for the interfaces given: members, argument types and
 * directions, property types and access, and the annotations that change behaviour (Explicit properties are
 * left out of GetAll; Privileged methods). Argument names are compared only where the reference has them.
 */
export function introspectionDifferences(reference: Map<string, Interface>, other: Map<string, Interface>, interfaces: readonly string[]): string[] {
  const differences: string[] = [];
  const describeArgs = (member: Member | undefined, named: boolean) =>
    member?.args.map((arg) => `${named && arg.name ? `${arg.name}:` : ''}${arg.type}${arg.direction ? `/${arg.direction}` : ''}`).join(', ');
  const describeAnnotations = (annotations: Readonly<Record<string, string>>) =>
    Object.entries(annotations)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, value]) => `${key}=${value}`)
      .join(' ');
  for (const name of interfaces) {
    const [expected, actual] = [reference.get(name), other.get(name)];
    if (!expected || !actual) {
      if (expected !== actual) differences.push(`${name}: ${expected ? 'missing' : 'not in the reference'}`);
      continue;
    }
    for (const kind of ['methods', 'signals'] as const) {
      for (const member of new Set([...expected[kind].keys(), ...actual[kind].keys()])) {
        const [want, got] = [expected[kind].get(member), actual[kind].get(member)];
        // Argument names are the service's own only on its interfaces; sd-bus and dbus-next name the standard ones differently.
        const named = name.startsWith('org.eclipse.bluechi.') && (want?.args.every((arg) => arg.name !== undefined) ?? false);
        const [wantArgs, gotArgs] = [describeArgs(want, named), describeArgs(got, named)];
        if (wantArgs !== gotArgs) differences.push(`${name}.${member} (${kind}): real (${wantArgs ?? 'absent'}), stand-in (${gotArgs ?? 'absent'})`);
        else if (want && got && describeAnnotations(want.annotations) !== describeAnnotations(got.annotations)) {
          differences.push(`${name}.${member} (${kind}) annotations: real [${describeAnnotations(want.annotations)}], stand-in [${describeAnnotations(got.annotations)}]`);
        }
      }
    }
    for (const property of new Set([...expected.properties.keys(), ...actual.properties.keys()])) {
      const [want, got] = [expected.properties.get(property), actual.properties.get(property)];
      const describe = (value: Property | undefined) => (value ? `${value.type} ${value.access} [${describeAnnotations(value.annotations)}]` : 'absent');
      if (describe(want) !== describe(got)) differences.push(`${name}.${property} (property): real ${describe(want)}, stand-in ${describe(got)}`);
    }
  }
  return differences;
}
