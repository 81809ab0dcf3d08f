import { parseSetupOptions } from '../../partition/setup-options.ts';
import type { Command } from '../command.ts';

const command: Command = {
  name: 'setup',
  summary: "Set up the QM partition on this machine (rootfs, qm.container, QM's podman and agent), then start it",
  usage: 'setup [--rootfs DIR] [--rwetcfs DIR] [--rwvarfs DIR] [--hostname NAME] [--skip-systemctl] | setup --remove',
  help: `Builds QM's rootfs from this machine's distribution (mmdebstrap or debootstrap on Debian, dnf on Fedora),
cached under /var/cache/qm by package list; installs qm.container, the no-real-time seccomp profile and QM's
containers.conf; gives QM its own subuid/subgid ranges; writes QM's bluechi agent config; then reloads systemd,
starts qm.service and waits until QM's own systemd is running (its journal is printed when it is not).
Running it again is safe: it only changes what differs, and keeps QM's /etc and /var.
  --rootfs DIR        QM's read-only root (default /usr/lib/qm/rootfs)
  --rwetcfs DIR       backs /etc inside QM (default /etc/qm)
  --rwvarfs DIR       backs /var inside QM (default /var/qm)
  --hostname NAME     QM's agent is NodeName=qm.NAME (default: this machine's hostname)
  --skip-systemctl    prepare the files only; do not reload systemd or start QM
  --remove            stop QM and remove exactly what setup made (the rootfs cache in /var/cache/qm stays)
  --remove-qm-rootfs  the same as --remove (upstream's name for it)
Must run as root. Progress goes to stderr.
JSON: { rootfs: built|cache|current, rootfsSeconds, packages, changed, qmState, bootSeconds, warnings }
      with --remove: { found, removed, unmounted }`,
  options: {
    rootfs: { type: 'string' },
    rwetcfs: { type: 'string' },
    rwvarfs: { type: 'string' },
    hostname: { type: 'string' },
    'skip-systemctl': { type: 'boolean' },
    remove: { type: 'boolean' },
    'remove-qm-rootfs': { type: 'boolean' },
  },
  async run(context, _args, values) {
    const options = parseSetupOptions(values);
    // Setup and removal watch `interrupted` themselves, to stop between their steps.
    context.endsOnInterrupt();
    const { setup, removeSetup } = await import('../../partition/setup.ts');
    let bus: { close(): void } | undefined;
    const io = {
      progress: (line: string) => context.stderr.write(`${line}\n`),
      warn: (line: string) => context.stderr.write(`warning: ${line}\n`),
      timeoutMs: context.global.timeoutMs,
      signal: context.interrupted,
      systemd: async () => {
        const [{ connectBus }, { systemd }] = await Promise.all([import('../../bus/connection.ts'), import('../../systemd/client.ts')]);
        const connected = await connectBus(context.global.busAddress);
        bus = connected;
        return systemd(connected, { jobTimeoutMs: context.global.timeoutMs });
      },
    };
    try {
      if (options.remove) {
        const report = await removeSetup(options, io);
        if (context.global.json) context.printJson(report);
        return 0;
      }
      const report = await setup(options, io);
      if (context.global.json) context.printJson(report);
      else context.print(`QM is set up${report.qmState ? ` and ${report.qmState}` : ' (not started: --skip-systemctl)'}; rootfs ${report.rootfs === 'built' ? 'built' : report.rootfs === 'cache' ? 'unpacked from the cache' : 'unchanged'}, ${report.changed.length} files changed`);
      return 0;
    } finally {
      bus?.close();
    }
  },
};
export default command;
