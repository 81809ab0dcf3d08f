// The layout's YAML reader: the yaml library reads the text; these check that the Tree built from its
// document means what the library's own toJS says (keys, anchors and aliases, positions aside), by example
// and over generated documents, and that what a layout refuses is refused with file:line:column.
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
  '? a\n: b\n',
  '[a: b]\n',
  '&x a: 1\nb: *x\n',
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
  // The anchor declared again inside the value it names: the later one is what follows (fuzz seed 2107160136).
  'a: &x\n- []\n- b: &x\n- c\nd: *x\n',
  'a: &x\n  &x k: 1\nd: *x\n',
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
  ['a: !!str 1\n', /^f\.yaml:1:\d+: tags \(such as !!str\) are not used in a layout/],
  ['a: !local x\n', /^f\.yaml:1:\d+: tags \(such as !!str\) are not used in a layout/],
  ['a: 1\n---\nb: 2\n', /^f\.yaml:2:1: a layout file holds one YAML document/],
  ['%TAG ! tag:x,2000:\n---\na: 1\n', /^f\.yaml:1:1: only a %YAML 1\.x directive/],
  ['key: [a,\nb]\n', /^f\.yaml:2:1: flow sequence in block collection must be sufficiently indented/],
  ['a:\n  key: "x\n  y"\n', /^f\.yaml:2:10: missing closing "quote/],
  ['--- a: 1\n', /^f\.yaml:1:5: block collection cannot start on same line with directives-end marker/],
  ['\tkey: 1\n', /^f\.yaml:1:1: a tab in the indentation/],
  ['a: "b"#c\n', /^f\.yaml:1:7: comments must be separated from other tokens by white space/],
  ['a: b #c\n  d\n', /^f\.yaml:2:1: all mapping items must start at the same column/],
  ['a: b: c\n', /^f\.yaml:1:4: nested mappings are not allowed in compact mappings/],
  ['a:\n  b\n  c: d\n', /^f\.yaml:2:3: implicit keys need to be on a single line/],
  ['a: *x\n', /^f\.yaml:1:4: alias \*x has no anchor &x before it/],
  ['a: &x [*x]\n', /^f\.yaml:1:8: alias \*x is inside the value its anchor &x names/],
  ['a: "open\n', /^f\.yaml:2:1: missing closing "quote/],
  ['a: [b, c\n', /^f\.yaml:2:1: flow sequence in block collection must be sufficiently indented and end with a \]/],
  ['a: |\n    \n  x\n', /^f\.yaml:3:3: block scalars with more-indented leading empty lines must use an explicit indentation indicator/],
  ['a: "\\q"\n', /^f\.yaml:1:5: invalid escape sequence \\q/],
  [`${'k'.repeat(1025)}: 1\n`, /^f\.yaml:1:1: a key may be at most 1024 characters long/],
  [': x\n', /^f\.yaml:1:1: a key must be a name, not empty/],
  ['[a]: 1\n', /^f\.yaml:1:1: a key must be a name, not a list, map or alias/],
  ['a: &k x\n*k : 1\n', /^f\.yaml:2:1: a key must be a name, not a list, map or alias/],
  ['a: 1\n- b\n', /^f\.yaml:2:1: implicit keys need to be on a single line/],
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
