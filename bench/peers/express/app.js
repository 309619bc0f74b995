'use strict';
/*
 * The latch API as a typical Node.js service writes it: Express 5, jsonwebtoken, bcryptjs,
 * users in memory.  It is the reference peer of `make bench` (bench/run.sh), not a product.
 *
 * Environment:
 *   PORT             port to listen on, loopback only (required)
 *   JWT_SECRET       HS256 secret, the same bytes as latch's LATCH_JWT_SECRET (>= 32 bytes)
 *   JWT_ISSUER       the iss claim (latch)
 *   BCRYPT_COST      bcrypt cost for /register (10)
 *   PEER_SEED_USERS  create users 1..N as user<N>@bench.test at start, so that tokens minted
 *                    for latch's users 1..N are valid here too (0)
 */
const express = require('express');
const jwt = require('jsonwebtoken');
const bcrypt = require('bcryptjs');
const crypto = require('crypto');

const port = Number(process.env.PORT);
const secret = process.env.JWT_SECRET || '';
const issuer = process.env.JWT_ISSUER || 'latch';
const bcryptCost = Number(process.env.BCRYPT_COST || 10);
const ttlSeconds = 900;
if (!Number.isInteger(port) || port <= 0 || secret.length < 32) {
  console.error('usage: PORT=<port> JWT_SECRET=<at least 32 bytes> node app.js');
  process.exit(2);
}

const usersById = new Map();
const usersByEmail = new Map();
let nextId = 1;

function addUser(email, passwordHash, role) {
  const user = { id: nextId++, email, role, passwordHash, createdAt: new Date() };
  usersById.set(user.id, user);
  usersByEmail.set(email, user);
  return user;
}

const seed = Number(process.env.PEER_SEED_USERS || 0);
if (seed > 0) {
  /* One hash for all seeded users: bcrypt hashes carry their own salt, and seeding
   * thousands at full cost would take minutes. */
  const hash = bcrypt.hashSync('bench-password', bcryptCost);
  for (let i = 1; i <= seed; i++) addUser(`user${i}@bench.test`, hash, 'user');
}

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '16kb' }));

function fail(res, status, error, message) {
  res.status(status).json({ error, message });
}

function validEmail(email) {
  if (email.length > 254 || /[\s\x00-\x1f\x7f]/.test(email)) return false;
  const parts = email.split('@');
  return parts.length === 2 && parts[0].length > 0 && /.+\..+/.test(parts[1]);
}

function readCredentials(req, res) {
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    fail(res, 400, 'Bad Request', 'Body must be a JSON object');
    return null;
  }
  if (typeof body.email !== 'string' || typeof body.password !== 'string') {
    fail(res, 400, 'Bad Request', 'email and password must be strings');
    return null;
  }
  return { email: body.email.trim().toLowerCase(), password: body.password };
}

app.post('/register', async (req, res) => {
  const c = readCredentials(req, res);
  if (!c) return;
  if (!validEmail(c.email)) return fail(res, 400, 'Bad Request', 'Invalid email');
  const pwBytes = Buffer.byteLength(c.password, 'utf8');
  if (pwBytes < 8 || pwBytes > 256)
    return fail(res, 400, 'Bad Request', 'Password must be 8 to 256 bytes');
  if (usersByEmail.has(c.email)) return fail(res, 409, 'Conflict', 'Email already registered');
  const hash = await bcrypt.hash(c.password, bcryptCost);
  if (usersByEmail.has(c.email)) return fail(res, 409, 'Conflict', 'Email already registered');
  const user = addUser(c.email, hash, 'user');
  res.status(201).json({ id: user.id, email: user.email, role: user.role });
});

const dummyHash = bcrypt.hashSync('dummy-password', bcryptCost);

app.post('/login', async (req, res) => {
  const c = readCredentials(req, res);
  if (!c) return;
  const user = usersByEmail.get(c.email);
  const ok = await bcrypt.compare(c.password, user ? user.passwordHash : dummyHash);
  if (!user || !ok) return fail(res, 401, 'Unauthorized', 'Invalid email or password');
  const now = Math.floor(Date.now() / 1000);
  const token = jwt.sign(
    { sub: String(user.id), userId: user.id, email: user.email, role: user.role, iat: now,
      exp: now + ttlSeconds, jti: crypto.randomBytes(16).toString('base64url'), iss: issuer },
    secret, { algorithm: 'HS256', noTimestamp: true });
  res.json({ token, token_type: 'Bearer', expires_in: ttlSeconds });
});

/* Bearer token -> claims and user, or a 401 already sent. */
function authenticate(req, res) {
  const header = req.get('authorization') || '';
  const m = /^bearer\s+(\S+)$/i.exec(header);
  if (!m) {
    res.set('WWW-Authenticate', 'Bearer');
    fail(res, 401, 'Unauthorized', 'Missing token');
    return null;
  }
  let claims;
  try {
    claims = jwt.verify(m[1], secret, { algorithms: ['HS256'], issuer, clockTolerance: 30 });
  } catch (e) {
    claims = null;
  }
  const user = claims && claims.sub === String(claims.userId) ? usersById.get(claims.userId) : null;
  if (!user) {
    res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
    fail(res, 401, 'Unauthorized', 'Invalid or expired token');
    return null;
  }
  return { claims, user };
}

app.get('/profile', (req, res) => {
  const a = authenticate(req, res);
  if (!a) return;
  const u = a.user;
  res.json({ id: u.id, email: u.email, role: u.role,
             created_at: u.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z') });
});

app.get('/verify', (req, res) => {
  const a = authenticate(req, res);
  if (!a) return;
  res.set('X-Auth-User-Id', String(a.claims.userId));
  if (a.claims.email) res.set('X-Auth-Email', a.claims.email);
  res.set('X-Auth-Role', a.claims.role);
  res.status(200).end();
});

app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

app.use((req, res) => fail(res, 404, 'Not Found', 'No such endpoint'));
app.use((err, req, res, next) => {
  if (err && err.type === 'entity.parse.failed') return fail(res, 400, 'Bad Request', 'Malformed JSON');
  if (err && err.type === 'entity.too.large') return fail(res, 413, 'Payload Too Large', 'Body too large');
  fail(res, 500, 'Internal Server Error', 'Internal error');
});

app.listen(port, '127.0.0.1', () => console.error(`listening on http://127.0.0.1:${port}`));
