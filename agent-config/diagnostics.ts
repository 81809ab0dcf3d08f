// Problems found in configuration files: each names the file, line and key, and says what to do.
import { QmError } from '../controller/errors.ts';

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly file: string;
  /** 1-based physical line in `file`; absent when the problem is about the file as a whole. */
  readonly line?: number;
  /** The configuration key the problem is about. */
  readonly field?: string;
  readonly message: string;
}

export function error(file: string, line: number | undefined, field: string | undefined, message: string): Diagnostic {
  return withoutUndefined({ severity: 'error', file, line, field, message });
}

export function warning(file: string, line: number | undefined, field: string | undefined, message: string): Diagnostic {
  return withoutUndefined({ severity: 'warning', file, line, field, message });
}

function withoutUndefined(diagnostic: { severity: Diagnostic['severity']; file: string; line?: number | undefined; field?: string | undefined; message: string }): Diagnostic {
  const { line, field, ...rest } = diagnostic;
  return { ...rest, ...(line === undefined ? {} : { line }), ...(field === undefined ? {} : { field }) };
}

/** `file:line: Key: message`, the form compilers and systemd use. */
export function formatDiagnostic(diagnostic: Diagnostic): string {
  const position = diagnostic.line === undefined ? diagnostic.file : `${diagnostic.file}:${diagnostic.line}`;
  const field = diagnostic.field === undefined ? '' : `${diagnostic.field}: `;
  return `${position}: ${field}${diagnostic.message}`;
}

export const errorsIn = (diagnostics: readonly Diagnostic[]) => diagnostics.filter((d) => d.severity === 'error');
export const warningsIn = (diagnostics: readonly Diagnostic[]) => diagnostics.filter((d) => d.severity === 'warning');

/**
 * One QmError for a set of configuration errors: its origin is the first error's position, its message
 * names every error, so a person sees all of them in one run.
 */
export function configError(errors: readonly Diagnostic[]): QmError {
  const [first, ...rest] = errors;
  if (first === undefined) throw new Error('configError needs at least one error');
  const field = first.field === undefined ? '' : `${first.field}: `;
  const more = rest.length === 0 ? '' : `\n${rest.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`;
  return new QmError('config', `${field}${first.message}${more}`, {
    file: first.file,
    ...(first.line === undefined ? {} : { line: first.line }),
    ...(first.field === undefined ? {} : { field: first.field }),
  });
}

/** Throws the config error for `diagnostics` when any of them is an error. */
export function throwIfErrors(diagnostics: readonly Diagnostic[]): void {
  const errors = errorsIn(diagnostics);
  if (errors.length > 0) throw configError(errors);
}
