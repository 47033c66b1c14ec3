// An OAuth client that holds DPoP keys (RFC 9449), for the interop tests: every key and every
// proof is made by panva's `dpop` package (generateKeyPair, calculateThumbprint,
// generateProof), and DPoP-bound tokens come from a real token endpoint (oidc-provider.mjs's)
// through the client_credentials grant with such a proof. Nothing here checks a proof: the
// resource server under test does.
//
// Usage: node dpop-client.mjs
//
// A long-running process: one JSON command per line on stdin, one JSON answer per line on
// stdout, in order; an answer to a command that failed is {"error": "..."} (the process goes
// on). It exits when its stdin closes (or on SIGTERM/SIGINT). Commands:
//
//   {"op":"key","alg":"ES256"|"Ed25519"|"RS256"|"PS256"}
//     → {"key": N, "alg", "jkt"}: a new key pair (not extractable), the RFC 7638 SHA-256
//       thumbprint of its public key by dpop's calculateThumbprint.
//   {"op":"token","key":N,"token_endpoint":URL,"client_id","client_secret","resource"?,"scope"?}
//     → the token endpoint's JSON answer ({"access_token","token_type","expires_in","scope"})
//       plus "nonce_retry": whether the endpoint answered use_dpop_nonce first (then the
//       request was sent again, once, with a fresh proof carrying its DPoP-Nonce, as RFC 9449
//       §8 says). The client authenticates with HTTP Basic; the proof (htm POST, htu the
//       endpoint) is signed by key N, so the token is bound to it. A non-200 answer is
//       {"error": "token endpoint: <status> <error>"} without the body's other members.
//   {"op":"proof","key":N,"method":M,"url":U,"access_token"?:T,"nonce"?:S}
//     → {"proof"}: a fresh proof (new jti, iat now) for M on U (dpop strips nothing: give U
//       without query and fragment, as RFC 9449 §4.2 says htu is), with ath = hash of T when
//       given, and nonce S when given.
//
// Tokens and proofs go to stdout only, to the test that asked for them; stderr gets
// diagnostics without them.
import { createInterface } from "node:readline";
import { generateKeyPair, calculateThumbprint, generateProof } from "dpop";

const keys = [];

function keyOf(command) {
  const key = keys[command.key];
  if (!key) throw new Error(`no key ${command.key}`);
  return key;
}

async function token(command) {
  const key = keyOf(command);
  const endpoint = command.token_endpoint;
  const basic = Buffer.from(
    `${encodeURIComponent(command.client_id)}:${encodeURIComponent(command.client_secret)}`,
  ).toString("base64");
  const body = new URLSearchParams({ grant_type: "client_credentials" });
  if (command.resource) body.set("resource", command.resource);
  if (command.scope) body.set("scope", command.scope);
  const send = async (nonce) =>
    fetch(endpoint, {
      method: "POST",
      headers: {
        authorization: `Basic ${basic}`,
        "content-type": "application/x-www-form-urlencoded",
        dpop: await generateProof(key, endpoint, "POST", nonce),
      },
      body,
    });
  let res = await send(undefined);
  let answer = await res.json().catch(() => ({}));
  let nonceRetry = false;
  const nonce = res.headers.get("dpop-nonce");
  if (res.status === 400 && answer.error === "use_dpop_nonce" && nonce) {
    nonceRetry = true;
    res = await send(nonce);
    answer = await res.json().catch(() => ({}));
  }
  if (res.status !== 200) {
    return { error: `token endpoint: ${res.status} ${answer.error ?? ""} ${answer.error_description ?? ""}`.trim() };
  }
  return { ...answer, nonce_retry: nonceRetry };
}

async function handle(command) {
  switch (command.op) {
    case "key": {
      const pair = await generateKeyPair(command.alg);
      keys.push(pair);
      return { key: keys.length - 1, alg: command.alg, jkt: await calculateThumbprint(pair.publicKey) };
    }
    case "token":
      return token(command);
    case "proof":
      return {
        proof: await generateProof(
          keyOf(command),
          command.url,
          command.method,
          command.nonce ?? undefined,
          command.access_token ?? undefined,
        ),
      };
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

const shutdown = () => process.exit(0);
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = await handle(JSON.parse(line));
  } catch (err) {
    answer = { error: String(err?.message ?? err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
shutdown();
