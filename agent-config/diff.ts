// What changed: key by key for the log, line by line (unified diff) for --dry-run.

/** undefined: the key is absent; null: present with no value. */
export type Value = string | null | undefined;

export interface SettingChange {
  readonly key: string;
  readonly before: Value;
  readonly after: Value;
}

/** Keys whose value differs, in the order of `after` and then keys only `before` has. */
export function settingChanges(before: ReadonlyMap<string, string | null>, after: ReadonlyMap<string, string | null>): SettingChange[] {
  const keys = [...after.keys(), ...[...before.keys()].filter((key) => !after.has(key))];
  return keys.filter((key) => before.get(key) !== after.get(key)).map((key) => ({ key, before: before.get(key), after: after.get(key) }));
}

const show = (value: Value) => (value === undefined ? '(unset)' : value === null ? '(empty)' : JSON.stringify(value));

/** `Key: "old" → "new"`, one line per change. */
export function describeChange(change: SettingChange): string {
  return `${change.key}: ${show(change.before)} → ${show(change.after)}`;
}

type Edit = { readonly kind: ' ' | '-' | '+'; readonly text: string };

/** The edit script from a longest common subsequence; configuration files are short. */
function edits(a: readonly string[], b: readonly string[]): Edit[] {
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const script: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      script.push({ kind: ' ', text: a[i++]! });
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      script.push({ kind: '-', text: a[i++]! });
    } else {
      script.push({ kind: '+', text: b[j++]! });
    }
  }
  return script;
}

const linesOf = (text: string) => (text === '' ? [] : text.replace(/\n$/, '').split('\n'));

/** A unified diff with `context` lines around each change; empty when the texts are equal. */
export function unifiedDiff(before: string, after: string, labels: { before: string; after: string }, context = 3): string {
  if (before === after) return '';
  const script = edits(linesOf(before), linesOf(after));
  const changed = script.map((edit, index) => (edit.kind === ' ' ? -1 : index)).filter((index) => index >= 0);
  // Group changes whose context windows touch into hunks.
  const hunks: Array<[number, number]> = [];
  for (const index of changed) {
    const start = Math.max(0, index - context);
    const end = Math.min(script.length, index + context + 1);
    const last = hunks.at(-1);
    if (last && start <= last[1]) last[1] = end;
    else hunks.push([start, end]);
  }
  const out = [`--- ${labels.before}`, `+++ ${labels.after}`];
  for (const [start, end] of hunks) {
    const position = (upTo: number, side: '-' | '+') => script.slice(0, upTo).filter((edit) => edit.kind === ' ' || edit.kind === side).length;
    const count = (side: '-' | '+') => script.slice(start, end).filter((edit) => edit.kind === ' ' || edit.kind === side).length;
    const range = (side: '-' | '+') => {
      const lines = count(side);
      return `${lines === 0 ? position(start, side) : position(start, side) + 1},${lines}`;
    };
    out.push(`@@ -${range('-')} +${range('+')} @@`);
    for (const edit of script.slice(start, end)) out.push(`${edit.kind}${edit.text}`);
  }
  if (hunks.length === 0) out.push('(the texts differ only in line endings at the end of the file)');
  return `${out.join('\n')}\n`;
}
