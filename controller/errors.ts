// One error type for everything qm reports to a person: a code, an actionable message, and where.

/** Exit codes of qmctl, documented in the README. */
export const ExitCode = {
  ok: 0,
  jobFailed: 1,
  usage: 2,
  unreachable: 3,
  node: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorCode =
  | 'usage'
  | 'invalid-unit-name'
  | 'invalid-node-name'
  | 'unreachable'
  | 'node-offline'
  | 'node-unknown'
  | 'unit-unknown'
  | 'unit-masked'
  | 'access-denied'
  | 'timeout'
  | 'job-failed'
  | 'bus-error'
  | 'contract'
  | 'config'
  | 'io';

/** Where an error came from: a config position, or the node and unit a bus call was about. */
export interface ErrorOrigin {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly field?: string;
  readonly node?: string;
  readonly unit?: string;
  readonly address?: string;
  /** The D-Bus error name, when the error came over the bus. */
  readonly dbusName?: string;
}

const exitCodes: Record<ErrorCode, ExitCode> = {
  usage: ExitCode.usage,
  'invalid-unit-name': ExitCode.usage,
  'invalid-node-name': ExitCode.usage,
  unreachable: ExitCode.unreachable,
  'node-offline': ExitCode.node,
  'node-unknown': ExitCode.node,
  'unit-unknown': ExitCode.jobFailed,
  'unit-masked': ExitCode.jobFailed,
  'access-denied': ExitCode.jobFailed,
  timeout: ExitCode.jobFailed,
  'job-failed': ExitCode.jobFailed,
  'bus-error': ExitCode.jobFailed,
  contract: ExitCode.jobFailed,
  config: ExitCode.usage,
  io: ExitCode.jobFailed,
};

export class QmError extends Error {
  override readonly name = 'QmError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly origin: ErrorOrigin = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get exitCode(): ExitCode {
    return exitCodes[this.code];
  }

  /** `file:line:column: ` for config errors, empty otherwise. */
  get position(): string {
    return positionOf(this.origin);
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.origin };
  }
}

/** `file:line:column: ` of an origin that names a file, empty otherwise. */
export function positionOf({ file, line, column }: ErrorOrigin): string {
  if (file === undefined) return '';
  return [file, line, column].filter((part) => part !== undefined).join(':') + ': ';
}

export function isQmError(error: unknown): error is QmError {
  return error instanceof QmError;
}
