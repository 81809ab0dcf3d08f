// qm-controller's D-Bus API as both sides see it: org.qm.Controller1 at /org/qm/Controller1 on the system bus, in
// BlueChi's style — properties with PropertiesChanged, Apply returning a job object whose end is JobRemoved.
// Declared once here (members, signatures, argument names); the service, the client and the committed
// introspection XML (org.qm.Controller1.xml) are checked against it. Kept free of dbus-next: type imports only.
import type { ErrorOrigin } from '../errors.ts';

export const DAEMON_NAME = 'org.qm.Controller1';
export const DAEMON_PATH = '/org/qm/Controller1';
export const DAEMON_IFACE = 'org.qm.Controller1';
export const JOB_IFACE = 'org.qm.Controller1.Job';
/** Job objects: /org/qm/Controller1/job/<id>, as BlueChi's /org/eclipse/bluechi/job/<id>. */
export const JOB_PATH_PREFIX = `${DAEMON_PATH}/job/`;

/** Error names the daemon replies with. */
export const DAEMON_ERRORS = {
  failed: 'org.qm.Controller1.Error.Failed',
  /** BlueChi's controller is not on the bus: nothing can be observed or planned. */
  unreachable: 'org.qm.Controller1.Error.Unreachable',
  /** The layout names nodes BlueChi does not know: nothing is planned. */
  refused: 'org.qm.Controller1.Error.Refused',
  invalidArgs: 'org.freedesktop.DBus.Error.InvalidArgs',
} as const;

// Wire types, each spelled once.
/** An error: code, message, origin (file s, line u, column u, field s, node s, unit s, address s, dbusName s). */
export const ERROR_T = '(ssa{sv})';
/** A step of an apply: id, action, node, unit ('' for daemon-reload), result, job ('' none), blockedBy ('' none), attempts, startedMs and endedMs (-1: never ran), error (none or one). */
export const STEP_T = `(sssssssuxxa${ERROR_T})`;
/** One apply: trigger, outcome, startedAt and endedAt (µs since the epoch; 0 before the first apply), steps, waiting (key, node, reason), offline nodes, unconverged (node, unit, desired, observed), errors. */
export const SUMMARY_T = `(sstta${STEP_T}a(sss)asa(ssss)a${ERROR_T})`;
/** A reload: reloaded, at (µs since the epoch; 0 before the first), the layout's files, errors. */
export const RELOAD_T = `(btasa${ERROR_T})`;
/** A planned step: id, action, node, unit, change, after, afterEnded, scopes, error (none or one: refused). */
export const PLAN_STEP_T = `(sssssasasasa${ERROR_T})`;

export interface MemberArg {
  readonly name: string;
  readonly type: string;
}

/** An interface as introspection shows it: every argument named. */
export interface ServedInterface {
  readonly name: string;
  readonly methods: Readonly<Record<string, { readonly in: readonly MemberArg[]; readonly out: readonly MemberArg[] }>>;
  readonly signals: Readonly<Record<string, readonly MemberArg[]>>;
  /** Read-only properties: name → type; each emits PropertiesChanged when it changes. */
  readonly properties: Readonly<Record<string, string>>;
}

const arg = (name: string, type: string): MemberArg => ({ name, type });

export const Controller1 = {
  name: DAEMON_IFACE,
  methods: {
    /** Runs (or joins) the one apply; options: WaitOfflineUSec t, JobTimeoutUSec t. Returns the job at once; JobRemoved carries its outcome. */
    Apply: { in: [arg('options', 'a{sv}')], out: [arg('job', 'o')] },
    /** What an apply would do now (held units left out), from a fresh look at the vehicle. Read-only. */
    Plan: { in: [], out: [arg('steps', `a${PLAN_STEP_T}`), arg('waiting', 'a(sss)'), arg('offline', 'as')] },
    /** Reads the layout again; applies nothing. An invalid one is reported and the old one kept. */
    Reload: { in: [], out: [arg('reloaded', 'b'), arg('at', 't'), arg('files', 'as'), arg('errors', `a${ERROR_T}`)] },
  },
  signals: {
    JobNew: [arg('id', 'u'), arg('job', 'o')],
    /** result: done (applied, every step done, every unit as the layout wants), failed (anything else), canceled (qm-controller stopped first). */
    JobRemoved: [arg('id', 'u'), arg('job', 'o'), arg('result', 's'), arg('summary', SUMMARY_T)],
  },
  properties: {
    /** converged (BlueChi up, every unit as the layout wants), diverged, down (BlueChi's controller is not on the bus). */
    Status: 's',
    /** up or down: whether BlueChi's controller is on the bus. */
    BlueChi: 's',
    LayoutFiles: 'as',
    /** The layout's nodes: name, online. */
    Nodes: 'a(sb)',
    /** The layout's units: node, unit, desired, observed (ActiveState; unknown while its node is offline or not read), converged. */
    Units: 'a(ssssb)',
    /** Restart budgets: node, unit, repairs done, left, budget, exhausted, last delay in ms (-1: none scheduled yet). */
    Repairs: 'a(ssuuubx)',
    /** Applies run since start. */
    Applies: 'u',
    /** The last apply (outcome `none` before the first). */
    LastApply: SUMMARY_T,
    LastReload: RELOAD_T,
  },
} as const satisfies ServedInterface;

export const Controller1Job = {
  name: JOB_IFACE,
  methods: {},
  signals: {},
  properties: {
    Id: 'u',
    /** apply */
    JobType: 's',
    /** waiting (for the apply going on to end), running */
    State: 's',
  },
} as const satisfies ServedInterface;

export type ControllerProperty = keyof typeof Controller1.properties;

/** A QmError as JSON: code, message and where (file/line/column/field or node/unit). */
export type ErrorJson = { readonly code: string; readonly message: string } & ErrorOrigin;

export interface StepSummary {
  readonly id: string;
  readonly action: string;
  readonly node: string;
  readonly unit?: string;
  readonly result: string;
  /** BlueChi's job object, for start and stop. */
  readonly job?: string;
  readonly error?: ErrorJson;
  readonly blockedBy?: string;
  readonly attempts: number;
  /** Milliseconds since the steps began; absent for a step that never ran. */
  readonly startedMs?: number;
  readonly endedMs?: number;
}

/** A unit the nodes report not as the layout wants once an apply's steps ended: `running`/`failed`, `enabled`/`disabled`. */
export interface UnconvergedJson {
  readonly node: string;
  readonly unit: string;
  readonly desired: string;
  readonly observed: string;
}

export type ApplyOutcome = 'applied' | 'refused' | 'unreachable' | 'failed';

/**
 * One apply, by qm-controller or by qmctl directly: the same summary either way. `outcome`: applied (ran its plan;
 * see steps), refused (layout nodes unknown), unreachable (BlueChi not on the bus), failed (the apply itself failed).
 */
export interface ApplySummary {
  readonly trigger: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly outcome: ApplyOutcome;
  readonly steps: readonly StepSummary[];
  readonly waiting: ReadonlyArray<{ readonly key: string; readonly node: string; readonly reason: string }>;
  readonly offline: readonly string[];
  /** Once its steps ended, the units not as the layout wants (those waiting left out). */
  readonly unconverged: readonly UnconvergedJson[];
  readonly errors: readonly ErrorJson[];
}

/** What Apply takes: how long a step waits for its node when it goes offline mid-apply, and for each job. */
export interface ApplyRequest {
  readonly offlineWaitMs?: number;
  readonly jobTimeoutMs?: number;
}

export interface ReloadOutcome {
  readonly reloaded: boolean;
  readonly at: string;
  /** The layout's files: the new one's when reloaded, else the ones still in force. */
  readonly files: readonly string[];
  readonly errors: readonly ErrorJson[];
}

export interface UnitStatus {
  readonly node: string;
  readonly unit: string;
  readonly desired: string;
  /** systemd's ActiveState, or `unknown` while its node is offline or BlueChi is away. */
  readonly observed: string;
  readonly converged: boolean;
  readonly repairs: { readonly done: number; readonly left: number; readonly budget: number; readonly exhausted: boolean; readonly lastDelayMs?: number };
}

export type ControllerState = 'converged' | 'diverged' | 'down';

/** The daemon's view, as its properties carry it (and `qmctl controller-status --json` prints it). */
export interface DaemonStatus {
  readonly status: ControllerState;
  readonly layout: { readonly files: readonly string[]; readonly units: number };
  /** up: BlueChi's controller is on the bus; down: it is not (or qm-controller's own connection is gone). */
  readonly bluechi: 'up' | 'down';
  readonly converged: boolean;
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly online: boolean }>;
  readonly units: readonly UnitStatus[];
  readonly applies: number;
  readonly lastApply?: ApplySummary;
  readonly lastReload?: ReloadOutcome;
}

/** What the exit of `qmctl apply` is for a summary, whichever path ran it (the README's exit codes). */
export function applyExitCode(summary: ApplySummary): number {
  if (summary.outcome === 'unreachable') return 3;
  if (summary.outcome === 'refused') return 4;
  if (summary.outcome === 'failed' || summary.steps.some((step) => step.result !== 'done') || summary.unconverged.length > 0) return 1;
  return summary.waiting.length > 0 ? 4 : 0;
}

/** JobRemoved's result for a summary: done only when the apply left the vehicle as the layout wants. */
export const jobResultOf = (summary: ApplySummary): 'done' | 'failed' => (applyExitCode(summary) === 0 ? 'done' : 'failed');
