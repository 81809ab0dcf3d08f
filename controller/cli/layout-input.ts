// Layout arguments of plan, apply and layout check: read, validate whole, and on failure print every error.
import type { QmError } from '../errors.ts';
import { loadLayout, type Layout } from '../layout/index.ts';
import type { Context } from './command.ts';

/** `file:line:column: field: message` — one line per error, the way compilers print them. */
export function formatConfigError(error: QmError): string {
  const field = error.origin.field ? `${error.origin.field}: ` : '';
  return `${error.position}${field}${error.message}`;
}

/** Prints every error: lines on stderr, and `{ errors: [...] }` on stdout with --json. */
export function printErrors(context: Context, command: string, errors: readonly QmError[]): void {
  if (context.global.json) context.printJson({ errors: errors.map((error) => error.toJSON()) });
  for (const error of errors) context.stderr.write(`qmctl ${command}: ${formatConfigError(error)}\n`);
  const count = errors.length;
  context.stderr.write(`qmctl ${command}: ${count} error${count === 1 ? '' : 's'}; nothing was changed\n`);
}

/**
 * The validated layout, or undefined after printing all its errors. Reading and checking change nothing, so an
 * interrupt meanwhile ends qmctl at once, even in the middle of parsing a large file.
 */
export async function readLayoutArgs(context: Context, command: string, paths: readonly string[]): Promise<Layout | undefined> {
  const log = context.global.logLevel === 'debug' ? await context.log() : undefined;
  const result = await context.readOnly(() => {
    log?.debug(`reading the layout from ${paths.length > 0 ? paths.join(', ') : 'its default place'}`);
    return loadLayout(paths);
  });
  if (result.ok) return result.layout;
  printErrors(context, command, result.errors);
  return undefined;
}
