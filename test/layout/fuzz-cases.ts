// Fuzzing the layout loader: generated layouts (main file and drop-ins, in every YAML style), then mutated
// at the byte level, and what every case must satisfy. Shared by test/layout/fuzz.test.ts (a few thousand
// cases in npm test) and bench/fuzz.ts (a hundred thousand).
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import { readLayoutBytes, type LayoutBytes } from '../../controller/layout/index.ts';
import { parseYaml } from '../../controller/layout/yaml.ts';
import { describeFiles, lineCount, measured, MESSAGE_MAX, mutated, type CaseCost } from '../support/fuzz.ts';
import { document, manner, meaning, writeYaml, type ScalarStyle, type Value } from './yaml-model.ts';

const REPLACEMENT = Buffer.from('\uFFFD');

/** The longest field an error may have: 64 levels of keys, each shortened to 60 characters. */
export const FIELD_MAX = 5000;

const scalar = (texts: readonly string[]): fc.Arbitrary<Value> =>
  fc.record({
    kind: fc.constant('scalar' as const),
    style: fc.constantFrom<ScalarStyle>('plain', 'plain', 'plain', 'single', 'double'),
    text: fc.constantFrom(...texts),
    anchor: fc.boolean(),
  });

const plainKey = (text: string) => ({ text, quoted: '' as const });
const map = (entries: fc.Arbitrary<ReadonlyArray<readonly [{ text: string; quoted: '' }, Value]>>): fc.Arbitrary<Value> =>
  fc.record({ kind: fc.constant('map' as const), flow: fc.boolean(), entries, anchor: fc.boolean() });
/** Some of `fields` (each a key and its value), in a random order. */
const someOf = (fields: Record<string, fc.Arbitrary<Value>>) =>
  fc.subarray(Object.keys(fields)).chain((keys) => fc.tuple(...keys.map((name) => fields[name]!.map((value) => [plainKey(name), value] as const))));

const unitName = ['gw.service', 'x.service', 'y.service', 'radio.service', 'ui.service', 'can.socket', 'bad name.service', 'nosuffix', 'a@.service', 'ecu-main/gw.service'];
const nodeName = ['ecu-main', 'ecu-body', 'a', 'qm.a', 'qm.ecu-main', 'bad node', ''];
const alias: fc.Arbitrary<Value> = fc.record({ kind: fc.constant('alias' as const), pick: fc.nat() });

const restart = map(
  someOf({
    attempts: scalar(['3', '0', '-3', '1.5', 'many', '999999999999']),
    window: scalar(['5m', '10m30s', '1h', '600h', '2147484', '30d', '', '0.5']),
    backoff: scalar(['1s', '250ms', '596h31m23s', '600h', 'soon', '-1']),
    budget: scalar(['typo']),
  }),
);
const needs = fc.oneof(
  scalar(unitName),
  fc.record({
    kind: fc.constant('seq' as const),
    flow: fc.boolean(),
    items: fc.array(scalar([...unitName, 'qm.ecu-main/ui.service', 'ecu-body/can.socket', 'ecu-main/gw.service', 'nowhere/x.service']), { maxLength: 4 }),
    anchor: fc.boolean(),
  }),
  alias,
);
const unit = fc.oneof(
  scalar(['', '~']),
  map(someOf({ state: scalar(['running', 'stopped', 'runing', '']), enabled: scalar(['true', 'false', 'yes']), needs, restart: fc.oneof(restart, alias), stat: scalar(['running']) })),
);
const units = map(fc.uniqueArray(fc.tuple(fc.constantFrom(...unitName).map(plainKey), unit), { maxLength: 5, selector: ([k]) => k.text }));
const node = map(someOf({ qm: scalar(['true', 'false', 'yes please', '']), units, 'qm-units': units }));
const layout = map(
  someOf({
    version: scalar(['1', '2']),
    nodes: map(fc.uniqueArray(fc.tuple(fc.constantFrom(...nodeName).map(plainKey), node), { maxLength: 4, selector: ([k]) => k.text })),
  }),
);

/** YAML, and text that is anything but: what edits put into a file. */
const PIECES = [' ', '  ', '\n', '\t', '\r', '- ', ': ', ':', '#', ' #', '[', ']', '{', '}', ',', '"', "'", '|', '>', '&a ', '*a', '!!str ', '? ', '%YAML 1.2\n', '---\n', '...\n', '\\', '\0', '\ufeff', '\u00a0', 'é', '☃', '<<: *a', '[[[[[[[[[[', 'x'.repeat(600), '&b [*a, *a, *a, *a]\n'];

const text = fc.oneof({ weight: 3, arbitrary: fc.tuple(layout, manner).map(([root, how]) => writeYaml(root, how)) }, { weight: 1, arbitrary: document });
const file = mutated(text, PIECES);

/** A layout.yaml and up to two drop-ins, generated and then mutated. */
export const layoutCase: fc.Arbitrary<LayoutBytes[]> = fc
  .array(file, { minLength: 1, maxLength: 3 })
  .map((files) => files.map((bytes, index) => ({ file: index === 0 ? 'layout.yaml' : `layout.d/${index}0-x.yaml`, bytes })));

/**
 * Loads the files as the daemon and qmctl do and checks what any input must give: no exception, bounded
 * CPU time and heap, and every error at a position inside one of the files, with a message of bounded length.
 */
export function checkLayoutCase(files: readonly LayoutBytes[]): CaseCost {
  const describe = () => describeFiles(files);
  const { result, cost } = measured(() => readLayoutBytes(files), describe);
  const size = files.reduce((total, { bytes }) => total + bytes.length, 0);
  if (result.ok) {
    if (result.layout.units.size > size) throw new Error(`${result.layout.units.size} units from ${size} bytes`);
    return cost;
  }
  if (result.errors.length === 0 || result.errors.length > size + files.length) throw new Error(`${result.errors.length} errors from ${size} bytes: ${describe()}`);
  const replacementInInput = files.some(({ bytes }) => Buffer.from(bytes).includes(REPLACEMENT));
  for (const error of result.errors) {
    const { file: name, line, column } = error.origin;
    const source = files.find(({ file }) => file === name);
    const where = `${error.position}${error.message.slice(0, 200)} in ${describe()}`;
    if (error.code !== 'config') throw new Error(`code ${error.code}: ${where}`);
    if (!source || line === undefined || !Number.isInteger(line) || line < 1 || line > lineCount(source.bytes)) throw new Error(`no line of a file: ${where}`);
    if (column !== undefined && (!Number.isInteger(column) || column < 1)) throw new Error(`bad column: ${where}`);
    if (error.message.length > MESSAGE_MAX || (error.origin.field ?? '').length > FIELD_MAX) throw new Error(`a message of ${error.message.length} characters: ${where}`);
    // Bytes that are not UTF-8 are named where they are, never shown as U+FFFD.
    if (error.message.includes('\uFFFD') && !replacementInInput) throw new Error(`U+FFFD in ${where}`);
  }
  return cost;
}

/** Text the yaml library reads without a word and whose keys are names (not 007, .5 or true: the reader keeps keys as written). */
function referenceMeaning(text: string): { value: unknown } | undefined {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0 || doc.warnings.length > 0) return undefined;
  try {
    return { value: doc.toJS({ maxAliasCount: -1 }) ?? null };
  } catch {
    return undefined; // an alias the library cannot resolve
  }
}

const NOT_A_NAME = /^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?[0-9.][0-9._]*([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$/;

function keysAreNames(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(keysAreNames);
  if (value === null || typeof value !== 'object') return true;
  return Object.entries(value).every(([key, item]) => !NOT_A_NAME.test(key) && keysAreNames(item));
}

/** Mutated YAML: where both our reader and the yaml library read it, they read the same. */
export const mutatedYaml: fc.Arbitrary<string> = mutated(document, PIECES, 3).map((bytes) => bytes.toString('utf8'));

export function checkAgreement(text: string): void {
  // Where blanks end the file without a line break after a | or > scalar, the library keeps them or not by rules of its own.
  if (!text.endsWith('\n') && /[|>]/.test(text)) return;
  const ours = parseYaml(text, 'f.yaml');
  if (!ours.ok) return;
  const reference = referenceMeaning(text);
  if (!reference || !keysAreNames(reference.value)) return;
  const value = meaning(ours.tree);
  if (!keysAreNames(value)) return;
  if (!isDeepStrictEqual(value, reference.value)) throw new Error(`${JSON.stringify(text)}\nours: ${JSON.stringify(value)}\nyaml: ${JSON.stringify(reference.value)}`);
}
