// jose_tool.mjs - lets the integration tests check latch's tokens with an
// independent JOSE implementation (the npm package `jose`).
//
//   node tests/integration/js/jose_tool.mjs < requests.json > results.json
//
// stdin: a JSON array of requests; stdout: a JSON array of results, one per
// request, in order.  Requests:
//   {"op": "verify", "token": T, "jwks": {"keys": [...]}, "issuer": "latch",
//    "alg": "EdDSA"}
//       -> {"ok": true, "header": {...}, "payload": {...}}
//        | {"ok": false, "error": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED: ..."}
//   {"op": "sign", "pem": PKCS8_PEM, "alg": "ES256", "kid": K or null,
//    "payload": {...}}
//       -> {"ok": true, "token": T}
//   {"op": "thumbprint", "jwk": {...}}
//       -> {"ok": true, "thumbprint": "..."}   (RFC 7638, SHA-256)
import { createLocalJWKSet, jwtVerify, importPKCS8, SignJWT, calculateJwkThumbprint } from 'jose';

async function handle(req) {
  switch (req.op) {
    case 'verify': {
      const keys = createLocalJWKSet(req.jwks);
      const options = { issuer: req.issuer };
      if (req.alg) options.algorithms = [req.alg];
      const { payload, protectedHeader } = await jwtVerify(req.token, keys, options);
      return { ok: true, header: protectedHeader, payload };
    }
    case 'sign': {
      const key = await importPKCS8(req.pem, req.alg);
      const header = { alg: req.alg, typ: 'JWT' };
      if (req.kid) header.kid = req.kid;
      const token = await new SignJWT(req.payload).setProtectedHeader(header).sign(key);
      return { ok: true, token };
    }
    case 'thumbprint':
      return { ok: true, thumbprint: await calculateJwkThumbprint(req.jwk, 'sha256') };
    default:
      throw new Error('unknown op ' + req.op);
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const results = [];
  for (const req of requests) {
    try {
      results.push(await handle(req));
    } catch (e) {
      results.push({ ok: false, error: `${e.code || e.name}: ${e.message}` });
    }
  }
  process.stdout.write(JSON.stringify(results) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
