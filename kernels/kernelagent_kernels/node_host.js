'use strict';
// The Node side of the JavaScript kernel: evaluates cells sent by javascript.py (kernelagent_kernels).
//
// Cells run in this process's own V8 context (vm.Script#runInThisContext), which persists for
// the life of the process. A separate vm context would persist too, but objects made there fail
// `instanceof Array` checks in modules loaded by `require` (another realm), so we stay in one.
//
// Protocol: commands arrive as JSON lines on COMMAND_FD; events leave as JSON lines on
// EVENT_FD, written synchronously so output made just before a busy loop still gets out.
//   in : {id, code, count, silent}
//   out: {t:'ready'} {t:'stream', name, text} {t:'display', data, metadata}
//        {t:'result', data} {t:'done', id, ok, ename?, evalue?, traceback?}

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const util = require('node:util');
const vm = require('node:vm');
const { createRequire } = require('node:module');

const EVENT_FD = Number(process.argv[2]);
const COMMAND_FD = Number(process.argv[3]);
// Kept privately: user code may replace any global.
const stringify = JSON.stringify;
const inspect = util.inspect;

function emit(event) {
  const buf = Buffer.from(stringify(event) + '\n');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(EVENT_FD, buf, off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
    }
  }
}

// console.log/error and direct process.stdout/stderr writes become stream events, in order.
function captureStream(stream, name) {
  stream.write = function write(chunk, encoding, callback) {
    if (typeof encoding === 'function') [callback, encoding] = [encoding, undefined];
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(encoding || 'utf8');
    emit({ t: 'stream', name, text });
    if (typeof callback === 'function') process.nextTick(callback);
    return true;
  };
}
captureStream(process.stdout, 'stdout');
captureStream(process.stderr, 'stderr');

// ---- display ------------------------------------------------------------------------------
function isMimeBundle(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) &&
    Object.keys(value).length > 0 && Object.keys(value).every((k) => k.includes('/'));
}

function display(value, metadata) {
  const data = isMimeBundle(value)
    ? value
    : { 'text/plain': typeof value === 'string' ? value : inspect(value) };
  emit({ t: 'display', data: JSON.parse(stringify(data)), metadata: metadata || {} });
}
const base64 = (b) => (typeof b === 'string' ? b : Buffer.from(b).toString('base64'));
display.html = (s) => display({ 'text/html': String(s) });
display.svg = (s) => display({ 'image/svg+xml': String(s) });
display.markdown = (s) => display({ 'text/markdown': String(s) });
display.text = (s) => display({ 'text/plain': String(s) });
display.png = (b) => display({ 'image/png': base64(b) });
display.jpeg = (b) => display({ 'image/jpeg': base64(b) });
display.json = (o) => display({ 'application/json': o });
globalThis.display = display;

// `require` resolves from the current working directory, which follows the agent's workdir.
function userRequire(id) {
  return createRequire(path.join(process.cwd(), '[cell]'))(id);
}
userRequire.resolve = (id, options) => createRequire(path.join(process.cwd(), '[cell]')).resolve(id, options);
userRequire.cache = require.cache;
globalThis.require = userRequire;

// ---- rewriting cells ----------------------------------------------------------------------
// Top-level let/const/class would be script-scoped lexical bindings: they persist, but a cell
// run twice fails with "already declared", and they cannot coexist with top-level await (which
// needs an async wrapper). So they are rewritten to global `var`s, like a notebook expects.
function loadAcorn() {
  // Debian's node ships acorn as a package; other builds carry it internally.
  for (const id of ['acorn', 'internal/deps/acorn/acorn/dist/acorn']) {
    try {
      return require(id);
    } catch {}
  }
  return null;
}
const acorn = loadAcorn();

function bindingNames(node, out) {
  if (!node) return out;
  switch (node.type) {
    case 'Identifier': out.push(node.name); break;
    case 'ObjectPattern':
      for (const p of node.properties) bindingNames(p.type === 'RestElement' ? p.argument : p.value, out);
      break;
    case 'ArrayPattern': for (const e of node.elements) bindingNames(e, out); break;
    case 'RestElement': bindingNames(node.argument, out); break;
    case 'AssignmentPattern': bindingNames(node.left, out); break;
  }
  return out;
}

function parse(code) {
  const options = { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true };
  try {
    return { ast: acorn.parse(code, options), isAsync: false };
  } catch {}
  try {
    return { ast: acorn.parse(code, { ...options, allowAwaitOutsideFunction: true }), isAsync: true };
  } catch {}
  return null;
}

// Returns {source, isAsync, hasResult}; unparsable code is returned as is for V8 to report.
function prepare(code) {
  const parsed = acorn && parse(code);
  if (!parsed) return { source: code, isAsync: false, hasResult: true };
  const { ast, isAsync } = parsed;
  const src = (n) => code.slice(n.start, n.end);
  const edits = []; // [start, end, text]
  const hoisted = new Set();
  const functions = [];
  const body = ast.body;
  const last = body[body.length - 1];
  const hasResult = Boolean(last && last.type === 'ExpressionStatement');

  for (const node of body) {
    if (node.type === 'VariableDeclaration') {
      if (!isAsync) {
        if (node.kind !== 'var') edits.push([node.start, node.start + node.kind.length, 'var']);
        continue;
      }
      const parts = [];
      for (const d of node.declarations) {
        bindingNames(d.id, []).forEach((n) => hoisted.add(n));
        if (d.init) parts.push(`(${src(d.id)} = ${src(d.init)});`);
        else if (node.kind !== 'var') parts.push(`(${src(d.id)} = undefined);`);
      }
      edits.push([node.start, node.end, parts.join(' ')]);
    } else if (node.type === 'ClassDeclaration') {
      const name = node.id.name;
      if (isAsync) hoisted.add(name);
      edits.push([node.start, node.start, isAsync ? `${name} = ` : `var ${name} = `], [node.end, node.end, ';']);
    } else if (node.type === 'FunctionDeclaration' && isAsync) {
      functions.push(node.id.name);
    }
  }
  if (isAsync && hasResult) {
    edits.push([last.start, last.end, `return { value: (${src(last.expression)}) };`]);
  }
  let out = code;
  for (const [start, end, text] of edits.sort((a, b) => b[0] - a[0] || b[1] - a[1])) {
    out = out.slice(0, start) + text + out.slice(end);
  }
  if (!isAsync) return { source: out, isAsync, hasResult };
  // Everything before the user's first line stays on line 1, so stack line numbers match.
  const declare = hoisted.size ? `var ${[...hoisted].join(', ')}; ` : '';
  const exportFns = functions.map((n) => `globalThis[${stringify(n)}] = ${n}; `).join('');
  return { source: `${declare}(async () => { ${exportFns}${out}\n})()`, isAsync, hasResult };
}

// ---- running cells ------------------------------------------------------------------------
class Interrupted extends Error {}
let current = null; // {id, abort} while a cell runs

function cleanStack(stack) {
  const lines = String(stack).split('\n');
  const cut = lines.findIndex((l) => /node_host\.js|\(node:vm|at node:vm|Script\.runInThisContext/.test(l));
  return cut === -1 ? lines : lines.slice(0, cut);
}

function describe(err) {
  if (err instanceof Interrupted || (err && err.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED')) {
    return { ename: 'KeyboardInterrupt', evalue: 'Script execution interrupted', traceback: [] };
  }
  if (err instanceof Error) {
    return { ename: err.name || 'Error', evalue: err.message, traceback: cleanStack(err.stack) };
  }
  return { ename: 'Error', evalue: `Uncaught ${inspect(err)}`, traceback: [] };
}

async function runCell(cmd) {
  let interrupt;
  const interrupted = new Promise((_, reject) => { interrupt = reject; });
  interrupted.catch(() => {});
  current = { id: cmd.id, interrupt: () => interrupt(new Interrupted()) };
  try {
    const prepared = prepare(cmd.code);
    const script = new vm.Script(prepared.source, { filename: `cell[${cmd.count}]` });
    // breakOnSigint covers the synchronous part; an await-ing cell is cut off by onSigint.
    let value = script.runInThisContext({ breakOnSigint: true });
    if (prepared.isAsync) {
      const wrapped = await Promise.race([value, interrupted]);
      value = wrapped && wrapped.value;
    }
    if (prepared.hasResult && value !== undefined && !cmd.silent) {
      emit({ t: 'result', data: { 'text/plain': inspect(value) } });
    }
    emit({ t: 'done', id: cmd.id, ok: true });
  } catch (err) {
    emit({ t: 'done', id: cmd.id, ok: false, ...describe(err) });
  } finally {
    current = null;
  }
}

// Outside a synchronous run, SIGINT lands here: it ends a cell that is waiting on a promise
// (the promise itself cannot be cancelled) and otherwise is ignored so the process survives.
process.on('SIGINT', () => {
  if (current) current.interrupt();
});
process.on('uncaughtException', (err) => {
  emit({ t: 'stream', name: 'stderr', text: `Uncaught ${err instanceof Error ? err.stack : inspect(err)}\n` });
});
process.on('unhandledRejection', (reason) => {
  const text = reason instanceof Error ? reason.stack : inspect(reason);
  emit({ t: 'stream', name: 'stderr', text: `Unhandled promise rejection: ${text}\n` });
});

let queue = Promise.resolve();
let pending = '';
const commands = new net.Socket({ fd: COMMAND_FD, readable: true, writable: false });
commands.setEncoding('utf8');
commands.on('data', (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) !== -1) {
    const cmd = JSON.parse(pending.slice(0, nl));
    pending = pending.slice(nl + 1);
    queue = queue.then(() => runCell(cmd));
  }
});
commands.on('end', () => process.exit(0)); // the kernel wrapper went away

emit({ t: 'ready', acorn: Boolean(acorn) });
