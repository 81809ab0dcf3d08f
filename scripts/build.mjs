// Bundles qmctl, qm-controller and qm-bluechi-gate into one executable file each (dist/qmctl.cjs, …), so an installed
// system needs only node.
//
// Each executable is a small launcher (controller/bundle/launch.ts) and NAME.parts: the program (whole, and for qmctl
// also in parts that hold a few of its commands each) and each large third-party package (dbus-next, winston, yaml and
// what they pull in) bundled apart, so that a command reads and compiles only what it uses, from a V8 code cache when
// root has made one.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

// The manual pages (dist/man) and shell completion (dist/completion), from the commands' own help and option tables.
// `--docs-only` makes just those (make man). The help is TypeScript, so it is read through tsx, outside the bundles.
const docs = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-docs.ts', 'dist'], { stdio: 'inherit' });
if (docs.error || docs.status !== 0) {
  console.error(`build: generating the manual pages and completion failed${docs.error ? ` (${docs.error.message})` : ''}`);
  process.exit(1);
}
if (process.argv.includes('--docs-only')) process.exit(0);

const lazyPackages = ['dbus-next', 'winston', 'yaml'];
const require = createRequire(import.meta.url);

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  // No keepNames: its __name() calls Object.defineProperty on closures dbus-next makes for every message and variant,
  // and nothing here reads a function's or class's name (error classes set theirs).
  // Licence notices of bundled packages stay in the file that ships them.
  legalComments: 'eof',
  // dbus-next's optional transports for X11 and abstract sockets are never used here.
  external: ['x11', 'usocket'],
  logLevel: 'warning',
};

// dbus-next requires these when it is loaded or a bus is made, yet needs them only for cookie authentication (crypto),
// introspection (xml2js, and with it sax and xmlbuilder) and a check of variants (assert): they are required on first
// use instead, through a stand-in that loads the module (or makes the object) when a member is first used. Each
// replacement is of a line as dbus-next 0.10 has it; the build fails when a line is no longer there. The others, each
// marked, cut dbus-next's work per message.
const dbusNextPatches = {
  // Serving objects (export) and proxies are the daemons' (qm-controller exports org.qm.Controller1); qmctl has no
  // use for a third of dbus-next.
  'dbus-next/index.js': ["const iface = require('./lib/service/interface');"],
  'dbus-next/lib/bus.js': [
    "const handleMethod = require('./service/handlers');",
    "const ServiceObject = require('./service/object');",
    "const ProxyObject = require('./client/proxy-object');",
    "const xml2js = require('xml2js');",
    ['this._builder = new xml2js.Builder({ headless: true });', 'this._builder = __qmOnFirstUse(() => new xml2js.Builder({ headless: true }));'],
    // Not a deferred require: each signal received was keyed with JSON.stringify for dbus-next's proxy objects,
    // which qm never makes.
    ['        const mangled = JSON.stringify({', '        if (this._signals.eventNames().length === 0) return;\n        const mangled = JSON.stringify({'],
  ],
  'dbus-next/lib/client/proxy-object.js': ["const xml2js = require('xml2js');"],
  'dbus-next/lib/handshake.js': ["const crypto = require('crypto');"],
  // Not a deferred require: each connection to a unix:path= address first tried require('usocket'), a package that
  // is not bundled (above), and fell back to net on the failure: 1-2 ms of module resolution and a thrown error on
  // every start-up.
  'dbus-next/lib/connection.js': [
    [
      `            try {
              const usocket = require('usocket');
              const sock = new usocket.USocket({ path: params.path });
              sock.supportsUnixFd = negotiateUnixFd;
              return sock;
            } catch (err) {
              // TODO: maybe emit warning?
              return net.createConnection(params.path);
            }`,
      '            return __qmUnixConnection(params.path);',
    ],
    // Nor this: a unix socket's bytes are read into one buffer kept for the connection (net's onread) and handed
    // to the message reader (message.js, below), not read into a new 64 KiB buffer each time and passed through the
    // stream machinery: a third of what a Node program reading 10 signals every 10 ms spends. Each read is copied out
    // of that buffer (what is parsed from it may be kept, as a byte array's Buffer). Until the message reader takes
    // them, after the handshake, they go into the stream, where the handshake reads its lines.
    ['            return net.createConnection(params.socket);', '            return __qmUnixConnection(params.socket);'],
    [
      'function createConnection (opts) {',
      `function __qmUnixConnection (path) {
  let onChunk;
  const socket = net.createConnection({
    path,
    onread: {
      buffer: Buffer.allocUnsafe(65536),
      callback (size, buffer) {
        const chunk = Buffer.from(buffer.subarray(0, size));
        if (onChunk) onChunk(chunk);
        else socket.push(chunk);
      }
    }
  });
  socket.__qmOnChunks = (handler) => {
    for (let chunk; (chunk = socket.read()) !== null;) handler(chunk);
    onChunk = handler;
  };
  return socket;
}

function createConnection (opts) {`,
    ],
  ],
  // Every message's header is marshalled through these checks: assert itself is required only when one fails.
  'dbus-next/lib/marshall.js': [
    [
      "const assert = require('assert');",
      "const assert = Object.assign((value, message) => value || require('assert')(value, message), { strictEqual: (actual, expected, message) => Object.is(actual, expected) || require('assert').strictEqual(actual, expected, message) });",
    ],
  ],
  // Not a deferred require: dbus-next parses a signature again for every message and variant it marshals or reads
  // (a tenth of qmctl's CPU when starting 100 units). The trees are only read, so a parsed one is kept, for at most
  // 512 signatures: a peer sending ever new ones cannot grow a daemon's memory.
  // Not a deferred require either: each alignment of each field allocated a zeroed buffer and copied it.
  'dbus-next/lib/align.js': [
    ['function align (ps, n) {', 'const zeros = Buffer.alloc(8);\nfunction align (ps, n) {'],
    ['  const padBuff = Buffer.alloc(pad);\n  ps.put(Buffer.from(padBuff));', '  ps.put(zeros.subarray(0, pad));'],
  ],
  // Nor this: every message received is checked name by name (path, interface, member, sender, destination), each by
  // splitting it and testing every element; a name found valid once is known valid, for at most 512 names each.
  'dbus-next/lib/validators.js': [
    [
      'module.exports = {',
      `function rememberValid (isValid) {
  const valid = new Set();
  return (name) => {
    if (valid.has(name)) return true;
    const result = isValid(name);
    if (result && valid.size < 512) valid.add(name);
    return result;
  };
}
isBusNameValid = rememberValid(isBusNameValid);
isObjectPathValid = rememberValid(isObjectPathValid);
isInterfaceNameValid = rememberValid(isInterfaceNameValid);
isMemberNameValid = rememberValid(isMemberNameValid);
module.exports = {`,
    ],
  ],
  // Nor this: each message was read out of the socket's stream in two reads (its 16 fixed bytes, then the rest),
  // each slicing or joining the stream's buffered chunks and each 'readable' event queued a tick. Whole messages are
  // now cut from each chunk as it arrives (a view, not a copy) and parsed as before; only a message split across
  // chunks is joined, once all of it has come. Chunks come from the connection's own reader on a unix socket
  // (connection.js, above), or as 'data' from another stream.
  'dbus-next/lib/message.js': [
    {
      from: '  let state = 0; // 0: header, 1: fields + body',
      to: '// given buffer which contains entire message deserialise it',
      replacement: `  const LE = constants.endianness.le;
  // What is left of the chunks so far (a message's start), and how many bytes the reader waits for.
  let held = [];
  let heldLength = 0;
  let needed = 16;
  const onChunk = function (chunk) {
    const fds = chunk.fds;
    chunk = chunk.data || chunk;
    if (heldLength + chunk.length < needed) {
      held.push(chunk);
      heldLength += chunk.length;
      return;
    }
    const buffer = heldLength === 0 ? chunk : Buffer.concat([...held, chunk]);
    held = [];
    heldLength = 0;
    let offset = 0;
    try {
      // needed is 16 here: at the start of each message.
      while (buffer.length - offset >= 16) {
        const endian = buffer[offset];
        const le = endian === LE;
        const fieldsLength = le ? buffer.readUInt32LE(offset + 12) : buffer.readUInt32BE(offset + 12);
        const bodyLength = le ? buffer.readUInt32LE(offset + 4) : buffer.readUInt32BE(offset + 4);
        needed = 16 + (((fieldsLength + 7) >> 3) << 3) + bodyLength;
        if (buffer.length - offset < needed) break;
        const fieldsAndBody = buffer.subarray(offset + 16, offset + needed);
        const messageBuffer = new DBusBuffer(fieldsAndBody, 0, endian, fds, opts);
        let message = readHeaderFields(fieldsAndBody, fieldsLength, le);
        if (message === undefined) {
          message = {};
          const unmarshalledHeader = messageBuffer.readArray(headerSignature[0].child[0], fieldsLength);
          for (let i = 0; i < unmarshalledHeader.length; ++i) {
            message[constants.headerTypeName[unmarshalledHeader[i][0]]] = unmarshalledHeader[i][1][1][0];
          }
        } else {
          messageBuffer.pos = fieldsLength;
        }
        messageBuffer.align(3);
        message.serial = le ? buffer.readUInt32LE(offset + 8) : buffer.readUInt32BE(offset + 8);
        message.type = buffer[offset + 1];
        message.flags = buffer[offset + 2];
        if (bodyLength > 0 && message.signature) {
          message.body = messageBuffer.read(message.signature);
        }
        offset += needed;
        needed = 16;
        onMessage(message);
      }
    } finally {
      if (offset < buffer.length) {
        held.push(buffer.subarray(offset));
        heldLength = buffer.length - offset;
      }
    }
  };
  if (stream.__qmOnChunks) stream.__qmOnChunks(onChunk);
  else stream.on('data', onChunk);
};

// The header's fields as dbus-next reads them (field name to value), for a header whose fields all have a string,
// object path, signature or uint32 value (every header the specification defines); undefined for any other, which is
// then read the general way. Each field is a struct (code, variant) at an 8-byte boundary of the header, which
// starts at byte 16 of the message.
function readHeaderFields (bytes, length, le) {
  // One shape for every message: the fields a header lacks are undefined, as dbus-next's reader leaves them.
  const fields = { path: undefined, interface: undefined, member: undefined, errorName: undefined, replySerial: undefined, destination: undefined, sender: undefined, signature: undefined, unixFd: undefined, serial: 0, type: 0, flags: 0, body: undefined };
  let pos = 0;
  while (pos < length) {
    pos = (pos + 7) & ~7;
    if (pos + 4 > length || bytes[pos + 1] !== 1 || bytes[pos + 3] !== 0) return undefined;
    const code = bytes[pos];
    const type = bytes[pos + 2];
    pos += 4;
    let value;
    if (type === 0x73 || type === 0x6f) { // s, o
      pos = (pos + 3) & ~3;
      const size = le ? bytes.readUInt32LE(pos) : bytes.readUInt32BE(pos);
      value = bytes.toString('utf8', pos + 4, pos + 4 + size);
      pos += size + 5;
    } else if (type === 0x67) { // g
      const size = bytes[pos];
      value = bytes.toString('utf8', pos + 1, pos + 1 + size);
      pos += size + 2;
    } else if (type === 0x75) { // u
      pos = (pos + 3) & ~3;
      value = le ? bytes.readUInt32LE(pos) : bytes.readUInt32BE(pos);
      pos += 4;
    } else {
      return undefined;
    }
    switch (code) {
      case 1: fields.path = value; break;
      case 2: fields.interface = value; break;
      case 3: fields.member = value; break;
      case 4: fields.errorName = value; break;
      case 5: fields.replySerial = value; break;
      case 6: fields.destination = value; break;
      case 7: fields.sender = value; break;
      case 8: fields.signature = value; break;
      case 9: fields.unixFd = value; break;
      // Fields the specification may add later are skipped, as it asks.
    }
  }
  return pos === length ? fields : undefined;
}

`,
    },
  ],
  // Nor this: each value of a message received was wrapped in two arrays to be converted, even a string or number,
  // which come out as they went in.
  'dbus-next/lib/marshall-compat.js': [
    [
      '    bodyJs.push(marshallVariantToJs([[tree], [body[i]]]));',
      "    bodyJs.push(tree.child.length === 0 && tree.type !== 'v' && !Array.isArray(body[i]) ? body[i] : marshallVariantToJs([[tree], [body[i]]]));",
    ],
  ],
  'dbus-next/lib/signature.js': [
    [
      '  parseSignature: parseSignature,',
      `  parseSignature: (() => {
    const trees = new Map();
    return (signature) => {
      let tree = trees.get(signature);
      if (tree === undefined) {
        tree = parseSignature(signature);
        if (trees.size < 512) trees.set(signature, tree);
      }
      return tree;
    };
  })(),`,
    ],
  ],
};
const onFirstUse = `
function __qmOnFirstUse(load) {
  let loaded;
  const value = () => (loaded ??= load());
  return new Proxy(function () {}, {
    get: (_, key) => value()[key],
    set: (_, key, member) => Reflect.set(value(), key, member),
    apply: (_, self, args) => Reflect.apply(value(), self, args),
    construct: (_, args) => Reflect.construct(value(), args),
  });
}`;
const requiredOnFirstUse = {
  name: 'required-on-first-use',
  setup(plugin) {
    plugin.onLoad({ filter: /[\\/]node_modules[\\/]dbus-next[\\/].*\.js$/ }, async ({ path }) => {
      const file = path.slice(path.lastIndexOf('node_modules') + 'node_modules/'.length).replaceAll('\\', '/');
      const replacements = dbusNextPatches[file];
      if (!replacements) return undefined;
      let contents = await readFile(path, 'utf8');
      for (const replacement of replacements) {
        if (!Array.isArray(replacement) && typeof replacement === 'object') {
          const { from, to } = replacement;
          const start = contents.indexOf(from);
          const end = contents.indexOf(to, start);
          if (start < 0 || end < 0) throw new Error(`build: ${file} no longer has the lines from ${from} to ${to} (dbusNextPatches)`);
          contents = contents.slice(0, start) + replacement.replacement + contents.slice(end);
          continue;
        }
        const [line, deferred] = Array.isArray(replacement)
          ? replacement
          : [replacement, replacement.replace(/= (require\('[^']+'\));$/, '= __qmOnFirstUse(() => $1);')];
        if (!contents.includes(line)) throw new Error(`build: ${file} no longer has the line ${line} (dbusNextPatches)`);
        contents = contents.replace(line, deferred);
      }
      return { contents: contents + onFirstUse, loader: 'js' };
    });
  },
};

// 1. The lazily compiled dependencies: one CommonJS bundle per package, so a command compiles only the packages it
// imports (the bus verbs need dbus-next, not winston or yaml).
const packageParts = {};
// Packages that another package requires, on first use, from a part of their own: dbus-next's introspection (xml2js,
// sax and xmlbuilder, half of its bytes) is the daemons' only, never a qmctl command's.
const packageDependencies = { 'dbus-next': ['xml2js'] };
for (const name of [...lazyPackages, ...Object.values(packageDependencies).flat()]) {
  const bundled = await build({
    ...common,
    external: [...common.external, ...(packageDependencies[name] ?? [])],
    plugins: [requiredOnFirstUse],
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: process.cwd(), loader: 'js' },
    format: 'cjs',
    write: false,
  });
  packageParts[name] = `(function (module, exports, require) {${bundled.outputFiles[0].text}\n})`;
}

// 2. The executables; imports of the lazy packages resolve to stubs that load them on first use, through the
// launcher's loader (the program's parameter __qmLoad). `used` collects the packages a program imports.
const lazyDependencies = (used) => ({
  name: 'lazy-dependencies',
  setup(plugin) {
    const filter = new RegExp(`^(${lazyPackages.map((name) => name.replace(/[.-]/g, '\\$&')).join('|')})$`);
    plugin.onResolve({ filter }, ({ path }) => ({ path, namespace: 'lazy-dependency' }));
    plugin.onLoad({ filter: /.*/, namespace: 'lazy-dependency' }, ({ path }) => {
      used.add(path);
      const names = Object.keys(require(path)).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default');
      return {
        loader: 'js',
        resolveDir: process.cwd(),
        // `export { x as interface }`: export names may be reserved words, bindings may not.
        contents: `const module = __qmLoad(${JSON.stringify(path)});
export default module;
${names.map((name, index) => `const e${index} = module[${JSON.stringify(name)}];`).join('\n')}
export { ${names.map((name, index) => `e${index} as ${name}`).join(', ')} };`,
      };
    });
  },
});

// qmctl's commands, each with a code cache of its own (controller/bundle/launch.ts).
const listed = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "import { commandNames } from './controller/cli/registry.ts'; console.log(JSON.stringify(commandNames));"], { encoding: 'utf8' });
if (listed.status !== 0) throw new Error(`build: listing qmctl's commands failed: ${listed.stderr}`);
const qmctlCommands = JSON.parse(listed.stdout);

// qmctl's program is also built in parts that each hold a few of its commands, the ones that share most of their
// code; the launcher compiles the part that holds the command run (a third of the program's bytes for a bus verb,
// 6-7 ms less start-up on these machines) and the whole program only for help. A command in no family here has a
// part of its own. The cost is disk: the code the parts share is in each of them.
const commandFamilies = {
  bus: [
    'list-nodes', 'list-units', 'list-unit-files', 'start', 'stop', 'restart', 'reload', 'freeze', 'thaw', 'kill', 'enable',
    'disable', 'is-enabled', 'daemon-reload', 'reset-failed', 'status', 'monitor', 'metrics', 'is-online', 'get-default',
    'set-default', 'set-loglevel',
  ],
  layout: ['plan', 'apply', 'layout', 'controller-status', 'controller-reload'],
  partition: ['setup', 'show', 'exec', 'execin', 'cp', 'check', 'wait'],
};
for (const command of Object.values(commandFamilies).flat()) {
  if (!qmctlCommands.includes(command)) throw new Error(`build: commandFamilies names ${command}, which is not a qmctl command`);
}
/** Each command's part of the program: `commands:FAMILY`, or `commands:COMMAND` for one in no family. */
const commandParts = Object.fromEntries(
  qmctlCommands.map((command) => [command, `commands:${Object.keys(commandFamilies).find((family) => commandFamilies[family].includes(command)) ?? command}`]),
);

// A part's program: controller/cli/registry.ts loads only the part's commands; asked for another (which the
// launcher's choice of part rules out) it says so.
const onlyCommands = (part, commands) => ({
  name: 'only-commands',
  setup(plugin) {
    plugin.onLoad({ filter: /[\\/]controller[\\/]cli[\\/]registry\.ts$/ }, async ({ path }) => {
      let seen = 0;
      const contents = (await readFile(path, 'utf8')).replace(/^( +'?([a-z-]+)'?: )\(\) => import\('\.\/commands\/[a-z-]+\.ts'\)(,?)$/gm, (line, key, name, comma) => {
        seen++;
        return commands.includes(name) ? line : `${key}() => Promise.reject(new Error(${JSON.stringify(`qmctl: ${part} does not hold the command ${name}`)}))${comma}`;
      });
      if (seen !== qmctlCommands.length) throw new Error(`build: ${path} has ${seen} command loaders as the build reads them, not ${qmctlCommands.length}`);
      return { contents, loader: 'ts' };
    });
  },
});

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

// qm-controller and qm-bluechi-gate are files of their own rather than qmctl subcommands: the daemons' code stays
// out of the file every qmctl start-up compiles, and systemd's ExecStart names what it runs.
// Each is CommonJS (.cjs), which Node loads faster than an ES module, also as /usr/bin/qmctl with no extension.
for (const [entry, program, commands] of [
  ['controller/cli/qmctl.ts', 'qmctl', commandParts],
  ['controller/daemon/qm-controller.ts', 'qm-controller', {}],
  ['controller/bluechi-gate/qm-bluechi-gate.ts', 'qm-bluechi-gate', {}],
]) {
  // 3. The program, as one function expression the launcher compiles; the whole of it, and each part of its commands.
  const used = new Set();
  const programOf = async (plugins = []) => {
    const bundled = await build({
      ...common,
      entryPoints: [entry],
      format: 'cjs',
      write: false,
      // rxjs' ES module build, so it is tree-shaken to the operators used (its exports map sends node to CommonJS).
      alias: { rxjs: './node_modules/rxjs/dist/esm/index.js' },
      define: { 'import.meta.url': '__qmUrl' },
      plugins: [lazyDependencies(used), ...plugins],
    });
    return `(function (exports, require, module, __filename, __dirname, __qmUrl, __qmLoad) {${bundled.outputFiles[0].text}\n})`;
  };
  const parts = { program: await programOf() };
  for (const part of new Set(Object.values(commands))) {
    const held = Object.keys(commands).filter((command) => commands[command] === part);
    parts[part] = await programOf([onlyCommands(part, held)]);
  }
  for (const name of [...used]) for (const dependency of packageDependencies[name] ?? []) used.add(dependency);
  Object.assign(parts, Object.fromEntries([...used].sort().map((name) => [name, packageParts[name]])));
  // 4. The executable, the launcher (controller/bundle/launch.ts), and NAME.parts, a header naming the build and
  // the parts one after another. Parts are ASCII (esbuild's default charset), read back as latin1.
  let offset = 0;
  const placed = {};
  for (const [name, text] of Object.entries(parts)) {
    if (!/^[\x00-\x7f]*$/.test(text)) throw new Error(`build: part ${name} of ${program} is not ASCII`);
    placed[name] = { start: offset, end: offset + text.length, sha256: sha256(text) };
    offset += text.length;
  }
  const header = `qm-parts ${sha256(JSON.stringify(placed))}\n`;
  for (const place of Object.values(placed)) Object.assign(place, { start: place.start + header.length, end: place.end + header.length });
  await writeFile(`dist/${program}.parts`, header + Object.values(parts).join(''), 'latin1');
  const outfile = `dist/${program}.cjs`;
  await build({
    ...common,
    entryPoints: ['controller/bundle/launch.ts'],
    outfile,
    format: 'cjs',
    define: {
      QM_PROGRAM: JSON.stringify(program),
      QM_COMMAND_PARTS: JSON.stringify(commands),
      QM_PARTS: JSON.stringify(placed),
      QM_PARTS_HEADER: JSON.stringify(header),
    },
    banner: { js: '#!/usr/bin/env node' },
  });
  await chmod(outfile, 0o755);
}

// qm-probe: the static C program `qmctl check` copies into QM and runs there and in a nested container whose root
// holds nothing else (check/qm-probe.c). Its compile line is the Makefile's (dist/qm-probe), which packages build too.
const probe = spawnSync('make', ['--no-print-directory', '-s', 'dist/qm-probe'], { stdio: 'inherit' });
if (probe.error || probe.status !== 0) {
  console.error(`build: compiling check/qm-probe.c failed${probe.error ? ` (${probe.error.message})` : ''}; make, gcc and libc6-dev are needed: bash scripts/install-deps.sh`);
  process.exit(1);
}
