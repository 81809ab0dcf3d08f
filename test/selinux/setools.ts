// A binary SELinux policy as setools prints it (sesearch, seinfo, sedta), read once into memory so the tests can
// ask many questions of it; matching follows sesearch's own: a rule naming an attribute applies to its members.
import { runChecked } from '../support/command.ts';

export interface Rule {
  readonly kind: string;
  readonly source: string;
  /** `self` as printed: the source type itself. */
  readonly target: string;
  readonly cls: string;
  readonly perms: readonly string[];
  /** type_transition and friends: the type the rule gives. */
  readonly result?: string;
  /** `[ bool ]:True` on conditional rules. */
  readonly condition?: string;
  readonly line: string;
}

const avRule = /^(allow|auditallow|dontaudit) (\S+) (\S+):(\S+) (?:\{ ([^}]*) \}|(\S+));(?: \[ (.*) \]:\S+)?$/;
const typeRule = /^(type_transition|type_change|type_member) (\S+) (\S+):(\S+) (\S+)(?: \S+)?;(?: \[ (.*) \]:\S+)?$/;

/** Parses sesearch's output, one rule a line; throws on a line it does not understand, so nothing is skipped. */
export function parseRules(text: string): Rule[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const av = avRule.exec(line);
      if (av) {
        const [, kind, source, target, cls, set, single, condition] = av;
        const perms = (set ?? single ?? '').trim().split(/\s+/);
        return { kind: kind!, source: source!, target: target!, cls: cls!, perms, condition, line };
      }
      const tt = typeRule.exec(line);
      if (tt) {
        const [, kind, source, target, cls, result, condition] = tt;
        return { kind: kind!, source: source!, target: target!, cls: cls!, perms: [], result, condition, line };
      }
      throw new Error(`sesearch printed a rule this parser does not know: ${line}`);
    });
}

/** Parses `seinfo -a -x` and `seinfo -r -x`: each attribute or role with the types it holds. */
export function parseMembers(text: string): Map<string, Set<string>> {
  const members = new Map<string, Set<string>>();
  let current: Set<string> | undefined;
  for (const line of text.split('\n')) {
    const attribute = /^ {3}attribute (\S+);$/.exec(line);
    const role = /^ {3}role (\S+)(?: types (?:\{ ([^}]*) \}|(\S+)))?;$/.exec(line);
    const member = /^\t(\S+)$/.exec(line);
    if (attribute) members.set(attribute[1]!, (current = new Set()));
    else if (role) {
      members.set(role[1]!, new Set((role[2] ?? role[3] ?? '').split(/\s+/).filter(Boolean)));
      current = undefined;
    } else if (member && current) current.add(member[1]!);
  }
  return members;
}

export interface Policy {
  readonly file: string;
  readonly rules: readonly Rule[];
  readonly typeRules: readonly Rule[];
  readonly attributes: ReadonlyMap<string, ReadonlySet<string>>;
  readonly roles: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Reads every AV and type rule, every attribute's and role's types, of the binary policy `file`. */
export async function readPolicy(file: string): Promise<Policy> {
  const [allow, types, attributes, roles] = await Promise.all([
    runChecked(['sesearch', file, '--allow', '--auditallow', '--dontaudit']),
    runChecked(['sesearch', file, '--type_trans', '--type_change', '--type_member']),
    runChecked(['seinfo', file, '-a', '-x']),
    runChecked(['seinfo', file, '-r', '-x']),
  ]);
  return {
    file,
    rules: parseRules(allow.stdout),
    typeRules: parseRules(types.stdout),
    attributes: parseMembers(attributes.stdout),
    roles: parseMembers(roles.stdout),
  };
}

/** The types a rule's name stands for: an attribute's members, or the type itself. */
export function typesOf(policy: Policy, name: string): ReadonlySet<string> {
  return policy.attributes.get(name) ?? new Set([name]);
}

/** Does the rule's source (or target) name cover `type`, as sesearch -s (-t) matches? */
export function covers(policy: Policy, name: string, type: string): boolean {
  return name === type || (policy.attributes.get(name)?.has(type) ?? false);
}

export interface Query {
  readonly source?: string;
  readonly target?: string;
  readonly classes?: readonly string[];
  /** Any of these permissions (sesearch -p). */
  readonly perms?: readonly string[];
  /** Default: allow. */
  readonly kind?: string;
}

/** The rules `sesearch -A -s SOURCE -t TARGET -c CLASSES -p PERMS` would print; a `self` rule covers its own source. */
export function search(policy: Policy, query: Query): Rule[] {
  const kind = query.kind ?? 'allow';
  const rules = query.source === undefined ? policy.rules : rulesFrom(policy, query.source);
  return rules.filter(
    (rule) =>
      rule.kind === kind &&
      (query.target === undefined ||
        covers(policy, rule.target, query.target) ||
        (rule.target === 'self' && query.source !== undefined && query.source === query.target)) &&
      (query.classes === undefined || query.classes.includes(rule.cls)) &&
      (query.perms === undefined || rule.perms.some((perm) => query.perms!.includes(perm))),
  );
}

const bySource = new WeakMap<Policy, Map<string, Rule[]>>();

/** The rules whose source covers `source`, kept per policy: the tests ask about a few sources many times. */
function rulesFrom(policy: Policy, source: string): Rule[] {
  let index = bySource.get(policy);
  if (index === undefined) bySource.set(policy, (index = new Map()));
  let rules = index.get(source);
  if (rules === undefined) index.set(source, (rules = policy.rules.filter((rule) => covers(policy, rule.source, source))));
  return rules;
}

/** The permissions `source` holds on `target` in `cls` (conditional rules counted whatever their boolean). */
export function permsOf(policy: Policy, source: string, target: string, cls: string): Set<string> {
  return new Set(search(policy, { source, target, classes: [cls] }).flatMap((rule) => rule.perms));
}

/** Every type a rule of `source` reaches in `classes` with any of `perms`: attributes expanded, self resolved. */
export function targetsOf(policy: Policy, source: string, classes: readonly string[], perms: readonly string[]): Set<string> {
  const targets = new Set<string>();
  for (const rule of search(policy, { source, classes, perms })) {
    if (rule.target === 'self') targets.add(source);
    else for (const type of typesOf(policy, rule.target)) targets.add(type);
  }
  return targets;
}

/** The domains sedta finds `source` can enter in one step (entrypoint, execute and transition all allowed). */
export async function transitionsFrom(file: string, source: string): Promise<string[]> {
  const result = await runChecked(['sedta', '-p', file, '-s', source]);
  return [...result.stdout.matchAll(/^Transition \d+: (\S+) -> (\S+)$/gm)].map((match) => match[2]!);
}
