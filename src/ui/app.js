// app.js - the lesson page's behaviour: each button sends one real request to
// the latch that served this page and shows it (method, path, the headers
// that matter, status, body) with a line on why latch answered so.
//
// Plain JavaScript, no framework and no build step.  Rules it keeps:
//   - tokens live in the `state` object below only: never in localStorage,
//     sessionStorage, a cookie or a URL;
//   - the password is read from its field when register or login is sent and
//     is never shown or kept;
//   - text from the server is put on the page with textContent, never parsed
//     as HTML;
//   - no inline script or style (the page's Content-Security-Policy forbids
//     both): the look is in style.css, switched with classes and `hidden`.
'use strict';

// Everything the page knows about the current login.  Reloading the page
// forgets it, which is the point.
const state = {
  access: null,        // the access token (JWT) of the step-1 login, then its refreshed successor
  refresh: null,       // the refresh token that goes with it
  loginAccess: null,   // the step-1 access token, kept for tampering
  alg: null,           // the header's alg and kid
  kid: null,
  countdown: null,     // the interval timer of the expiry countdown
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// Building page content safely

// A paragraph whose `backticked` parts become <code>: the explanations use
// it, and it never interprets HTML.
function prose(text, className) {
  const p = document.createElement('p');
  if (className) p.className = className;
  text.split('`').forEach((piece, i) => {
    if (i % 2 === 1) {
      const code = document.createElement('code');
      code.textContent = piece;
      p.append(code);
    } else {
      p.append(piece);
    }
  });
  return p;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function pretty(json) {
  return JSON.stringify(json, null, 2);
}

// ---------------------------------------------------------------------------
// base64url and the three parts of a JWT (RFC 7515 section 2, RFC 7519)

function base64urlToBytes(text) {
  // base64url drops the padding and uses - and _ for + and /.
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  const binary = atob(base64);
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

function bytesToBase64url(bytes) {
  let binary = '';
  bytes.forEach((b) => { binary += String.fromCharCode(b); });
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function decodeText(part) {
  return new TextDecoder().decode(base64urlToBytes(part));
}

// Splits a compact JWS into its parts and decodes the two JSON ones.
// Returns null for anything that is not three parts of JSON, JSON, bytes.
function splitJwt(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    return {
      parts,
      headerText: decodeText(parts[0]),
      payloadText: decodeText(parts[1]),
      header: JSON.parse(decodeText(parts[0])),
      payload: JSON.parse(decodeText(parts[1])),
      signatureBytes: base64urlToBytes(parts[2]).length,
    };
  } catch (err) {
    return null;
  }
}

// The token, each part in its colour, dots between.
function colouredToken(target, parts, highlight) {
  target.replaceChildren();
  const names = ['header', 'payload', 'signature'];
  parts.forEach((part, i) => {
    if (i > 0) target.append(element('span', 'dot', '.'));
    const cls = 'tok tok-' + names[i] + (highlight === i ? ' tok-changed' : '');
    target.append(element('span', cls, part));
  });
}

function utcDate(seconds) {
  return new Date(seconds * 1000).toISOString().replace('.000Z', ' UTC').replace('T', ' ');
}

// ---------------------------------------------------------------------------
// One request to latch, and how it is shown

// Reason phrases, for a browser that does not hand over the server's.
const REASONS = {
  200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests',
  503: 'Service Unavailable',
};

// The response headers worth seeing in a lesson on authentication.
const SHOWN_RESPONSE_HEADERS = ['content-type', 'www-authenticate', 'cache-control',
  'retry-after'];

// Sends one request and returns what the page shows of it.
//   credentials: 'omit' (the default) sends and accepts no cookie, so the
//   JWT steps are authenticated by their Authorization header alone even
//   where the server also keeps sessions (LATCH_AUTH_MODE=both); step 6 uses
//   'same-origin' to let the browser keep and send the session cookie.
//   shownBody: what the page displays as the body (the password masked).
async function send({ method, path, headers = {}, body, shownBody, credentials = 'omit' }) {
  const requestHeaders = { ...headers };
  const init = { method, headers: requestHeaders, credentials, cache: 'no-store' };
  if (body !== undefined) {
    requestHeaders['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const exchange = {
    method, path, requestHeaders, credentials,
    shownBody: shownBody !== undefined ? shownBody : body,
  };
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    exchange.error = 'The request failed before any answer: ' + err.message;
    return exchange;
  }
  exchange.status = response.status;
  exchange.statusText = response.statusText || REASONS[response.status] || '';
  exchange.responseHeaders = SHOWN_RESPONSE_HEADERS
    .filter((name) => response.headers.has(name))
    .map((name) => [name, response.headers.get(name)]);
  exchange.text = await response.text();
  try {
    exchange.json = exchange.text ? JSON.parse(exchange.text) : null;
  } catch (err) {
    exchange.json = null;
  }
  return exchange;
}

// Header names as the RFCs write them, for display (fetch lower-cases them).
function headerName(name) {
  if (name === 'www-authenticate') return 'WWW-Authenticate';
  return name.replace(/(^|-)([a-z])/g, (m, dash, ch) => dash + ch.toUpperCase());
}

// Shows one exchange in the slot with the given id: the request, the
// response, and the explanation (a string with `code` parts, or several).
function show(slotId, title, exchange, why) {
  const slot = $(slotId);
  const article = element('article', 'exchange');
  article.append(element('h3', 'exchange-title', title));

  const request = element('div', 'http request');
  request.append(element('h4', null, 'Request'));
  const requestPre = element('pre');
  let requestText = exchange.method + ' ' + exchange.path + ' HTTP/1.1\n';
  for (const [name, value] of Object.entries(exchange.requestHeaders)) {
    requestText += headerName(name) + ': ' + value + '\n';
  }
  // Headers the browser adds by itself that matter here: Origin on every
  // POST (latch's CSRF check may look at it), the cookie when allowed.
  if (exchange.method !== 'GET' && exchange.method !== 'HEAD') {
    requestText += 'Origin: ' + window.location.origin + ' (added by the browser)\n';
  }
  if (exchange.credentials === 'same-origin') {
    requestText += 'Cookie: latch_session=… (added by the browser when it holds one; '
      + 'HttpOnly: this page cannot read it)\n';
  }
  if (exchange.shownBody !== undefined) requestText += '\n' + pretty(exchange.shownBody);
  requestPre.textContent = requestText;
  request.append(requestPre);

  const response = element('div', 'http response');
  response.append(element('h4', null, 'Response'));
  const responsePre = element('pre');
  if (exchange.error) {
    response.classList.add('fail');
    responsePre.textContent = exchange.error;
  } else {
    response.classList.add(exchange.status < 400 ? 'ok' : 'fail');
    article.dataset.status = String(exchange.status);
    responsePre.append(element('strong', 'status', exchange.status + ' ' + exchange.statusText));
    let rest = '\n';
    for (const [name, value] of exchange.responseHeaders) {
      rest += headerName(name) + ': ' + value + '\n';
    }
    if (exchange.text) {
      rest += '\n' + (exchange.json !== null ? pretty(exchange.json) : exchange.text);
    }
    responsePre.append(rest);
  }
  response.append(responsePre);

  const pair = element('div', 'http-pair');
  pair.append(request, response);
  article.append(pair);
  for (const line of [].concat(why || [])) article.append(prose(line, 'why'));
  slot.replaceChildren(article);
}

// Runs a button's action, one at a time per button, and shows any unexpected
// error instead of leaving it uncaught.  The button stays enabled while its
// request runs (aria-busy instead), so keyboard focus stays on it.
function onClick(id, action) {
  const button = $(id);
  button.addEventListener('click', async (event) => {
    event.preventDefault();
    if (button.getAttribute('aria-busy') === 'true') return;
    button.setAttribute('aria-busy', 'true');
    try {
      await action();
    } catch (err) {
      $('server-status').textContent = 'Something went wrong on this page: ' + err.message;
    } finally {
      button.removeAttribute('aria-busy');
    }
  });
}

// A step's buttons are disabled until what they need exists (a login, a
// session), so they cannot send a request that makes no sense yet.
function enable(...ids) {
  for (const id of ids) $(id).disabled = false;
}

function disable(...ids) {
  for (const id of ids) $(id).disabled = true;
}

function clear(...ids) {
  for (const id of ids) $(id).replaceChildren();
}

// ---------------------------------------------------------------------------
// Step 1: register and log in

function formCredentials() {
  return { email: $('email').value.trim(), password: $('password').value };
}

// What the page shows as the request body: the password masked.
function maskedCredentials(creds) {
  return { email: creds.email, password: '•'.repeat(8) + ' (masked here; sent as typed)' };
}

async function register() {
  const creds = formCredentials();
  const exchange = await send({
    method: 'POST', path: '/register', body: creds, shownBody: maskedCredentials(creds),
  });
  const why = {
    201: 'Created. latch stored the email and an Argon2id hash of the password, never the '
      + 'password itself. Now log in.',
    409: 'This email is already registered: log in with it.',
    400: 'latch checks the body before anything else: see `message`.',
    403: 'Registration is closed on this server (`LATCH_REGISTRATION=closed`): an admin creates '
      + 'accounts.',
    429: 'Too many attempts from this address: wait `Retry-After` seconds.',
  }[exchange.status];
  show('register-exchange', 'POST /register', exchange, why);
}

async function login() {
  const creds = formCredentials();
  const exchange = await send({
    method: 'POST', path: '/login', body: creds, shownBody: maskedCredentials(creds),
  });
  if (exchange.status !== 200 || !exchange.json) {
    const why = {
      401: 'Wrong password or unknown email: latch gives the same answer after the same work '
        + 'for both, so it reveals nothing about which accounts exist.',
      403: 'Right password, but an admin disabled this account.',
      429: 'Too many attempts: for this address, or for this email (locked for a while).',
    }[exchange.status] || 'See `message`.';
    show('login-exchange', 'POST /login', exchange, why);
    return;
  }
  const body = exchange.json;
  const jwt = splitJwt(body.token || '');
  startLogin(jwt ? body : null);
  enable('session-login');
  if (jwt) {
    show('login-exchange', 'POST /login', exchange, [
      'Logged in. `token` is the access token, a JWT that expires in `expires_in` seconds; '
        + '`refresh_token` is an opaque value that gets a new access token without the password '
        + '(step 5).',
      'The page keeps both in its memory only. Step 2 takes the access token apart.',
    ]);
    showToken(jwt);
  } else {
    show('login-exchange', 'POST /login', exchange, [
      'Logged in to a server in `LATCH_AUTH_MODE=session`: `token` is an opaque session token, '
        + '43 random characters that mean nothing without the server\'s store, and there is no '
        + 'refresh token.',
    ]);
    showOpaque();
  }
}

// Forgets the previous login's steps and sets up the new one (body: the
// /login answer with a JWT, or null for an opaque session token).
function startLogin(body) {
  clear('jwks-exchange', 'profile-exchange', 'tamper-exchange', 'refresh-exchange',
    'retry-exchange', 'logout-exchange', 'after-logout-exchange');
  $('tamper-view').hidden = true;
  state.access = body ? body.token : null;
  state.loginAccess = state.access;
  state.refresh = body ? body.refresh_token : null;
  if (body) {
    enable('profile', 'tamper', 'refresh', 'logout');
  } else {
    disable('profile', 'tamper', 'refresh', 'logout');
  }
  disable('profile-after-logout');
}

// ---------------------------------------------------------------------------
// Step 2: the token's three parts

// What signs a token of each algorithm (src/auth/jws.c).
const SIGNATURE_KINDS = {
  HS256: 'HMAC-SHA-256 over `header.payload` with a secret only latch holds: whoever can '
    + 'check the signature could also make one, so the secret is never published.',
  EdDSA: 'An Ed25519 signature over `header.payload` with latch\'s private key; anyone can check '
    + 'it with the public key in the JWKS.',
  ES256: 'An ECDSA P-256 signature (r and s, 32 bytes each) over `header.payload` with latch\'s '
    + 'private key; anyone can check it with the public key in the JWKS.',
  RS256: 'An RSA PKCS#1 v1.5 SHA-256 signature over `header.payload` with latch\'s private key; '
    + 'anyone can check it with the public key in the JWKS.',
};

function showToken(jwt) {
  $('token-pending').hidden = true;
  $('opaque-note').hidden = true;
  $('token-view').hidden = false;
  colouredToken($('token-text'), jwt.parts);

  $('header-b64').textContent = jwt.parts[0];
  $('header-json').textContent = pretty(jwt.header);
  $('payload-b64').textContent = jwt.parts[1];
  $('payload-json').textContent = pretty(jwt.payload);
  $('signature-b64').textContent = jwt.parts[2];

  state.alg = jwt.header.alg;
  state.kid = jwt.header.kid;
  const keyInfo = $('key-info');
  keyInfo.replaceChildren(
    prose('Signed with `' + state.alg + '`, key id (`kid`) `' + (state.kid || '(none)') + '`. '
      + 'Public keys: '),
  );
  const link = element('a', null, '/.well-known/jwks.json');
  link.href = '/.well-known/jwks.json';
  keyInfo.firstChild.append(link);

  const sig = $('signature-info');
  sig.replaceChildren(prose(jwt.signatureBytes + ' bytes, not JSON. '
    + (SIGNATURE_KINDS[state.alg] || '')));

  const payload = jwt.payload;
  const claims = $('claims');
  const claim = (name) => claims.querySelector('[data-claim="' + name + '"]');
  claim('userId').textContent = String(payload.userId);
  claim('email').textContent = String(payload.email);
  claim('role').textContent = String(payload.role);
  claim('iat').textContent = payload.iat + ' = ' + utcDate(payload.iat);
  claim('exp').textContent = payload.exp + ' = ' + utcDate(payload.exp);
  startCountdown(payload.exp);
}

// A live countdown to `exp`, by this computer's clock.
function startCountdown(exp) {
  clearInterval(state.countdown);
  const target = $('countdown');
  const tick = () => {
    const left = exp - Math.floor(Date.now() / 1000);
    if (left > 0) {
      const minutes = Math.floor(left / 60);
      const seconds = String(left % 60).padStart(2, '0');
      target.textContent = 'Expires in ' + minutes + ':' + seconds
        + ' (by this computer\'s clock); then every request with it gets 401.';
    } else {
      target.textContent = 'Expired ' + (-left) + ' s ago: latch refuses it now (after '
        + 'LATCH_LEEWAY_S of clock leeway). Refresh (step 5) or log in again.';
    }
  };
  tick();
  state.countdown = setInterval(tick, 1000);
}

function showOpaque() {
  clearInterval(state.countdown);
  $('token-view').hidden = true;
  $('token-pending').hidden = true;
  const note = $('opaque-note');
  note.replaceChildren(prose('This server runs `LATCH_AUTH_MODE=session`: its login answered an '
    + 'opaque session token, not a JWT, so there is nothing to decode. latch looks the token up '
    + 'in its store on every request. Steps 3 to 5 are about JWTs; step 6 shows the session '
    + 'flow.'));
  note.hidden = false;
}

async function fetchJwks() {
  const exchange = await send({ method: 'GET', path: '/.well-known/jwks.json' });
  const keys = (exchange.json && exchange.json.keys) || [];
  let why;
  if (keys.some((key) => key.kid === state.kid)) {
    why = 'The key with `kid` `' + state.kid + '` is in the set: any service can verify latch\'s '
      + 'tokens with it, offline, without asking latch.';
  } else if (state.alg === 'HS256') {
    why = 'Empty for `HS256`: its key is a shared secret, and a JWKS publishes public keys only. '
      + 'A service that verifies HS256 tokens needs the secret itself.';
  } else {
    why = 'The token\'s `kid` is not in the set (the key may have been retired).';
  }
  show('jwks-exchange', 'GET /.well-known/jwks.json', exchange, why);
}

// ---------------------------------------------------------------------------
// Step 3: a protected route

async function callProfile() {
  const exchange = await send({
    method: 'GET', path: '/profile', headers: { Authorization: 'Bearer ' + state.access },
  });
  const why = exchange.status === 200
    ? 'The signature matched, the token is within its `iat`..`exp`, `iss` is right and its login '
      + '(`sid`) was not ended. `/profile` then reads the user from the store.'
    : 'Refused: see `message` and the `WWW-Authenticate` header (RFC 6750).';
  show('profile-exchange', 'GET /profile', exchange, why);
}

// ---------------------------------------------------------------------------
// Step 4: tamper

// The token with its payload changed so that role reads admin (or user, for an
// admin), header and signature untouched.  The payload's JSON text is edited
// in place, so every other byte stays as latch wrote it.
function tamperedToken(token) {
  const jwt = splitJwt(token);
  const from = jwt.payload.role;
  const to = from === 'admin' ? 'user' : 'admin';
  let text = jwt.payloadText.replace('"role":' + JSON.stringify(from),
    '"role":' + JSON.stringify(to));
  if (text === jwt.payloadText) {
    text = JSON.stringify({ ...jwt.payload, role: to });
  }
  const payload = bytesToBase64url(new TextEncoder().encode(text));
  const parts = [jwt.parts[0], payload, jwt.parts[2]];
  return { token: parts.join('.'), parts, text, from, to };
}

async function tamper() {
  const forged = tamperedToken(state.loginAccess);
  $('tamper-view').hidden = false;
  colouredToken($('tamper-token'), forged.parts, 1);
  $('tamper-json').textContent = forged.text;
  const exchange = await send({
    method: 'GET', path: '/profile', headers: { Authorization: 'Bearer ' + forged.token },
  });
  const why = exchange.status === 401
    ? [
      'Refused. The signature was made over the original `header.payload`; the payload now '
        + 'differs (`"role":"' + forged.from + '"` became `"role":"' + forged.to + '"`), so the '
        + 'signature no longer matches, and making one that does needs latch\'s key.',
      'latch checks the signature before it reads any claim: the forged role is never seen.',
    ]
    : 'Unexpected: latch should refuse a token whose payload changed.';
  show('tamper-exchange', 'GET /profile with the tampered token', exchange, why);
}

// ---------------------------------------------------------------------------
// Step 5: refresh (and retry), log out

async function refresh() {
  const used = state.refresh;
  const first = await send({ method: 'POST', path: '/refresh', body: { refresh_token: used } });
  if (first.status !== 200) {
    show('refresh-exchange', 'POST /refresh', first,
      'Refused: the refresh token is unknown, expired, already used, or its login ended.');
    clear('retry-exchange');
    return;
  }
  show('refresh-exchange', 'POST /refresh', first,
    'A new access token and a new refresh token. The refresh token sent is now used up.');

  // A client whose answer was lost on the way sends the same request again.
  const retry = await send({ method: 'POST', path: '/refresh', body: { refresh_token: used } });
  let why;
  if (retry.status === 200 && retry.json.refresh_token === first.json.refresh_token) {
    why = [
      'Same successor refresh token (and a fresh access token): the used token came back within '
        + 'the reuse window (`LATCH_REFRESH_REUSE_WINDOW_S`, 10 s by default), as it does from a '
        + 'client retrying after a lost answer or from two tabs refreshing at once, so latch '
        + 'answers it again instead of logging the user out.',
      'After the window the same retry would mean the token leaked: latch would answer 401 and '
        + 'end the whole login (reuse detection, RFC 9700 section 4.14.2).',
    ];
  } else if (retry.status === 401) {
    why = 'Refused: the used refresh token came back after the reuse window (or the window is '
      + 'off), so latch took it for a stolen copy and ended the whole login (reuse detection). '
      + 'Log in again.';
  } else {
    why = 'See the answer.';
  }
  show('retry-exchange', 'POST /refresh again, with the same (used) refresh token', retry, why);
  const newest = retry.status === 200 ? retry.json : first.json;
  state.access = newest.token;
  state.refresh = newest.refresh_token;
}

async function logout() {
  const exchange = await send({
    method: 'POST', path: '/logout', headers: { Authorization: 'Bearer ' + state.access },
  });
  const why = exchange.status === 204
    ? 'Logged out: this login (its `sid`) is revoked, its refresh token deleted. The access token '
      + 'is still correctly signed and not expired. Try it:'
    : 'Refused: see `message`.';
  show('logout-exchange', 'POST /logout', exchange, why);
  if (exchange.status === 204) enable('profile-after-logout');
}

async function profileAfterLogout() {
  const exchange = await send({
    method: 'GET', path: '/profile', headers: { Authorization: 'Bearer ' + state.access },
  });
  const why = exchange.status === 401
    ? 'Refused at once, although signature and `exp` are fine: latch keeps revoked logins in a set '
      + 'it checks in memory on every request. A plain stateless JWT would work until `exp`; '
      + 'this is how latch closes that gap.'
    : 'Unexpected: a token of a login that ended should be refused.';
  show('after-logout-exchange', 'GET /profile with the same access token', exchange, why);
}

// ---------------------------------------------------------------------------
// Step 6: sessions and CSRF

async function sessionLogin() {
  const creds = formCredentials();
  const exchange = await send({
    method: 'POST', path: '/login', body: creds, shownBody: maskedCredentials(creds),
    credentials: 'same-origin',
  });
  show('session-login-exchange', 'POST /login, the browser keeping any cookie', exchange,
    exchange.status === 200
      ? ['If this server keeps sessions, the answer also carried `Set-Cookie: latch_session=…; '
        + 'HttpOnly; SameSite=Lax`. Scripts never see that header, and `document.cookie` reads '
        + JSON.stringify(document.cookie) + ' here: the cookie is out of reach of any script, '
        + 'including an injected one. Next: a request with the cookie and nothing else.']
      : 'See `message`.');
  clear('session-profile-exchange', 'csrf-refused-exchange', 'csrf-accepted-exchange',
    'session-after-exchange');
  disable('csrf-refused', 'csrf-accepted', 'session-after');
  if (exchange.status === 200) enable('session-profile');
}

async function sessionProfile() {
  const exchange = await send({ method: 'GET', path: '/profile', credentials: 'same-origin' });
  let why;
  if (exchange.status === 200) {
    why = 'No `Authorization` header: the cookie alone identified the session, which latch looked '
      + 'up in its store. Reading needs no more; a state-changing request does:';
    enable('csrf-refused', 'csrf-accepted');
  } else {
    why = 'No cookie came back with the login: this server runs `LATCH_AUTH_MODE=jwt`, which never '
      + 'sets one. Start latch with `LATCH_AUTH_MODE=session` or `both` (for example '
      + '`LATCH_AUTH_MODE=both make run`) to see sessions and CSRF here.';
  }
  show('session-profile-exchange', 'GET /profile with the cookie only', exchange, why);
}

async function csrfRefused() {
  const exchange = await send({ method: 'POST', path: '/logout', credentials: 'same-origin' });
  let why;
  if (exchange.status === 403) {
    why = 'Refused: a cookie-authenticated `POST` without `X-Requested-With`. A form on another '
      + 'site could send exactly this request, and the browser would attach the cookie; latch '
      + 'cannot tell, so it refuses (`Cross-site request refused`). The session is still alive.';
  } else if (exchange.status === 204) {
    why = 'Accepted without the header: this page\'s origin is listed in '
      + '`LATCH_ALLOWED_ORIGINS`, and the browser sent it as `Origin`. The session has ended.';
    disable('csrf-accepted');
    enable('session-after');
  } else {
    why = 'See `message`.';
  }
  show('csrf-refused-exchange', 'POST /logout, cookie only', exchange, why);
}

async function csrfAccepted() {
  const exchange = await send({
    method: 'POST', path: '/logout', headers: { 'X-Requested-With': 'fetch' },
    credentials: 'same-origin',
  });
  const why = exchange.status === 204
    ? 'Accepted: another site cannot add `X-Requested-With` to a form, and a script on another '
      + 'site would need a CORS preflight that latch does not grant it. The session is revoked and '
      + 'the answer cleared the cookie (`Max-Age=0`).'
    : 'See `message`.';
  show('csrf-accepted-exchange', 'POST /logout, cookie + X-Requested-With', exchange, why);
  if (exchange.status === 204) enable('session-after');
}

async function sessionAfter() {
  const exchange = await send({ method: 'GET', path: '/profile', credentials: 'same-origin' });
  const why = exchange.status === 401
    ? 'Refused: the session is gone from the store and the browser dropped the cookie.'
    : 'Unexpected: the session should have ended.';
  show('session-after-exchange', 'GET /profile with the cookie again', exchange, why);
}

// ---------------------------------------------------------------------------
// Start

async function checkServer() {
  const status = $('server-status');
  try {
    const response = await fetch('/healthz', { credentials: 'omit', cache: 'no-store' });
    const body = await response.json();
    status.replaceChildren(prose('Server: `GET /healthz` answered `' + response.status + ' '
      + JSON.stringify(body) + '`.'));
  } catch (err) {
    status.textContent = 'The server did not answer GET /healthz: ' + err.message;
  }
}

function start() {
  $('account-form').addEventListener('submit', (event) => {
    // The form is never submitted by the browser (the page's CSP also has
    // form-action 'none'): Enter in a field logs in through login().
    event.preventDefault();
    $('login').click();
  });
  onClick('register', register);
  onClick('login', login);
  onClick('jwks', fetchJwks);
  onClick('profile', callProfile);
  onClick('tamper', tamper);
  onClick('refresh', refresh);
  onClick('logout', logout);
  onClick('profile-after-logout', profileAfterLogout);
  onClick('session-login', sessionLogin);
  onClick('session-profile', sessionProfile);
  onClick('csrf-refused', csrfRefused);
  onClick('csrf-accepted', csrfAccepted);
  onClick('session-after', sessionAfter);
  disable('profile', 'tamper', 'refresh', 'logout', 'profile-after-logout', 'session-login',
    'session-profile', 'csrf-refused', 'csrf-accepted', 'session-after');
  checkServer();
}

start();
