// Tokens from an independent JOSE implementation (panva's jose) for tests/jwt.rs: for each
// algorithm, a key pair whose public JWK goes into the JWKS, a valid token and every way a
// token must be refused. Prints one JSON document: { jwks, issuer, audience, cases }.
// Usage: node jose-tokens.mjs [ALG ...] (default: every algorithm).
import { SignJWT, generateKeyPair, exportJWK, importJWK, base64url } from "jose";
import { createHmac } from "node:crypto";

const issuer = "https://issuer.test";
const audience = "https://api.test";
const now = Math.floor(Date.now() / 1000);
const algs = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ["EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

const keys = [];
const cases = [];
const enc = (o) => base64url.encode(JSON.stringify(o));

async function sign(privateKey, alg, kid, claims, header = {}) {
  const crit = Object.fromEntries((header.crit ?? []).map((name) => [name, true]));
  return new SignJWT(claims).setProtectedHeader({ alg, kid, ...header }).sign(privateKey, { crit });
}

for (const alg of algs) {
  const { publicKey, privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  const kid = `${process.env.KID_PREFIX ?? "kid-"}${alg}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg };
  keys.push(jwk);
  const good = { sub: `user-${alg}`, iss: issuer, aud: audience, iat: now, exp: now + 600, scope: "read write" };
  const valid = await sign(privateKey, alg, kid, good);
  cases.push({ name: `${alg}: valid`, alg, token: valid, accept: true, sub: good.sub });
  cases.push({ name: `${alg}: aud as a list`, alg, token: await sign(privateKey, alg, kid, { ...good, aud: ["other", audience] }), accept: true, sub: good.sub });
  cases.push({ name: `${alg}: expired within the leeway`, alg, token: await sign(privateKey, alg, kid, { ...good, exp: now - 30 }), accept: true, sub: good.sub });
  const [h, , s] = valid.split(".");
  cases.push({ name: `${alg}: tampered payload`, alg, token: `${h}.${enc({ ...good, sub: "admin" })}.${s}`, accept: false });
  const sig = base64url.decode(s);
  sig[sig.length - 1] ^= 1;
  cases.push({ name: `${alg}: flipped signature bit`, alg, token: `${h}.${valid.split(".")[1]}.${base64url.encode(sig)}`, accept: false });
  cases.push({ name: `${alg}: expired beyond the leeway`, alg, token: await sign(privateKey, alg, kid, { ...good, exp: now - 120 }), accept: false });
  cases.push({ name: `${alg}: nbf ahead`, alg, token: await sign(privateKey, alg, kid, { ...good, nbf: now + 300 }), accept: false });
  cases.push({ name: `${alg}: iat in the future`, alg, token: await sign(privateKey, alg, kid, { ...good, iat: now + 300 }), accept: false });
  cases.push({ name: `${alg}: no exp`, alg, token: await sign(privateKey, alg, kid, { ...good, exp: undefined }), accept: false });
  cases.push({ name: `${alg}: wrong iss`, alg, token: await sign(privateKey, alg, kid, { ...good, iss: "https://evil.test" }), accept: false });
  cases.push({ name: `${alg}: wrong aud`, alg, token: await sign(privateKey, alg, kid, { ...good, aud: "https://other.test" }), accept: false });
  cases.push({ name: `${alg}: unknown crit`, alg, token: await sign(privateKey, alg, kid, good, { crit: ["x-custom"], "x-custom": 1 }), accept: false });
  // The same key, a kid nobody published.
  cases.push({ name: `${alg}: unknown kid`, alg, token: await sign(privateKey, alg, "kid-nobody", good), accept: false });
  // A key of the same algorithm that is not in the JWKS, under the published kid.
  const other = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  cases.push({ name: `${alg}: signed by another key`, alg, token: await sign(other.privateKey, alg, kid, good), accept: false });
  // alg: none, and HMAC keyed with the public key (algorithm confusion).
  cases.push({ name: `${alg}: alg none`, alg, token: `${enc({ alg: "none", kid })}.${enc(good)}.`, accept: false });
  for (const secret of [JSON.stringify(jwk), jwk.x ?? jwk.n]) {
    const input = `${enc({ alg: "HS256", kid })}.${enc(good)}`;
    const mac = createHmac("sha256", secret).update(input).digest("base64url");
    cases.push({ name: `${alg}: HS256 keyed with the public key`, alg, token: `${input}.${mac}`, accept: false });
  }
  // A header alg that does not fit the key: for RSA keys published as RS*/PS*, a token
  // correctly signed with the same RSA key under the other padding.
  if (alg.startsWith("RS") || alg.startsWith("PS")) {
    const twin = (alg.startsWith("RS") ? "PS" : "RS") + alg.slice(2);
    const { alg: _, key_ops: __, ...material } = await exportJWK(privateKey);
    const twinKey = await importJWK({ ...material, alg: twin }, twin);
    cases.push({ name: `${alg}: signed as ${twin} with the published ${alg} key`, alg, token: await sign(twinKey, twin, kid, good), accept: false });
  } else {
    const h2 = enc({ alg: alg === "ES256" ? "ES384" : "ES256", kid });
    cases.push({ name: `${alg}: header alg of another curve`, alg, token: `${h2}.${valid.split(".")[1]}.${s}`, accept: false });
  }
}
cases.push({ name: "not a JWT", alg: "-", token: "opaque-session-token", accept: false });
cases.push({ name: "padded segments", alg: "-", token: cases[0].token.replace(".", "=."), accept: false });

process.stdout.write(JSON.stringify({ jwks: { keys }, issuer, audience, cases }));
