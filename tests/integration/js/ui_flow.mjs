// ui_flow.mjs - drives the lesson page (LATCH_UI=1) in Debian's Chromium with
// playwright-core and reports what happened, for tests/integration/test_ui.py
// to assert (this script decides nothing) and for `make screenshot`.
//
//   node tests/integration/js/ui_flow.mjs < request.json > result.json
//
// request: {"url": "http://127.0.0.1:PORT/", "email": E, "password": P,
//           "width": 1024, "height": 900, "stepTimeoutMs": 20000,
//           "screenshot": null | "docs/ui.png"}
// With "screenshot" it registers, logs in, saves the decoded-token step as a
// PNG and stops.  Otherwise it walks every step the page enables, as a user
// would: the page itself finds out the server's auth mode, so which steps
// ran is part of the result.
//
// result: {"steps": {name: {"status": 200, "why": "..."}}, "claims": {...},
//          "network": [...], "console": [...], "pageErrors": [...],
//          "cspViolations": [...], "storage": {...}, "cookies": [...], ...}
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.LATCH_CHROMIUM || '/usr/bin/chromium';
// Without the background-networking flags Chromium's own connections (to
// hosts this machine cannot reach) are refused many at a time and slow it.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

// Installed before the page's own script: records every write to Web Storage
// and document.cookie and every CSP violation the page causes, so the test
// sees writes even if they were undone later.
function installProbes() {
  const probe = { storageWrites: [], cookieWrites: [], cspViolations: [] };
  Object.defineProperty(window, '__latchProbe', { value: probe });
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key, value) {
    probe.storageWrites.push({ store: this === window.localStorage ? 'local' : 'session', key });
    return setItem.call(this, key, value);
  };
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  Object.defineProperty(Document.prototype, 'cookie', {
    configurable: true,
    get() { return cookie.get.call(this); },
    set(value) {
      probe.cookieWrites.push(String(value).split('=')[0]);
      cookie.set.call(this, value);
    },
  });
  document.addEventListener('securitypolicyviolation', (e) => {
    probe.cspViolations.push({ directive: e.violatedDirective, blocked: e.blockedURI });
  });
}

// The lowest WCAG contrast ratio of any visible text on the page against the
// first opaque background behind it (the page uses opaque colours only).
function lowestContrast() {
  const channels = (css) => (css.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = (c) => {
      const v = c / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const background = (node) => {
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
      const c = channels(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  let lowest = { ratio: 21, where: null };
  for (const node of document.querySelectorAll('body *')) {
    const hasText = [...node.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
    if (!hasText || node.getClientRects().length === 0) continue;
    const fg = luminance(channels(getComputedStyle(node).color));
    const bg = luminance(background(node));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < lowest.ratio) {
      lowest = { ratio: Math.round(ratio * 100) / 100, where: node.tagName.toLowerCase()
        + (node.id ? '#' + node.id : '') + (node.className ? '.' + node.className : '') };
    }
  }
  return lowest;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function main() {
  const req = await readStdin();
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latch-chromium-'));
  const result = {
    steps: {}, network: [], console: [], pageErrors: [], requestsFailed: [], tokens: [],
  };
  let context;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: req.width || 1024, height: req.height || 900 },
    });
    await context.addInitScript(installProbes);
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(req.stepTimeoutMs || 20000);
    result.browser = context.browser() ? context.browser().version() : null;

    // Every request with the headers the browser really sent (cookies
    // included), and the tokens every /login and /refresh answer carried.
    const pending = [];
    page.on('requestfinished', (request) => pending.push((async () => {
      const response = await request.response();
      const entry = {
        method: request.method(), url: request.url(), headers: await request.allHeaders(),
        postData: request.postData(), status: response ? response.status() : null,
      };
      result.network.push(entry);
      const p = new URL(entry.url).pathname;
      if (response && entry.status === 200 && (p === '/login' || p === '/refresh')) {
        const body = await response.json();
        result.tokens.push({ path: p, token: body.token, refresh_token: body.refresh_token });
      }
    })()));
    page.on('requestfailed', (request) => {
      result.requestsFailed.push({ url: request.url(), error: request.failure()?.errorText });
    });
    page.on('console', (msg) => {
      result.console.push({ type: msg.type(), text: msg.text(), url: msg.location().url });
    });
    page.on('pageerror', (err) => result.pageErrors.push(String(err && err.stack || err)));

    const mainResponse = await page.goto(req.url, { waitUntil: 'load' });
    result.pageStatus = mainResponse.status();
    result.pageHeaders = await mainResponse.allHeaders();
    await page.locator('#server-status', { hasText: /answered/ }).waitFor();
    result.serverStatus = (await page.locator('#server-status').innerText()).trim();

    // Step 1 as a person does it: find the fields by their labels, log in
    // with Enter in the password field.
    await page.getByLabel('Email').fill(req.email);
    await page.getByLabel('Password').fill(req.password);
    await page.getByRole('button', { name: 'Register (POST /register)' }).click();
    await step(page, result, 'register', '#register-exchange');
    await page.getByLabel('Password').press('Enter');
    await step(page, result, 'login', '#login-exchange');

    const tokenShown = await page.locator('#token-view').isVisible();
    result.tokenShown = tokenShown;
    result.opaqueNote = await page.locator('#opaque-note').isVisible()
      ? (await page.locator('#opaque-note').innerText()).trim() : null;
    if (tokenShown) {
      result.claims = {};
      for (const name of ['userId', 'email', 'role', 'iat', 'exp']) {
        result.claims[name] = (await page.locator(`[data-claim="${name}"]`).innerText()).trim();
      }
      result.tokenParts = await page.locator('#token-text .tok').evaluateAll(
        (spans) => spans.map((s) => ({ cls: s.className, text: s.textContent,
          color: getComputedStyle(s).color })));
      result.headerJson = await page.locator('#header-json').innerText();
      result.keyInfo = (await page.locator('#key-info').innerText()).trim();
      result.jwksLink = await page.locator('#key-info a').getAttribute('href');
      result.countdown1 = (await page.locator('#countdown').innerText()).trim();
      await page.waitForTimeout(1100);
      result.countdown2 = (await page.locator('#countdown').innerText()).trim();
    }

    if (req.screenshot) {
      await page.locator('#step-2').screenshot({ path: req.screenshot });
      result.screenshot = req.screenshot;
    } else {
      await walkSteps(page, result, tokenShown);
    }

    await Promise.all(pending);
    const probe = await page.evaluate(() => window.__latchProbe);
    result.cspViolations = probe.cspViolations;
    result.storage = {
      writes: probe.storageWrites, cookieWrites: probe.cookieWrites,
      ...(await page.evaluate(() => ({
        localLength: localStorage.length, sessionLength: sessionStorage.length,
        documentCookie: document.cookie,
      }))),
    };
    // Names and flags only: the values are credentials.
    result.cookies = (await context.cookies()).map((c) => ({
      name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, secure: c.secure,
    }));
    result.layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    }));
    result.contrast = await page.evaluate(lowestContrast);
  } finally {
    if (context) await context.close();
    fs.rmSync(profileDir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

// Waits for the exchange shown in slot and records its status and reason.
async function step(page, result, name, slot) {
  const article = page.locator(`${slot} article[data-status]`);
  await article.waitFor();
  result.steps[name] = {
    status: Number(await article.getAttribute('data-status')),
    why: (await article.locator('.why').allInnerTexts()).join(' '),
  };
}

async function enabled(page, id) {
  return page.locator('#' + id).isEnabled();
}

// Steps 2 to 6, each only when the page enables its button.
async function walkSteps(page, result, tokenShown) {
  result.enabledAfterLogin = {};
  for (const id of ['profile', 'tamper', 'refresh', 'logout', 'session-login']) {
    result.enabledAfterLogin[id] = await enabled(page, id);
  }
  if (tokenShown) {
    await page.locator('#jwks').click();
    await step(page, result, 'jwks', '#jwks-exchange');

    // Step 3 with the keyboard: Tab from the previous button reaches it,
    // its focus is visible, Enter presses it.
    await page.locator('#jwks').focus();
    await page.keyboard.press('Tab');
    result.keyboard = await page.evaluate(() => ({
      focused: document.activeElement.id,
      focusVisible: document.activeElement.matches(':focus-visible'),
      outline: getComputedStyle(document.activeElement).outlineStyle,
    }));
    await page.keyboard.press('Enter');
    await step(page, result, 'profile', '#profile-exchange');

    await page.locator('#tamper').click();
    await step(page, result, 'tamper', '#tamper-exchange');
    result.tamperedPayload = await page.locator('#tamper-json').innerText();

    await page.locator('#refresh').click();
    await step(page, result, 'refresh', '#refresh-exchange');
    await step(page, result, 'retry', '#retry-exchange');

    await page.locator('#logout').click();
    await step(page, result, 'logout', '#logout-exchange');
    await page.locator('#profile-after-logout').click();
    await step(page, result, 'afterLogout', '#after-logout-exchange');
  }

  await page.locator('#session-login').click();
  await step(page, result, 'sessionLogin', '#session-login-exchange');
  await page.locator('#session-profile').click();
  await step(page, result, 'sessionProfile', '#session-profile-exchange');
  result.csrfEnabled = await enabled(page, 'csrf-refused');
  if (result.csrfEnabled) {
    await page.locator('#csrf-refused').click();
    await step(page, result, 'csrfRefused', '#csrf-refused-exchange');
    await page.locator('#csrf-accepted').click();
    await step(page, result, 'csrfAccepted', '#csrf-accepted-exchange');
    await page.locator('#session-after').click();
    await step(page, result, 'sessionAfter', '#session-after-exchange');
  }
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
