// The JavaScript SDK (@hopx-ai/sdk, installed here by `scripts/setup.sh --test`) against a running
// kernelagent. tests/test_js_sdk.py starts the agent (and the desktop's test windows), runs this
// script and reads its stdout: one JSON line per check, {"name", "ok", "detail" | "error"}.
//
// Environment: AGENT_URL, AGENT_TOKEN, WORKSPACE (the agent's real workspace), ALIAS (the name
// that stands for it: `/workspace` unless the agent was started with another workspace_alias),
// DECOY (a file that exists only in a real directory named ALIAS, if there is one), SECTIONS
// (comma-separated: fields, workspace, desktop), XEV_TITLE, WORD_TITLE, WORD (the desktop's windows).
'use strict';

const http = require('node:http');
const WebSocket = require('ws');

// The SDK's WSClient.receive() adds a one-shot 'message' listener per frame read, and ws emits a
// burst of frames that arrive together synchronously, so the SDK loses all but the first of each
// burst (its bug, not the agent's: issue 16). The same workaround for every socket the SDK opens:
// ws's `allowSynchronousEvents: false`, which emits one frame per tick, after the SDK has listened
// again. Installed in the module cache before the SDK is loaded, so the SDK's require('ws') gets it.
class OneFramePerTick extends WebSocket {
  constructor(address, protocols, options) {
    if (protocols && typeof protocols === 'object' && !Array.isArray(protocols)) {
      [options, protocols] = [protocols, undefined];
    }
    super(address, protocols, { ...options, allowSynchronousEvents: false });
  }
}
require.cache[require.resolve('ws')].exports = OneFramePerTick;
const { Sandbox } = require('@hopx-ai/sdk');

const env = process.env;
const ALIAS = env.ALIAS || '/workspace';
const WORKSPACE = env.WORKSPACE;
const SECTIONS = (env.SECTIONS || 'fields,workspace').split(',');
// The SDK's own default (workdir "/workspace") when the alias is that; else the alias, named.
const AT = ALIAS === '/workspace' ? {} : { workingDir: ALIAS };

function emit(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function check(name, fn) {
  try {
    emit({ name, ok: true, detail: (await fn()) ?? null });
  } catch (err) {
    emit({ name, ok: false, error: String((err && err.stack) || err) });
  }
}

function expect(condition, what, value) {
  if (!condition) throw new Error(`${what}: ${JSON.stringify(value)}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, fn, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// A stand-in control plane: the SDK asks it for the sandbox (whose public host is the local agent)
// and for a token; everything after that goes to the agent.
function controlPlane(agentUrl, token) {
  const server = http.createServer((req, res) => {
    req.resume();
    let body = null;
    if (req.method === 'GET' && /^\/v1\/sandboxes\/[^/]+$/.test(req.url)) {
      body = { id: 'local', status: 'running', public_host: agentUrl };
    } else if (req.method === 'POST' && /^\/v1\/sandboxes\/[^/]+\/token\/refresh$/.test(req.url)) {
      body = { auth_token: token, token_expires_at: new Date(Date.now() + 86400e3).toISOString() };
    }
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not here' }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// --- the fields the SDK's types declare ---

async function fields(sb) {
  const number = (v) => typeof v === 'number' && Number.isFinite(v);
  await check('health.uptime_seconds', async () => {
    const h = await sb.getHealth();
    expect(number(h.uptime_seconds) && h.uptime_seconds > 0, 'uptime_seconds', h);
  });
  await check('info.uptime_seconds', async () => {
    const i = await sb.getAgentInfo();
    expect(number(i.uptime_seconds) && i.uptime_seconds > 0, 'uptime_seconds', i);
  });
  await check('metrics snapshot (MetricsSnapshot)', async () => {
    const m = await sb.getMetricsSnapshot();
    const scalars = ['uptime_seconds', 'total_executions', 'active_executions', 'requests_total', 'error_count',
      'avg_duration_ms', 'p95_duration_ms'];
    for (const key of scalars) expect(number(m[key]), key, m[key]);
    expect(m.requests_total > 0 && m.p95_duration_ms > 0, 'requests counted', m);
    for (const key of ['usage_percent', 'cores']) expect(number(m.system.cpu[key]), `system.cpu.${key}`, m.system);
    for (const part of ['memory', 'disk']) {
      for (const key of ['total', 'used', 'free', 'usage_percent']) {
        expect(number(m.system[part][key]), `system.${part}.${key}`, m.system);
      }
    }
    expect(number(m.process.count) && number(m.process.running), 'process.count, running', m.process);
    for (const key of ['size', 'hits', 'misses', 'hit_rate']) expect(number(m.cache[key]), `cache.${key}`, m.cache);
    return { requests_total: m.requests_total, p95_duration_ms: m.p95_duration_ms };
  });
}

// --- one meaning of the workspace alias, through every kind of endpoint ---

async function workspace(sb) {
  const file = `${ALIAS}/js-sdk.txt`;
  await check('execution runs in the workspace', async () => {
    const out = (await sb.runCode('import os; print(os.getcwd())', AT)).stdout.trim();
    expect(out === WORKSPACE, 'cwd', out);
  });
  await check('streamed execution runs in the workspace, every frame arrives', async () => {
    // many frames close together: what the SDK loses without the workaround above
    const code = 'import os\nprint(os.getcwd(), flush=True)\nfor i in range(200): print(i, flush=True)';
    let out = '';
    let complete = false;
    const stream = (async () => {
      for await (const msg of sb.runCodeStream(code, AT)) {
        if (msg.type === 'stdout') out += msg.data;
        if (msg.type === 'complete') complete = true;
      }
    })();
    await Promise.race([stream, sleep(30000)]);
    const lines = out.trim().split('\n');
    expect(complete && lines[0] === WORKSPACE && lines.length === 201, 'stdout and complete', { complete, out });
  });
  await check('command runs in the workspace', async () => {
    const out = (await sb.commands.run('pwd', AT)).stdout.trim();
    expect(out === WORKSPACE, 'pwd', out);
  });
  await check('files: what the API writes, code reads where it runs', async () => {
    await sb.files.write(file, 'written by the JS SDK');
    expect((await sb.files.read(file)) === 'written by the JS SDK', 'read back', file);
    const out = (await sb.runCode("print(open('js-sdk.txt').read())", AT)).stdout.trim();
    expect(out === 'written by the JS SDK', 'code saw', out);
  });
  await check('files: list names the alias, with modified', async () => {
    const entry = (await sb.files.list(ALIAS)).find((f) => f.name === 'js-sdk.txt');
    expect(entry && entry.path === file, 'entry', entry);
    expect(!Number.isNaN(Date.parse(entry.modified)), 'modified', entry.modified);
    if (env.DECOY) expect(!(await sb.files.exists(`${ALIAS}/${env.DECOY}`)), 'the real directory is not reached', env.DECOY);
  });
  await check('watch on the alias sees the workspace', async () => {
    const changes = sb.watchFiles(ALIAS)[Symbol.asyncIterator]();
    let seen = null;
    const next = changes.next().then(function wait(step) {
      const msg = step.value;
      if (msg && msg.type === 'change') return (seen = msg);
      return changes.next().then(wait);
    });
    await until('a change event', async () => {
      await sb.files.write(`${ALIAS}/watched-${Date.now()}.txt`, 'x');
      await Promise.race([next, sleep(300)]);
      return seen;
    });
    expect(seen.path.startsWith(`${ALIAS}/`), 'event path', seen);
    return seen.path;
  });
  await check('terminal starts in the workspace', async () => {
    const ws = await sb.terminal.connect();
    sb.terminal.sendInput(ws, 'echo at:$(pwd):\n');
    let text = '';
    const found = await Promise.race([
      (async () => {
        for await (const msg of sb.terminal.output(ws)) {
          if (msg.type === 'output') text += msg.data;
          const m = /at:(\/[^:\r\n]*):/.exec(text); // the output, not the echoed input
          if (m) return m[1];
        }
        return null;
      })(),
      sleep(20000).then(() => null),
    ]);
    ws.close();
    expect(found === WORKSPACE, 'pwd in the terminal', text.slice(-500));
  });
}

// --- every desktop call, through the JS SDK's own spellings ---

async function desktop(sb) {
  const d = sb.desktop;
  const called = new Set();
  const call = async (method, ...args) => {
    called.add(method);
    return d[method](...args);
  };
  const xevLog = () => sb.files.read(`${ALIAS}/xev.log`);
  const xevSaw = (what) => until(`${what} in xev`, async () => (await xevLog()).includes(what));
  const windowTitled = async (title) =>
    until(`window ${title}`, async () => (await call('listWindows')).find((w) => w.title === title));

  await check('display: info, resolutions, resolution', async () => {
    const info = await call('getDisplayInfo');
    expect(info.width > 0 && info.height > 0, 'display info', info);
    const sizes = await call('getAvailableResolutions');
    expect(sizes.some((s) => s.width === info.width && s.height === info.height), 'resolutions', sizes);
    await call('setResolution', info.width, info.height);
    return info;
  });
  await check('vnc: start, info, url, stop (GET)', async () => {
    const started = await call('startVnc');
    expect(started.running === true, 'started', started);
    expect((await call('getVncInfo')).running === true, 'info', null);
    const url = await call('getVncUrl');
    expect(url.startsWith('vnc://'), 'url', url);
    await call('stopVnc');
    expect((await call('getVncInfo')).running === false, 'stopped', null);
  });

  const xev = await windowTitled(env.XEV_TITLE);
  const [x, y] = [xev.x + 40, xev.y + 30];
  await check('windows: focus, mouse and keys reach a program', async () => {
    await call('focusWindow', xev.id);
    await call('mouseMove', x, y);
    await call('mouseClick', x, y, { button: 'right' });
    await xevSaw('button 3');
    await call('mouseScroll', x, y, 2); // {x, y, delta_y}: down is button 5
    await xevSaw('button 5');
    await call('mouseScroll', x, y, -1);
    await xevSaw('button 4');
    await call('keyboardType', 'q');
    await xevSaw('keysym 0x71, q');
    await call('keyboardPress', 'F5');
    await xevSaw('keysym 0xffc2, F5');
    await call('keyboardCombination', ['shift', 'a']); // {keys: [...]}: shift held around a
    await xevSaw('keysym 0x41, A');
    await call('hotkey', ['shift'], 'b');
    await xevSaw('keysym 0x42, B');
    await call('mouseDrag', x, y, x + 20, y + 10);
    await call('dragDrop', x + 20, y + 10, x, y);
    await xevSaw('button 1');
  });
  await check('windows: capture, resize, minimize, close', async () => {
    const png = await call('captureWindow', xev.id);
    expect(png.subarray(1, 4).toString() === 'PNG', 'a PNG', png.subarray(0, 8));
    await call('resizeWindow', xev.id, 420, 330);
    await until('the new size', async () => (await windowTitled(env.XEV_TITLE)).width === 420);
    await call('minimizeWindow', xev.id);
    await until('minimized', async () => (await windowTitled(env.XEV_TITLE)).is_minimized);
    await call('closeWindow', xev.id);
    await until('closed', async () => !(await call('listWindows')).some((w) => w.title === env.XEV_TITLE));
  });
  await check('clipboard: {content} in and out, history', async () => {
    await call('setClipboard', 'js-sdk ✓');
    expect((await call('getClipboard')) === 'js-sdk ✓', 'clipboard', null);
    expect((await call('getClipboardHistory')).includes('js-sdk ✓'), 'history', null);
  });
  await check('screenshots', async () => {
    // The SDK reads these PNGs as text (axios' default), so bytes above 0x7f are mangled on its
    // side; what arrives still says PNG.
    expect(String(await call('screenshot')).includes('PNG'), 'screenshot', null);
    expect((await call('screenshotRegion', 0, 0, 120, 80)).includes('PNG'), 'region', null);
  });
  await check('ocr: read, find, wait for, bounds', async () => {
    const word = await windowTitled(env.WORD_TITLE);
    const found = await until('the word', () => call('findElement', env.WORD.toLowerCase()));
    expect(found.x >= word.x && found.y >= word.y, 'where', found);
    expect((await call('waitFor', env.WORD, 20)).width > 0, 'waitFor', null);
    expect((await call('getBounds', env.WORD)).height > 10, 'bounds', null);
    const text = await call('ocr', word.x, word.y, word.width, word.height);
    expect(text.toUpperCase().includes(env.WORD), 'ocr', text);
  });
  await check('recording: {output_file}, status and stop without an id, download by path', async () => {
    const output = `${ALIAS}/js-sdk-recording.mp4`;
    await sb.files.write(output, 'an older file, replaced');
    await call('startRecording', output);
    const running = await call('getRecordingStatus');
    expect(running.recording === true && running.status === 'recording', 'running', running);
    expect(running.output_file === output, 'output_file as named', running);
    await sleep(1500);
    await call('stopRecording');
    const stopped = await until('stopped', async () => {
      const s = await call('getRecordingStatus');
      return s.status !== 'recording' && s;
    });
    expect(stopped.status === 'stopped' && stopped.recording === false, 'stopped', stopped);
    const video = await call('downloadRecording', stopped.recording_id);
    expect(video.length > 1000 && video.includes('ftyp'), 'an mp4', video.length);
    const written = await sb.files.readBytes(output);
    expect(written.length > 1000 && written.includes('ftyp'), 'written where output_file said', written.length);
  });
  await check('debug: logs, processes', async () => {
    expect((await call('getDebugLogs')).length > 0, 'logs', null);
    expect((await call('getDebugProcesses')).some((p) => p.role === 'xvfb'), 'processes', null);
  });
  await check('every desktop method called', async () => {
    const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(d)).filter((m) => m !== 'constructor');
    const missed = methods.filter((m) => !called.has(m));
    expect(missed.length === 0, 'not called', missed);
    return methods.length;
  });
}

async function main() {
  const server = await controlPlane(env.AGENT_URL, env.AGENT_TOKEN);
  const { port } = server.address();
  const sb = await Sandbox.connect('local', 'stand-in-key', `http://127.0.0.1:${port}`);
  if (SECTIONS.includes('fields')) await fields(sb);
  if (SECTIONS.includes('workspace')) await workspace(sb);
  if (SECTIONS.includes('desktop')) await desktop(sb);
  emit({ name: 'done', ok: true });
  process.exit(0); // open watch and terminal sockets would keep node alive
}

main().catch((err) => {
  emit({ name: 'main', ok: false, error: String((err && err.stack) || err) });
  process.exit(1);
});
