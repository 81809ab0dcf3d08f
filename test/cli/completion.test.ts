// The shipped completion scripts (dist/completion, from `npm run build`), driven as the shells drive them: bash's
// completion function with COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set as readline sets them, zsh's with its
// words/CURRENT/PREFIX; node and unit names come from the stand-in on a private dbus-daemon, through the built qmctl.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { standinTarget, type StandinTarget } from '../support/bluechi-target.ts';
import { QMCTL_BIN } from '../support/qmctl.ts';

const BASH_SCRIPT = fileURLToPath(new URL('../../dist/completion/qmctl.bash', import.meta.url));
const ZSH_SCRIPT = fileURLToPath(new URL('../../dist/completion/_qmctl', import.meta.url));
const ESCAPED_UNIT = 'dev-vda\\x2d1.swap';

let target: StandinTarget;
let dir: string;

test.before(async () => {
  target = await standinTarget(['node1', 'node2'], 0, [ESCAPED_UNIT]);
  dir = await mkdtemp(join(tmpdir(), 'qm-completion-'));
  // `qmctl` on PATH, as installed.
  await symlink(QMCTL_BIN, join(dir, 'qmctl'));
  await writeFile(join(dir, 'layout.yaml'), 'nodes: {}\n');
});
test.after.always(async () => {
  await target?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Shell {
  readonly replies: string[];
  readonly stderr: string;
}

// QMCTL_COMPLETION_TIMEOUT: the 3 s a person waits at most is too short for qmctl's start-up on a loaded CI machine.
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Shell & { stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: dir, env: { PATH: `${dir}:${process.env.PATH}`, HOME: dir, QMCTL_COMPLETION_TIMEOUT: '60', ...env } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr, replies: stdout.split('\n').filter(Boolean).sort() });
    });
  });
}

/** COMP_WORDS as readline splits `line`: at blanks, and COMP_WORDBREAKS' `=` and `:` as words of their own. */
function compWords(line: string): string[] {
  const words = line.split(/ +/).flatMap((word) => word.split(/([=:]+)/).filter((part, index, parts) => part !== '' || parts.length === 1));
  return line.endsWith(' ') && words.at(-1) !== '' ? [...words, ''] : words;
}

/** What bash offers on TAB at the end of `line`: the completion function's COMPREPLY, one per line, sorted. */
function bash(line: string, env: NodeJS.ProcessEnv = {}): Promise<Shell> {
  const words = compWords(line);
  const script = `
    source /usr/share/bash-completion/bash_completion
    source "$SCRIPT"
    COMP_LINE=$LINE COMP_POINT=\${#LINE}
    eval "COMP_WORDS=($WORDS)"
    COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
    _qmctl qmctl "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\\n' "\${COMPREPLY[@]}"`;
  return run('bash', ['--norc', '--noprofile', '-c', script], {
    ...env,
    SCRIPT: BASH_SCRIPT,
    LINE: line,
    WORDS: words.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' '),
  });
}

const onBus = () => ({ DBUS_SYSTEM_BUS_ADDRESS: target.address });

test.serial('bash: verbs', async (t) => {
  t.deepEqual((await bash('qmctl st')).replies, ['start', 'status', 'stop']);
  t.deepEqual((await bash('qmctl --json list-')).replies, ['list-nodes', 'list-unit-files', 'list-units']);
});

test("bash: a verb's options and the global ones", async (t) => {
  t.deepEqual((await bash('qmctl start --m')).replies, ['--mode']);
  t.deepEqual((await bash('qmctl status --w')).replies, ['--watch']);
  t.deepEqual((await bash('qmctl --j')).replies, ['--json']);
  const setup = (await bash('qmctl setup --r')).replies;
  t.deepEqual(setup, ['--remove', '--remove-qm-rootfs', '--rootfs', '--rwetcfs', '--rwvarfs']);
});

test.serial('bash: option values from the usage, the help and the known choices', async (t) => {
  t.deepEqual((await bash('qmctl start node1 a.service --mode i')).replies, ['ignore-dependencies', 'ignore-requirements', 'isolate']);
  t.deepEqual((await bash('qmctl kill --kill-whom ')).replies, ['all', 'control', 'main']);
  t.deepEqual((await bash('qmctl --log-level ')).replies, ['debug', 'error', 'info', 'warn']);
  t.deepEqual((await bash('qmctl agent-config render --controller ')).replies, ['auto', 'tcp', 'unix']);
  // An option's value is not taken for the verb or a positional.
  t.deepEqual((await bash('qmctl --log-level debug sh')).replies, ['show']);
});

test.serial('bash: literal arguments and files', async (t) => {
  t.deepEqual((await bash('qmctl show n')).replies, ['namespaces']);
  t.deepEqual((await bash('qmctl agent-config ')).replies, ['apply', 'check', 'render', 'show']);
  t.deepEqual((await bash('qmctl layout check lay')).replies, ['layout.yaml']);
});

test.serial('bash: node names live from BlueChi', async (t) => {
  t.deepEqual((await bash('qmctl start ', onBus())).replies, ['node1', 'node2']);
  t.deepEqual((await bash('qmctl status node', onBus())).replies, ['node1', 'node2']);
  // A comma-separated list of nodes: the last one is completed.
  t.deepEqual((await bash('qmctl restart node1,', onBus())).replies, ['node1,node1', 'node1,node2']);
});

test.serial('bash: unit names of the node named before, live', async (t) => {
  t.deepEqual((await bash('qmctl start node1 qm-', onBus())).replies, ['qm-test.service']);
  t.deepEqual((await bash('qmctl stop node1,node2 ', onBus())).replies, [ESCAPED_UNIT.replace(/\\/g, '\\\\'), 'other.service', 'qm-test.service'].sort());
  t.deepEqual((await bash('qmctl kill node2 o', onBus())).replies, ['other.service']);
});

test.serial('bash: the bus named on the command line is the one asked', async (t) => {
  // bash splits `unix:path=/…` at : and =; the script joins the words again.
  const result = await bash(`qmctl --bus-address ${target.address} is-enabled `, { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
  t.deepEqual(result.replies, ['node1', 'node2']);
});

test.serial('bash: no bus, no names and no noise', async (t) => {
  const result = await bash('qmctl start ', { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
  t.deepEqual(result.replies, []);
  t.is(result.stderr, '');
});

/**
 * What _qmctl asks zsh to offer for `line`: compadd, _describe, _files and compset are replaced by functions that
 * print what they were given, since zsh's own only work inside its completion widget.
 */
function zsh(line: string, env: NodeJS.ProcessEnv = {}): Promise<Shell> {
  const script = `
    fpath=("\${SCRIPT:h}" $fpath)
    autoload -U compinit && compinit -u -d "$HOME/.zcompdump"
    [[ $_comps[qmctl] == _qmctl ]] || { print -u2 "qmctl has no completion"; exit 1 }
    compadd() { while [[ $1 == -* && $1 != -- ]]; do [[ $1 == -[SP] ]] && shift; shift; done; [[ $1 == -- ]] && shift; print -rl -- "$@" }
    _describe() { local -a list; list=(\${(P)4}); print -rl -- \${list%%:*} }
    _files() { print -- "<files $*>" }
    compset() { [[ $PREFIX == *,* ]] && IPREFIX=\${PREFIX%,*}, PREFIX=\${PREFIX##*,} }
    words=(\${(z)LINE})
    [[ $LINE == *' ' ]] && words+=('')
    CURRENT=$#words PREFIX=$words[-1]
    _qmctl
  `;
  // The stubs print every candidate; zsh itself would then keep those that start with what was typed.
  return run('zsh', ['-f', '-c', script], { ...env, SCRIPT: ZSH_SCRIPT, LINE: line });
}

test.serial('zsh: compinit finds the completion and loads it without error', async (t) => {
  const result = await run('zsh', ['-f', '-c', `fpath=("\${SCRIPT:h}" $fpath); autoload -U compinit && compinit -u -d "$HOME/.zcompdump"; print -r -- $_comps[qmctl]`], {
    SCRIPT: ZSH_SCRIPT,
  });
  t.is(result.stdout, '_qmctl\n');
  t.is(result.stderr, '');
});

test.serial('zsh: verbs, options, values and files', async (t) => {
  t.true((await zsh('qmctl ')).replies.includes('list-nodes'));
  t.deepEqual((await zsh('qmctl start --')).replies.filter((option) => option.startsWith('--m')), ['--mode']);
  t.deepEqual((await zsh('qmctl kill --kill-whom ')).replies, ['all', 'control', 'main']);
  t.deepEqual((await zsh('qmctl layout check ')).replies, ['<files >']);
});

test.serial('zsh: node and unit names live from BlueChi', async (t) => {
  t.deepEqual((await zsh('qmctl start ', onBus())).replies, ['node1', 'node2']);
  t.deepEqual((await zsh('qmctl start node1 ', onBus())).replies, [ESCAPED_UNIT, 'other.service', 'qm-test.service'].sort());
  t.deepEqual((await zsh(`qmctl --bus-address ${target.address} get-default `)).replies, ['node1', 'node2']);
  const quiet = await zsh('qmctl start ', { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
  t.deepEqual(quiet.replies, []);
  t.is(quiet.stderr, '');
});
