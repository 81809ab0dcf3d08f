// The layout's YAML reader: what each construct means, checked against the yaml library (the reference:
// it reads YAML 1.2 with the core schema, as the reader documents), by example and over generated documents.
import test from 'ava';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import { parseYaml } from '../../controller/layout/yaml.ts';
import { document, meaning } from './yaml-model.ts';

/** What the yaml library makes of `text`, or undefined when it reports an error or a warning. */
function reference(text: string): { value: unknown } | undefined {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0 || doc.warnings.length > 0) return undefined;
  return { value: doc.toJS({ maxAliasCount: -1 }) ?? null };
}

function ours(text: string): { value: unknown } | { errors: string[] } {
  const parsed = parseYaml(text, 'f.yaml');
  return parsed.ok ? { value: meaning(parsed.tree) } : { errors: parsed.errors.map((error) => `${error.position}${error.message}`) };
}

const agreeing = [
  'a: 1\nb: two\nc: [x, "y", \'z\']\nd: {e: f, g: ~}\n',
  'key: [\n  a\n]\n',
  'a:\n  key: [\n    x\n  ]\n',
  'a: b\n  c\n',
  'a:\n- b\n- c\nd: 1\n',
  'key:\n  \tvalue\n',
  'key: \tvalue\n',
  '{a:1}',
  '"a": 1\n',
  '{"a":1}',
  '- - a\n  - b\n- c\n',
  '- a: 1\n  b: 2\n- c\n',
  '- a\n-\n- c\n',
  'a:\n  - b\n  -\n',
  '%YAML 1.2\n---\na: 1\n',
  'a: 1\n...\n# c\n',
  'a: "\\x41\\u00e9\\\n   b"\n',
  "a: 'x''y\n  z'\n",
  'a: |\n  x\n\n  y\n\n',
  'a: >\n  x\n  y\n\n  z\n   w\n  v\n',
  'a: |-\n  x\n\n',
  'a: |+\n  x\n\n',
  'a: |+\n  x\n\nb: 1\n',
  'a: |\n\n  x\n',
  'a: >2-\n   x\n',
  '--- |1\n  foo\n',
  '- |1\n  foo\n',
  'a: &x [1, 2]\nb: *x\n',
  'a: &x\n  b: 1\nc: *x\n',
  'a: "multi\n  line\n\n  quoted"\n',
  'a: plain\n  multi\n\n  line\n',
  'a: 0o17\nb: 0x1F\nc: .inf\nd: -.Inf\ne: 1e3\nf: .5\ng: +12\nh: 007\ni: 1_000\nj: True\nk: NULL\n',
  'a: b:c\nd: http://x/y#z\n',
  '\ufeffa: 1\n',
  'a: 1\r\nb:\r\n  - x\r\n',
  '# only a comment\na: 1 # and one after\n',
  'a: [b, {c: d}, [e]]\n',
  'a: {b, c: d}\n',
];

for (const text of agreeing) {
  test(`reads ${JSON.stringify(text)} as the yaml library does`, (t) => {
    const expected = reference(text);
    t.not(expected, undefined, 'the yaml library accepts it');
    t.deepEqual(ours(text), expected);
  });
}

const refused: Array<[string, RegExp]> = [
  ['a: !!str 1\n', /^f\.yaml:1:4: tags \(such as !!str\) are not used in a layout/],
  ['? a\n: b\n', /^f\.yaml:1:1: explicit keys/],
  ['[a: b]\n', /^f\.yaml:1:2: "key: value" inside \[\.\.\]/],
  ['&x a: 1\n', /^f\.yaml:1:4: an anchor before a key/],
  ['a: 1\n---\nb: 2\n', /^f\.yaml:2:1: a layout file holds one YAML document/],
  ['%TAG ! tag:x,2000:\n---\na: 1\n', /^f\.yaml:1:1: only a %YAML 1\.x directive/],
  ['key: [a,\nb]\n', /^f\.yaml:2:1: a line inside \[\.\.\] or \{\.\.\} must be indented more than its key/],
  ['a:\n  key: "x\n  y"\n', /^f\.yaml:3:3: a quoted value going on over several lines must be indented more than its key/],
  ['--- a: 1\n', /^f\.yaml:1:5: a mapping cannot start on the line of its key/],
  ['\tkey: 1\n', /^f\.yaml:1:1: a tab in the indentation/],
  ['a: "b"#c\n', /^f\.yaml:1:7: a comment needs a blank before "#"/],
  ['a: b #c\n  d\n', /^f\.yaml:2:3: this line is indented more than the keys of its mapping/],
  ['a: b: c\n', /^f\.yaml:1:4: a mapping cannot start on the line of its key/],
  ['a:\n  b\n  c: d\n', /^f\.yaml:3:3: a value going on over several lines cannot hold ": "/],
  ['a: *x\n', /^f\.yaml:1:4: alias \*x has no anchor &x before it/],
  ['a: &x [*x]\n', /^f\.yaml:1:8: alias \*x is inside the value its anchor &x names/],
  ['a: "open\n', /^f\.yaml:1:4: this double-quoted value is never closed/],
  ['a: [b, c\n', /^f\.yaml:1:4: this "\[" is never closed/],
  ['a: |\n    \n  x\n', /^f\.yaml:1:4: a block scalar whose first lines are blank/],
  ['a: "\\q"\n', /^f\.yaml:1:5: "\\\\q" is not an escape YAML knows/],
  [`${'k'.repeat(1025)}: 1\n`, /^f\.yaml:1:1: a key may be at most 1024 characters long/],
  [': x\n', /^f\.yaml:1:1: a key is missing before this ":"/],
  ['a: 1\n- b\n', /^f\.yaml:2:1: a list item where a key of the mapping was expected/],
];

for (const [text, message] of refused) {
  test(`refuses ${JSON.stringify(text.slice(0, 40))} with an error saying why`, (t) => {
    const result = ours(text);
    t.true('errors' in result, JSON.stringify(result));
    if ('errors' in result) t.regex(result.errors[0]!, message);
  });
}

test('generated documents in every style mean what the yaml library says they mean', (t) => {
  fc.assert(
    fc.property(document, (text) => {
      const expected = reference(text);
      const actual = ours(text);
      if (expected === undefined) return true; // not YAML the reference accepts: the fuzz tests cover what happens then
      if (!isDeepStrictEqual(actual, expected)) throw new Error(`${JSON.stringify(text)}\nours: ${JSON.stringify(actual)}\nyaml: ${JSON.stringify(expected)}`);
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
