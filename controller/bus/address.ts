// Which bus to talk to; kept free of dbus-next so that resolving it costs nothing at start-up.
export const DEFAULT_SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';

/**
 * The bus to talk to: an explicit address, else $DBUS_SYSTEM_BUS_ADDRESS, else the system bus; or, when that is not a
 * D-Bus address the connection can use, why not, naming where it came from.
 */
export function busAddressOf(explicit?: string, env: NodeJS.ProcessEnv = process.env): { address: string } | { error: string } {
  const [address, source] = explicit
    ? [explicit, '--bus-address']
    : env.DBUS_SYSTEM_BUS_ADDRESS
      ? [env.DBUS_SYSTEM_BUS_ADDRESS, '$DBUS_SYSTEM_BUS_ADDRESS']
      : [DEFAULT_SYSTEM_BUS, 'the default bus address'];
  const problem = busAddressProblem(address);
  return problem === undefined ? { address } : { error: `${source} ${JSON.stringify(address)} is not a D-Bus address: ${problem}` };
}

/** What the connection can reach: a unix socket by path, or tcp (the transports dbus-next speaks that we ship). */
const KEYS: Readonly<Record<string, { readonly required: readonly string[]; readonly allowed: readonly string[] }>> = {
  unix: { required: ['path'], allowed: ['path', 'guid'] },
  tcp: { required: ['port'], allowed: ['host', 'port', 'guid'] },
};

/**
 * Why `address` is not a D-Bus address the connection can use, or undefined: TRANSPORT:KEY=VALUE[,KEY=VALUE...]
 * (several joined by `;`, tried in order), the transport unix (with path=) or tcp (with port=). Without this a
 * mistyped address (`qmctl --bus-address start list-nodes`) failed deep in dbus-next with a TypeError.
 */
function busAddressProblem(address: string): string | undefined {
  for (const part of address.split(';')) {
    const colon = part.indexOf(':');
    if (colon <= 0) return `${JSON.stringify(part)} has no TRANSPORT: prefix (e.g. ${DEFAULT_SYSTEM_BUS})`;
    const transport = part.slice(0, colon);
    const keys = Object.hasOwn(KEYS, transport) ? KEYS[transport] : undefined;
    if (!keys) return `transport ${JSON.stringify(transport)} is not supported: use unix:path=SOCKET or tcp:host=HOST,port=PORT`;
    const given = new Set<string>();
    for (const pair of part.slice(colon + 1).split(',')) {
      const equals = pair.indexOf('=');
      if (equals <= 0) return `${JSON.stringify(pair)} in ${JSON.stringify(part)} is not KEY=VALUE`;
      const key = pair.slice(0, equals);
      if (!keys.allowed.includes(key)) return `${transport}: takes ${keys.allowed.join(', ')}, not ${JSON.stringify(key)}`;
      if (pair.length === equals + 1) return `${transport}: ${key}= is empty`;
      given.add(key);
    }
    const missing = keys.required.find((key) => !given.has(key));
    if (missing) return `${transport}: needs ${missing}=`;
  }
  return undefined;
}
