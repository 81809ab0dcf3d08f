// An error from the daemon as one line, the way compilers print them: `file:line:column: field: message`.
import type { ErrorJson } from './api.ts';

export function formatError(error: ErrorJson): string {
  const position = error.file === undefined ? '' : `${[error.file, error.line, error.column].filter((part) => part !== undefined).join(':')}: `;
  return `${position}${error.field ? `${error.field}: ` : ''}${error.message}`;
}
