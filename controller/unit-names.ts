// Names as systemd and BlueChi accept them, checked before any call is made.
import { QmError } from './errors.ts';

export type UnitName = string & { readonly __brand: 'UnitName' };
export type NodeName = string & { readonly __brand: 'NodeName' };

export const UNIT_TYPES = [
  'service',
  'socket',
  'device',
  'mount',
  'automount',
  'swap',
  'target',
  'path',
  'timer',
  'slice',
  'scope',
] as const;

const UNIT_NAME_MAX = 255; // systemd's UNIT_NAME_MAX
const validChars = /^[A-Za-z0-9:_.\\@-]+$/;

/** Why systemd would refuse `name` as a unit name, or undefined when it is valid. */
export function unitNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > UNIT_NAME_MAX) return `it is ${name.length} characters long (systemd allows ${UNIT_NAME_MAX})`;
  const bad = [...name].find((ch) => !validChars.test(ch));
  if (bad !== undefined) return `it contains ${JSON.stringify(bad)}, which systemd does not allow (use systemd-escape)`;
  const dot = name.lastIndexOf('.');
  const suffix = dot < 0 ? '' : name.slice(dot + 1);
  if (!(UNIT_TYPES as readonly string[]).includes(suffix)) {
    return `it has no unit type suffix (one of .${UNIT_TYPES.join(', .')})`;
  }
  const stem = name.slice(0, dot);
  if (stem.length === 0) return 'its name before the type suffix is empty';
  const at = stem.indexOf('@');
  if (at === 0) return 'its template prefix before "@" is empty';
  if (at >= 0 && stem.indexOf('@', at + 1) >= 0) return 'it contains more than one "@"';
  return undefined;
}

export function parseUnitName(name: string): UnitName {
  const problem = unitNameProblem(name);
  if (problem) throw new QmError('invalid-unit-name', `invalid unit name ${JSON.stringify(name)}: ${problem}`, { unit: name });
  return name as UnitName;
}

/** BlueChi node names: non-empty, printable, no whitespace or path separators. */
export function nodeNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 255) return `it is ${name.length} characters long (at most 255)`;
  if (/[\s/,]/.test(name)) return 'it contains whitespace, "/" or ","';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'it contains control characters';
  return undefined;
}

export function parseNodeName(name: string): NodeName {
  const problem = nodeNameProblem(name);
  if (problem) throw new QmError('invalid-node-name', `invalid node name ${JSON.stringify(name)}: ${problem}`, { node: name });
  return name as NodeName;
}
