// An error from the daemon as one line, the way compilers print them: `file:line:column: field: message`.
import { positionOf } from '../errors.ts';
import type { ErrorJson } from './api.ts';

export function formatError(error: ErrorJson): string {
  return `${positionOf(error)}${error.field ? `${error.field}: ` : ''}${error.message}`;
}
