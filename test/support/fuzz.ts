// Fuzzing a parser: byte-level edits of generated files, what one case may cost, and a runner that reports
// the cost of every case. The layout and agent-config fuzz cases (test/*/fuzz-cases.ts) supply the
// files and the checks; their tests run a few thousand cases, bench/fuzz.ts a hundred thousand.
import fc from 'fast-check';

/** The most CPU time one case may take: generous, since a case is a few kilobytes (typically well under a millisecond). */
export const CASE_CPU_MS = 250;
/** The most heap one case may leave allocated: a bomb or a blow-up would take hundreds of megabytes. */
export const CASE_HEAP_BYTES = 64 * 1024 * 1024;
/** The longest message an error may have, whatever the input. */
export const MESSAGE_MAX = 1000;

export type Edit =
  | { readonly kind: 'insert'; readonly at: number; readonly piece: string }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'byte'; readonly at: number; readonly byte: number }
  | { readonly kind: 'repeat'; readonly at: number; readonly length: number; readonly times: number }
  | { readonly kind: 'truncate'; readonly at: number };

/** An edit that inserts one of `pieces` (text the format gives a meaning to), deletes, inserts any byte, repeats a stretch or cuts the file. */
export function edit(pieces: readonly string[]): fc.Arbitrary<Edit> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), piece: fc.constantFrom(...pieces) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }), times: fc.integer({ min: 2, max: 50 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  );
}

/** `bytes` with the edits made in order, positions taken modulo the length so far. */
export function applyEdits(bytes: Buffer, edits: readonly Edit[]): Buffer {
  let out = bytes;
  for (const change of edits) {
    const at = change.at % (out.length + 1);
    if (change.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from(change.piece), out.subarray(at)]);
    else if (change.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + change.length)]);
    else if (change.kind === 'byte') out = Buffer.concat([out.subarray(0, at), Buffer.from([change.byte]), out.subarray(at)]);
    else if (change.kind === 'repeat') out = Buffer.concat([out.subarray(0, at), ...Array<Buffer>(change.times).fill(out.subarray(at, at + change.length)), out.subarray(at)]);
    else out = out.subarray(0, at);
  }
  return out;
}

/** Generated text, as bytes, with up to `most` edits. */
export function mutated(text: fc.Arbitrary<string>, pieces: readonly string[], most = 4): fc.Arbitrary<Buffer> {
  return fc.tuple(text, fc.array(edit(pieces), { maxLength: most })).map(([written, edits]) => applyEdits(Buffer.from(written), edits));
}

export interface CaseCost {
  readonly cpuMs: number;
  readonly heapBytes: number;
}

/** Runs `parse` once, measuring its CPU time and the heap it leaves; throws when either is past the bounds. */
export function measured<T>(parse: () => T, describe: () => string): { result: T; cost: CaseCost } {
  const heapBefore = process.memoryUsage().heapUsed;
  const cpuBefore = process.cpuUsage();
  const result = parse();
  const cpu = process.cpuUsage(cpuBefore);
  const cost = { cpuMs: (cpu.user + cpu.system) / 1000, heapBytes: process.memoryUsage().heapUsed - heapBefore };
  if (cost.cpuMs > CASE_CPU_MS) throw new Error(`${cost.cpuMs.toFixed(0)} ms of CPU for ${describe()}`);
  if (cost.heapBytes > CASE_HEAP_BYTES) throw new Error(`${cost.heapBytes} bytes of heap for ${describe()}`);
  return { result, cost };
}

/** Lines in `bytes`, as a parser counts them: an error's line must be one of these. */
export function lineCount(bytes: Uint8Array): number {
  let lines = 1;
  for (const byte of bytes) if (byte === 0x0a) lines += 1;
  return lines;
}

/** Files as text a person can paste into a test (bytes that are not UTF-8 kept as latin1). */
export function describeFiles(files: ReadonlyArray<{ readonly file: string; readonly bytes: Uint8Array }>): string {
  return JSON.stringify(files.map(({ file, bytes }) => ({ file, text: Buffer.from(bytes).toString('latin1') })));
}

/** Checks `count` generated cases with fast-check (shrinking the first failure) and returns each case's cost. */
export function fuzz<T>(arbitrary: fc.Arbitrary<T>, check: (input: T) => CaseCost | void, count: number): CaseCost[] {
  const costs: CaseCost[] = [];
  fc.assert(
    fc.property(arbitrary, (input) => {
      const cost = check(input);
      if (cost) costs.push(cost);
    }),
    { numRuns: count },
  );
  return costs;
}
