// Stand-ins for qm-controller on a test's bus, for qmctl tests whose point is the client: one serving the real
// org.qm.Controller1 over a backend the test writes, one that owns the name and never answers anything.
import dbus from 'dbus-next';
import { NEVER } from 'rxjs';
import { connectBus } from '../../controller/bus/connection.ts';
import type { DaemonStatus } from '../../controller/daemon/api.ts';
import { serveController, type ControllerBackend } from '../../controller/daemon/service.ts';

const never = () => new Promise<never>(() => undefined);

/** The real service on its own connection over `backend`; what the backend leaves out never answers. */
export async function fakeController(address: string, backend: Partial<ControllerBackend> & { status(): DaemonStatus }): Promise<{ close(): void }> {
  const bus = await connectBus(address);
  const served = await serveController(bus, { changes: NEVER, apply: never, plan: never, reload: never, ...backend });
  return {
    close() {
      served.close();
      bus.close();
    },
  };
}

/** Owns org.qm.Controller1 and takes every method call (GetAll, Apply …) without ever replying; `called` names them. */
export async function silentController(address: string): Promise<{ readonly called: Set<string>; close(): void }> {
  const raw = dbus.sessionBus({ busAddress: address });
  const called = new Set<string>();
  raw.addMethodHandler((message: dbus.Message) => {
    called.add(message.member);
    return true;
  });
  await raw.requestName('org.qm.Controller1', dbus.NameFlag.DO_NOT_QUEUE);
  return { called, close: () => raw.disconnect() };
}
