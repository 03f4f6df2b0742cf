// The node-fastify peer of medley's home-feed benchmark (bench/run.sh).
//
// What a careful Node.js team would write as a BFF: fastify 5 for the server,
// one undici 7 Pool (keep-alive) per backend, the three calls of GET /home?user=ID
// in one Promise.all, and GET /news-raw passed through as bytes. A node cluster
// runs WORKERS processes (default 2, one per core) on one listening port.
//
// Environment: PORT, LISTEN_ADDR (127.0.0.1), WORKERS, NEWS_URL, EVENTS_URL, HR_URL.
'use strict';

const cluster = require('node:cluster');

const PORT = Number(process.env.PORT || 18191);
const HOST = process.env.LISTEN_ADDR || '127.0.0.1';
const WORKERS = Math.min(Math.max(Number(process.env.WORKERS || 2), 1), 16);
const TOP = 5;
const TIMEOUT_MS = 2000;

if (cluster.isPrimary) {
  let stopping = false;
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  // A worker that dies takes the benchmark with it: make that visible, don't respawn.
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    console.error(`worker ${w.process.pid} exited (${signal || code})`);
    process.exitCode = 1;
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  serve();
}

function backend(origin) {
  if (!origin) throw new Error('NEWS_URL, EVENTS_URL and HR_URL must be set');
  const { Pool } = require('undici');
  return new Pool(origin, {
    connections: 64,
    keepAliveTimeout: 300000,
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
  });
}

class BackendError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// GET path on pool; resolves to the body (Buffer) of a 200 answer.
async function fetchBytes(pool, path) {
  let res;
  try {
    res = await pool.request({ path, method: 'GET' });
  } catch (err) {
    const timedOut = /TIMEOUT/.test(err.code || '');
    throw new BackendError(timedOut ? 504 : 502, `${path}: ${err.code || err.message}`);
  }
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new BackendError(502, `${path}: HTTP ${res.statusCode}`);
  return body;
}

function parse(bytes, path) {
  try {
    return JSON.parse(bytes);
  } catch {
    throw new BackendError(502, `${path}: not JSON`);
  }
}

// The first TOP entries of list ordered by key, each cut down to fields.
function topBy(list, key, descending, fields) {
  if (!Array.isArray(list) || !list.every((o) => o && typeof o[key] === 'string')) {
    throw new BackendError(502, `malformed list sorted by ${key}`);
  }
  const dir = descending ? -1 : 1;
  const sorted = list.slice().sort((a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : 0));
  return sorted.slice(0, TOP).map((o) => {
    const out = {};
    for (const f of fields) out[f] = o[f];
    return out;
  });
}

function serve() {
  const fastify = require('fastify')({ logger: false });
  const news = backend(process.env.NEWS_URL);
  const events = backend(process.env.EVENTS_URL);
  const hr = backend(process.env.HR_URL);

  fastify.get('/home', async (req, reply) => {
    const user = req.query.user;
    if (typeof user !== 'string' || !/^\d{1,9}$/.test(user)) {
      return reply.code(400).type('application/json').send('{"error":"user must be a decimal integer"}');
    }
    try {
      const hrPath = `/employees/${user}/vacation`;
      const [n, e, h] = await Promise.all([
        fetchBytes(news, '/news'),
        fetchBytes(events, '/events'),
        fetchBytes(hr, hrPath),
      ]);
      const nd = parse(n, '/news');
      const ed = parse(e, '/events');
      const hd = parse(h, hrPath);
      if (!hd || typeof hd.balance_days !== 'number') throw new BackendError(502, 'no balance_days');
      const body = JSON.stringify({
        news: topBy(nd && nd.items, 'published', true, ['id', 'title', 'url', 'published']),
        events: topBy(ed && ed.events, 'starts', false, ['id', 'name', 'starts', 'location']),
        cards: { vacation: { balance_days: hd.balance_days } },
      });
      return reply.type('application/json').send(body);
    } catch (err) {
      return failed(reply, err);
    }
  });

  fastify.get('/news-raw', async (req, reply) => {
    try {
      return reply.type('application/json').send(await fetchBytes(news, '/news'));
    } catch (err) {
      return failed(reply, err);
    }
  });

  fastify.listen({ port: PORT, host: HOST, backlog: 1024 }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
  process.on('SIGTERM', () => fastify.close().then(() => process.exit(0)));
}

function failed(reply, err) {
  const status = err instanceof BackendError ? err.status : 500;
  return reply.code(status).type('application/json').send(JSON.stringify({ error: err.message }));
}
