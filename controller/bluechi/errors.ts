// D-Bus errors from BlueChi (and the systemd errors it passes through) as QmErrors naming node and unit.
import { BusCallError } from '../bus/connection.ts';
import { QmError, type ErrorCode } from '../errors.ts';

export interface CallSite {
  readonly node?: string;
  readonly unit?: string;
  readonly address?: string;
}

const codes: Record<string, ErrorCode> = {
  'org.eclipse.bluechi.Offline': 'node-offline',
  'org.freedesktop.systemd1.NoSuchUnit': 'unit-unknown',
  'org.freedesktop.systemd1.UnitMasked': 'unit-masked',
  'org.freedesktop.DBus.Error.AccessDenied': 'access-denied',
  'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired': 'access-denied',
  'org.freedesktop.DBus.Error.NoReply': 'timeout',
  'org.freedesktop.DBus.Error.Timeout': 'timeout',
  'org.freedesktop.DBus.Error.TimedOut': 'timeout',
  'org.freedesktop.DBus.Error.ServiceUnknown': 'unreachable',
  'org.freedesktop.DBus.Error.NameHasNoOwner': 'unreachable',
  'org.freedesktop.DBus.Error.Disconnected': 'unreachable',
};

/** What a person calls each service the product talks to. */
const services: Record<string, string> = {
  'org.eclipse.bluechi': 'the BlueChi controller',
  'org.freedesktop.systemd1': 'systemd',
  'org.qm.Controller1': 'qm-controller',
};

/** Turns a failed call into a QmError; anything that is not a bus error passes through unchanged. */
export function describeBusError(error: unknown, site: CallSite): unknown {
  if (!(error instanceof BusCallError)) return error;
  const origin = { ...site, dbusName: error.dbusName };
  const unit = site.unit ? `unit ${site.unit}` : '';
  const node = site.node ? `node ${site.node}` : '';
  // GetNode answers an unknown name with ServiceUnknown "Node not found", not a missing controller.
  const unknownNode = error.call.member === 'GetNode' && error.dbusName === 'org.freedesktop.DBus.Error.ServiceUnknown';
  let code = unknownNode ? 'node-unknown' : codes[error.dbusName];
  // A node object that does not exist: BlueChi was not configured with that node name.
  if (!code && site.node && error.dbusName.startsWith('org.freedesktop.DBus.Error.Unknown')) code = 'node-unknown';
  switch (code) {
    case 'node-offline':
      return new QmError(code, `${node} is offline`, origin, { cause: error });
    case 'node-unknown':
      return new QmError(code, `${node} is not known to the BlueChi controller`, origin, { cause: error });
    case 'unit-unknown':
      return new QmError(code, `${unit} not found${node ? ` on ${node}` : ''}`, origin, { cause: error });
    case 'unit-masked':
      return new QmError(code, `${unit}${node ? ` on ${node}` : ''} is masked: systemd refuses it (${error.message})`, origin, { cause: error });
    case 'access-denied':
      return new QmError(code, `access denied${site.node ? ` for ${[unit, node].filter(Boolean).join(' on ')}` : ''}: ${error.message}`, origin, {
        cause: error,
      });
    case 'timeout':
      return new QmError(code, `no reply${site.node ? ` for ${[unit, node].filter(Boolean).join(' on ')}` : ''}: ${error.message}`, origin, {
        cause: error,
      });
    case 'unreachable':
      return new QmError(
        code,
        `${services[error.call.destination] ?? 'the service'} (${error.call.destination}) is not running on the bus${site.address ? ` at ${site.address}` : ''}`,
        origin,
        { cause: error },
      );
    default: {
      const about = [unit, node].filter(Boolean).join(' on ');
      return new QmError('bus-error', `${about ? `${about}: ` : ''}${error.message} (${error.dbusName})`, origin, { cause: error });
    }
  }
}
