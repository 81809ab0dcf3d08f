// Labelling QM's files for SELinux (qm_file_t, from the qm policy module's file contexts), as `qmctl setup` does
// where SELinux is enabled. Pure: the plan is a list of commands; setup runs them. Where SELinux is not enabled
// nothing is labelled, and setup says so: QM's isolation then rests on capabilities, seccomp, namespaces and
// read-only mounts alone (README, docs/selinux.md).
import { stat } from 'node:fs/promises';
import { defaultPaths, type SetupOptions } from './setup-options.ts';

/** SELinux is enabled on this host: selinuxfs is mounted and has its enforce file. */
export const selinuxEnabled = async (): Promise<boolean> => (await stat('/sys/fs/selinux/enforce').catch(() => undefined)) !== undefined;

/** The name of the policy module the qm-selinux package installs (selinux/qm.te). */
export const policyModule = 'qm';

/** A tree outside the module's own paths, given their file contexts by an equivalence rule (semanage fcontext -e). */
export interface Equivalence {
  readonly path: string;
  readonly like: string;
}

export interface LabelPlan {
  /** Equivalence rules to add first, for trees setup was told to put elsewhere. */
  readonly equivalences: readonly Equivalence[];
  readonly commands: ReadonlyArray<readonly string[]>;
}

/** restorecon over QM's three trees, after equivalence rules for any that is not at the policy's own path. */
export function labelPlan(options: Pick<SetupOptions, 'rootfs' | 'rwetcfs' | 'rwvarfs'>): LabelPlan {
  const trees = (['rootfs', 'rwetcfs', 'rwvarfs'] as const).map((key) => ({ path: options[key], like: defaultPaths[key] }));
  const equivalences = trees.filter((tree) => tree.path !== tree.like);
  return {
    equivalences,
    commands: [
      ...equivalences.map((tree) => ['semanage', 'fcontext', '--add', '--equal', tree.like, tree.path]),
      ['restorecon', '-R', '-F', ...trees.map((tree) => tree.path)],
    ],
  };
}

/** What setup --remove runs to take its equivalence rules away again. */
export const unlabelCommands = (equivalences: readonly Equivalence[]): string[][] =>
  equivalences.map((tree) => ['semanage', 'fcontext', '--delete', '--equal', tree.like, tree.path]);

/** `semodule -l` lists the module (one name per line, maybe with a version after it). */
export const moduleLoaded = (semoduleList: string): boolean => semoduleList.split('\n').some((line) => line.trim().split(/\s+/)[0] === policyModule);

export const skippedMessage =
  "SELinux is not enabled on this host: QM's files are not labelled (qm_file_t); its isolation rests on capabilities, seccomp, namespaces and read-only mounts";
