// Debian packages the test fixtures need on the host, installed on first use: CI starts on a fresh machine.
import { runChecked, runCommand } from './command.ts';
import { withFileLock } from './file-lock.ts';

const aptLock = '/var/lock/qm-test-apt.lock';

/** Host packages behind the vehicle-node fixture (mmdebstrap, systemd-nspawn, nsenter/unshare/flock, zstd). */
export const vehicleNodeHostPackages: readonly string[] = ['mmdebstrap', 'systemd-container', 'util-linux', 'zstd'];

/** The subset of `packages` that dpkg does not report as installed. */
export async function missingHostPackages(packages: readonly string[]): Promise<string[]> {
  const result = await runCommand(['dpkg-query', '--show', '--showformat=${Package} ${db:Status-Abbrev}\n', ...packages]);
  const installed = new Set(
    result.stdout
      .split('\n')
      .map((line) => line.split(' '))
      .filter(([, status]) => status === 'ii')
      .map(([name]) => name),
  );
  return packages.filter((name) => !installed.has(name));
}

/** Installs whichever of `packages` are missing (apt-get update first); does nothing when all are there. */
export async function ensureHostPackages(packages: readonly string[]): Promise<void> {
  if ((await missingHostPackages(packages)).length === 0) return;
  await withFileLock(aptLock, async () => {
    const missing = await missingHostPackages(packages);
    if (missing.length === 0) return;
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const wait = ['-o', 'DPkg::Lock::Timeout=300'];
    await runChecked(['apt-get', ...wait, 'update'], { env });
    await runChecked(['apt-get', ...wait, 'install', '-y', '--no-install-recommends', ...missing], { env });
  });
}
