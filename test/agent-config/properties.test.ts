// Property tests: the parser and merge against a simple reference model of BlueChi's semantics over
// generated files, and rendering against parsing (what is written reads back as what was meant).
import test from 'ava';
import fc from 'fast-check';
import { renderFromHost } from '../../agent-config/apply.ts';
import { parseIni } from '../../agent-config/ini.ts';
import { AGENT_KEY_NAMES } from '../../agent-config/keys.ts';
import { fileSettings, mergeSettings } from '../../agent-config/merge.ts';
import { renderSetting } from '../../agent-config/render.ts';
import { parsed, valuesOf } from './helpers.ts';

// One generated line, as structure; `text` below writes it in one of several equivalent spellings.
type Item =
  | { kind: 'section'; name: string; trailer: string }
  | { kind: 'set'; key: string; value: string; separator: '=' | ':'; padKey: string; padValue: string; comment: string }
  | { kind: 'continue'; value: string; indent: string; comment: string }
  | { kind: 'comment'; text: string }
  | { kind: 'blank'; spaces: string };

const space = fc.constantFrom('', ' ', '  ', '\t', ' \t ');
const someSpace = fc.constantFrom(' ', '  ', '\t', ' \t');
// Keys: printable, no separators, no comment starters, no "[" first, no whitespace.
const key = fc.constantFrom('NodeName', 'LogLevel', 'ControllerHost', 'HeartbeatInterval', 'Custom', 'x', 'Key.With-Dots');
// Value characters: spaces inside, ";" and "#" inside (not after whitespace for ";"), "=" and ":".
const valueChar = fc.constantFrom('a', 'b', 'Z', '0', '9', '-', '.', '=', ':', '/', ',', '#', ';', ' ', 'ä', '[', ']');
const value = fc.array(valueChar, { maxLength: 12 }).map((chars) => chars.join('').replace(/[ \t]+;/g, ';').trim());
const continuationValue = value.filter((text) => text !== '' && text[0] !== '#' && text[0] !== ';');
const comment = fc.constantFrom('', ' ; a comment', '\t;x', ' ;');
const sectionName = fc.constantFrom('bluechi-agent', 'other', 'node x', 'bluechi-controller');

const item: fc.Arbitrary<Item> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('section' as const), name: sectionName, trailer: fc.constantFrom('', ' ; c', ' junk') }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      key,
      value,
      separator: fc.constantFrom('=' as const, ':' as const),
      padKey: space,
      padValue: space,
      comment,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('continue' as const), value: continuationValue, indent: someSpace, comment }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('comment' as const), text: fc.constantFrom('# c', '; c', '  # indented', '#NodeName=x') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('blank' as const), spaces: space }) },
);

/** Files whose continuations always follow a key (BlueChi would read them as keys otherwise). */
const file = fc.tuple(fc.array(item, { maxLength: 14 }), fc.boolean()).map(([items, crlf]) => {
  const kept: Item[] = [];
  let hasKey = false;
  for (const entry of items) {
    if (entry.kind === 'section') hasKey = false;
    if (entry.kind === 'continue' && !hasKey) continue;
    if (entry.kind === 'set') hasKey = true;
    kept.push(entry);
  }
  return { items: kept, crlf };
});

function text({ items, crlf }: { items: Item[]; crlf: boolean }): string {
  const lines = items.map((entry) => {
    switch (entry.kind) {
      case 'section':
        return `[${entry.name}]${entry.trailer}`;
      case 'set':
        // No indentation before the key (that would continue the previous one); a value that starts
        // with ";" after padding would be a comment, so such values are not padded.
        return `${entry.key}${entry.padKey}${entry.separator}${entry.value.startsWith(';') ? '' : entry.padValue}${entry.value}${entry.value === '' ? '' : entry.comment}`;
      case 'continue':
        return `${entry.indent}${entry.value}${entry.comment}`;
      case 'comment':
        return entry.text;
      case 'blank':
        return entry.spaces;
    }
  });
  return lines.join(crlf ? '\r\n' : '\n') + (crlf ? '\r\n' : '\n');
}

/** The reference: BlueChi's semantics stated directly on the structure, no text involved. */
function model(files: Array<{ items: Item[] }>): Record<string, Record<string, string | null>> {
  const merged: Record<string, Record<string, string | null>> = {};
  for (const { items } of files) {
    const store: Record<string, Record<string, string | null>> = {};
    let section = '';
    let previous: string | undefined;
    const handle = (name: string, piece: string) => {
      const keys = (store[section] ??= {});
      const existing = keys[name];
      keys[name] = existing !== undefined && existing !== null ? existing + piece : piece === '' ? null : piece;
    };
    for (const entry of items) {
      if (entry.kind === 'section') {
        section = entry.name;
        previous = undefined;
      } else if (entry.kind === 'set') {
        previous = entry.key;
        handle(entry.key, entry.value);
      } else if (entry.kind === 'continue' && previous !== undefined) {
        handle(previous, entry.value);
      }
    }
    for (const [name, keys] of Object.entries(store)) Object.assign((merged[name] ??= {}), keys);
  }
  return merged;
}

test('parse + merge of generated files equals the reference model', (t) => {
  fc.assert(
    fc.property(fc.array(file, { minLength: 1, maxLength: 4 }), (files) => {
      const actual = valuesOf(mergeSettings(files.map((f, i) => fileSettings(parseIni(text(f), `f${i}.conf`)))));
      t.deepEqual(actual, model(files));
    }),
    { numRuns: 500 },
  );
});

test('no generated file is rejected, and every line number points at a line that set something', (t) => {
  fc.assert(
    fc.property(file, (f) => {
      const source = text(f);
      const ini = parseIni(source, 'f.conf');
      t.false(ini.rejected);
      const lines = source.split(/\r?\n/);
      for (const assignment of ini.assignments) t.true(lines[assignment.line - 1]!.includes(assignment.value));
    }),
    { numRuns: 300 },
  );
});

test('the parser never throws, whatever the bytes', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
      parseIni(bytes, 'random.conf');
    }),
    { numRuns: 300 },
  );
  t.pass();
});

// Printable values for any key: spaces, ";" after spaces, "#", long runs — the renderer must cope.
const anyValue = fc.stringMatching(/^[!-~](?:[ -~ä€]{0,1200}[!-~])?$/).filter((text) => !/[ \t];/.test(text));
const customKey = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,30}$/).filter((name) => !AGENT_KEY_NAMES.includes(name));

test('rendering then parsing gives the same settings', (t) => {
  fc.assert(
    fc.property(fc.dictionary(customKey, fc.option(anyValue, { nil: '' }), { maxKeys: 6 }), fc.constantFrom('ecu1', 'vehicle-a.local'), (extra, nodeName) => {
      const host = ['[bluechi-agent]', `NodeName=${nodeName}`, 'LogLevel=DEBUG', ...Object.entries(extra).flatMap(([name, raw]) => renderSetting(name, raw === '' ? null : raw))].join('\n');
      const files = [parseIni(`${host}\n`, '/etc/bluechi/agent.conf')];
      const hostValues = parsed(`${host}\n`)['bluechi-agent']!;
      const rendered = renderFromHost(files, { hostname: 'h' });
      const back = parsed(rendered.content)['bluechi-agent']!;
      t.deepEqual(back, Object.fromEntries(rendered.config.settings));
      for (const name of Object.keys(extra)) t.is(back[name], hostValues[name], name);
      t.is(back.NodeName, `qm.${nodeName}`);
      for (const line of rendered.content.split('\n')) t.true(Buffer.byteLength(line) <= 500, line.slice(0, 40));
    }),
    { numRuns: 200 },
  );
});

test('rendering is a function of the settings: re-rendering from a rendered file changes nothing but the header', (t) => {
  fc.assert(
    fc.property(fc.dictionary(customKey, anyValue, { maxKeys: 4 }), (extra) => {
      const host = ['[bluechi-agent]', 'NodeName=ecu1', ...Object.entries(extra).flatMap(([name, raw]) => renderSetting(name, raw))].join('\n');
      const first = renderFromHost([parseIni(host, '/etc/bluechi/agent.conf')], { hostname: 'h' });
      const again = renderFromHost([parseIni(host, '/etc/bluechi/agent.conf')], { hostname: 'h' });
      t.is(again.content, first.content);
    }),
    { numRuns: 100 },
  );
});
