// Which bus to talk to; kept free of dbus-next so that resolving it costs nothing at start-up.
export const DEFAULT_SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';

/** An explicit address, else $DBUS_SYSTEM_BUS_ADDRESS, else the system bus. */
export function resolveBusAddress(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit || env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_SYSTEM_BUS;
}
