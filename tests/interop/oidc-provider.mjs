// A real OpenID provider (panva's oidc-provider 9) for the MCP / OAuth 2 resource server tests:
// it is the authorization server that an MCP server protected by tower-bearer names in its
// RFC 9728 protected resource metadata, and it issues RFC 9068 JWT access tokens (`typ: at+jwt`)
// for the resources given on the command line, opaque access tokens (checked at its RFC 7662
// introspection endpoint) for the opaque resources, and DPoP-bound tokens (RFC 9449) of either
// kind to a client that sends a DPoP proof to its token endpoint.
//
// Usage:
//   node oidc-provider.mjs [--port N] [--admin-port N] --resource URL [--resource URL2 ...]
//                          [--scope S ...] [--acr ACR ...] [--alg ES256|RS256|PS256|EdDSA]
//                          [--ttl SECONDS] [--opaque-resource URL ...] [--dpop-nonce]
//   --port        the provider's port on 127.0.0.1 (default 0: a free port); the issuer is
//                 http://127.0.0.1:PORT (no path, no trailing slash)
//   --admin-port  the test-only admin port on 127.0.0.1 (default 0: a free port)
//   --resource    a resource indicator (RFC 8707) the provider issues JWT access tokens for,
//                 e.g. the MCP server's URL http://127.0.0.1:4000/mcp; repeatable. A token
//                 request or authorization request naming another resource gets invalid_target.
//   --scope       a scope every resource accepts (default: mcp:tools); repeatable
//   --acr         an acr value the provider advertises in acr_values_supported (default:
//                 urn:test:loa:1 urn:test:loa:2)
//   --alg         the access tokens' JWS algorithm (default ES256; id tokens are RS256)
//   --ttl         the access tokens' lifetime in seconds (default 300)
//   --opaque-resource  a resource indicator the provider issues OPAQUE access tokens for (aud
//                 the resource in the introspection answer); repeatable
//   --dpop-nonce  the token endpoint requires a DPoP nonce (RFC 9449 §8): a proof without one
//                 gets 400 use_dpop_nonce with a DPoP-Nonce header. Without it, DPoP proofs are
//                 accepted without nonces.
//
// Once both ports listen it prints ONE line of JSON on stdout:
//   {"issuer","port","admin","admin_port","discovery" (the RFC 8414 URL),"jwks_uri","authorization_endpoint",
//    "token_endpoint","registration_endpoint","introspection_endpoint","resources",
//    "opaque_resources","scopes","acr_values","alg","dpop_signing_alg_values","dpop_nonce",
//    "client":{"client_id","client_secret","redirect_uri"}}
// and then nothing else on stdout (diagnostics go to stderr). It exits when its stdin closes
// (or on SIGTERM/SIGINT): a test that holds the child's stdin and drops it leaves nothing behind.
//
// Getting tokens, without a browser:
//  * client_credentials: POST {token_endpoint} with HTTP Basic client:secret (the `client`
//    above, a confidential client registered at start-up) and
//    grant_type=client_credentials&resource=URL&scope=S → an RFC 9068 JWT whose sub and
//    client_id are the client's id, aud the resource, scope the granted scopes (those the
//    resource accepts among those asked for). Without `resource` the token is opaque (not a JWT).
//    With an --opaque-resource, an opaque token for it.
//  * DPoP (RFC 9449; oidc-provider's `dPoP` feature, algorithms ES256, Ed25519, EdDSA): the same
//    request with a `DPoP` proof header → token_type "DPoP", the token bound to the proof's key:
//    a JWT carries cnf.jkt, and the introspection answer of an opaque one has cnf.jkt and
//    token_type "DPoP". Without a proof the token is a Bearer token, as before.
//  * introspection: POST {introspection_endpoint} with HTTP Basic client:secret and token=….
//  * a user's token with a chosen acr / auth_time (RFC 9470 step-up tests): the admin port's
//    POST /mint (JSON body, or GET /mint?query) {resource, scope, sub, acr, amr, auth_time}
//    → {access_token, token_type, expires_in, scope, claims}, or 400 {error, error_description}
//    (e.g. invalid_target for an unknown resource). Defaults: the first --resource, every
//    --scope, sub "user-1", the first --acr, amr ["pwd"] (a JSON array, or a space-separated
//    string in a query), auth_time now (seconds since the epoch; any past value is accepted). How: the script plays the
//    user agent of a REAL authorization code flow with PKCE against its own provider: it
//    sends the authorization request (client `client`, resource, scope, a random state), follows the redirects with a cookie jar, and the provider's interaction
//    (this script's /interaction/:uid handler, in place of devInteractions) logs the user in
//    through provider.interactionFinished with {accountId: sub, acr, amr, ts: auth_time},
//    then grants the requested scopes for the resource (a Grant, as a consent page would);
//    the code is exchanged at the token endpoint with the resource. (acr_values is not sent:
//    oidc-provider accepts it only with the openid scope; the planned login, found by the
//    request's state, sets the acr.) The JWT is signed by the
//    provider from its own session data: oidc-provider's JWT format does not put acr, amr
//    and auth_time in access tokens by itself, so `extraTokenClaims` copies them from the
//    authorization code (or refresh token) the access token is issued from — the provider's
//    documented hook, nothing is signed outside it. `claims` in the answer is the decoded
//    JWT payload, for the test's convenience.
//  * an MCP client's own flow: dynamic client registration (RFC 7591) is open (no initial
//    access token), so the MCP SDK's auth() registers a public client and builds its
//    authorization URL; the same /interaction handler logs in any authorization request
//    (sub: login_hint or "user-1"; acr: the first of acr_values, which oidc-provider accepts
//    only with the openid scope, or the first --acr; auth_time: now), so a client that follows the authorization URL with a cookie jar gets a
//    code at its redirect_uri without a browser.
//
// Discovery: oidc-provider 9 serves the same document at /.well-known/oauth-authorization-server
// (RFC 8414, which the MCP SDK tries first) and /.well-known/openid-configuration.
import http from "node:http";
import { randomBytes, createHash } from "node:crypto";
import Provider, { errors } from "oidc-provider";
import { generateKeyPair, exportJWK, decodeJwt } from "jose";

function parseArgs(argv) {
  const out = { port: 0, adminPort: 0, resources: [], opaque: [], scopes: [], acrs: [], alg: "ES256", ttl: 300, dpopNonce: false };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--port": out.port = Number(value()); break;
      case "--admin-port": out.adminPort = Number(value()); break;
      case "--resource": out.resources.push(value()); break;
      case "--scope": out.scopes.push(value()); break;
      case "--acr": out.acrs.push(value()); break;
      case "--alg": out.alg = value(); break;
      case "--ttl": out.ttl = Number(value()); break;
      case "--opaque-resource": out.opaque.push(value()); break;
      case "--dpop-nonce": out.dpopNonce = true; break;
      default: usage(`unknown argument ${argv[i]}`);
    }
  }
  if (!out.resources.length) usage("at least one --resource is required");
  if (!out.scopes.length) out.scopes = ["mcp:tools"];
  if (!out.acrs.length) out.acrs = ["urn:test:loa:1", "urn:test:loa:2"];
  return out;
}

function usage(message) {
  console.error(`oidc-provider.mjs: ${message}`);
  console.error("usage: node oidc-provider.mjs [--port N] [--admin-port N] --resource URL [--resource URL ...] [--scope S ...] [--acr ACR ...] [--alg ALG] [--ttl SECONDS] [--opaque-resource URL ...] [--dpop-nonce]");
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
const resources = new Set(args.resources);
const opaqueResources = new Set(args.opaque);
const dPoPSigningAlgValues = ["ES256", "Ed25519", "EdDSA"];
const scopeList = args.scopes.join(" ");

const listen = (server, port) =>
  new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server.address().port));
  });

// Both servers listen first: the issuer and the client's redirect_uri need the ports.
let providerHandler = (_req, res) => { res.statusCode = 503; res.end(); };
let adminHandler = providerHandler;
const server = http.createServer((req, res) => providerHandler(req, res));
const admin = http.createServer((req, res) => adminHandler(req, res));
const port = await listen(server, args.port);
const adminPort = await listen(admin, args.adminPort);
const issuer = `http://127.0.0.1:${port}`;
const adminUrl = `http://127.0.0.1:${adminPort}`;

const client = {
  client_id: "tower-bearer-test",
  client_secret: "tower-bearer-test-secret-0123456789",
  redirect_uri: `${adminUrl}/callback`,
};

const keys = [];
for (const alg of new Set(["RS256", args.alg])) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  keys.push({ ...(await exportJWK(privateKey)), alg, use: "sig", kid: `test-${alg}` });
}

// Logins the admin port has planned, by the authorization request's state.
const plans = new Map();

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: client.client_id,
      client_secret: client.client_secret,
      grant_types: ["client_credentials", "authorization_code", "refresh_token"],
      response_types: ["code"],
      redirect_uris: [client.redirect_uri],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: { keys },
  // The resources' scopes are listed as the provider's own too: dynamic registration checks a
  // client's `scope` metadata (which the MCP SDK sends) against this list.
  scopes: ["openid", "offline_access", ...args.scopes],
  acrValues: args.acrs,
  dPoPSigningAlgValues,
  claims: { openid: ["sub"] },
  cookies: { keys: [randomBytes(32).toString("base64url")] },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    registration: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    // RFC 9449. On by default in oidc-provider 9; named here, with the nonces when asked for.
    dPoP: {
      enabled: true,
      ...(args.dpopNonce ? { nonceSecret: randomBytes(32), requireNonce: () => true } : {}),
    },
    resourceIndicators: {
      enabled: true,
      // No resource asked for: no default (an opaque token, usable only at userinfo).
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      // A code or refresh token exchanged without `resource` is for the resource it was granted for.
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (opaqueResources.has(resourceIndicator)) {
          return {
            scope: scopeList,
            audience: resourceIndicator,
            accessTokenTTL: args.ttl,
            accessTokenFormat: "opaque",
          };
        }
        if (!resources.has(resourceIndicator)) throw new errors.InvalidTarget();
        return {
          scope: scopeList,
          audience: resourceIndicator,
          accessTokenTTL: args.ttl,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: args.alg } },
        };
      },
    },
  },
  // RFC 9068 §2.2.1: acr, amr and auth_time of the authentication the token comes from.
  extraTokenClaims: async (ctx, token) => {
    if (token.kind !== "AccessToken") return undefined;
    const source = ctx?.oidc?.entities?.AuthorizationCode ?? ctx?.oidc?.entities?.RefreshToken;
    if (!source) return undefined;
    return { acr: source.acr, amr: source.amr, auth_time: source.authTime };
  },
  ttl: {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? args.ttl,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? args.ttl,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    IdToken: 3600,
  },
  renderError: async (ctx, out) => {
    ctx.type = "json";
    ctx.body = out;
  },
});
provider.on("server_error", (_ctx, err) => console.error("oidc-provider server_error:", err));

// The provider's interactions: every login succeeds, as the plan for the request's state says.
async function interaction(req, res) {
  try {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    if (prompt.name === "login") {
      const plan = plans.get(params.state) ?? {};
      const acr = plan.acr ?? (typeof params.acr_values === "string" ? params.acr_values.split(" ")[0] : undefined) ?? args.acrs[0];
      const login = {
        accountId: plan.sub ?? params.login_hint ?? "user-1",
        acr,
        amr: plan.amr ?? ["pwd"],
        ts: plan.auth_time ?? Math.floor(Date.now() / 1000),
        remember: false,
      };
      return await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
    }
    if (prompt.name === "consent") {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(" "));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(" "));
      }
      const grantId = await grant.save();
      return await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    throw new Error(`unexpected prompt ${prompt.name}`);
  } catch (err) {
    console.error("interaction:", err);
    res.statusCode = 500;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ error: "interaction_failed", error_description: String(err?.message ?? err) }));
  }
}

const callback = provider.callback();
providerHandler = (req, res) => {
  if (req.url.startsWith("/interaction/")) return interaction(req, res);
  return callback(req, res);
};

// A user agent with a cookie jar: follows redirects until one goes to `stopAt`.
async function follow(url, stopAt) {
  const jar = new Map();
  for (let hops = 0; hops < 20; hops++) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(url, { redirect: "manual", headers: cookie ? { cookie } : {} });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair.indexOf("=");
      jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
    const location = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || !location) {
      throw new Error(`the authorization flow stopped at ${res.status} ${url}: ${await res.text()}`);
    }
    await res.body?.cancel();
    const next = new URL(location, url);
    if (next.href.startsWith(stopAt)) return next;
    url = next.href;
  }
  throw new Error("too many redirects in the authorization flow");
}

async function mint(spec) {
  const resource = spec.resource ?? args.resources[0];
  const scope = spec.scope ?? scopeList;
  const state = randomBytes(16).toString("base64url");
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const plan = {
    sub: spec.sub ?? "user-1",
    acr: spec.acr ?? args.acrs[0],
    amr: spec.amr === undefined ? ["pwd"] : Array.isArray(spec.amr) ? spec.amr : String(spec.amr).split(" "),
    auth_time: spec.auth_time === undefined ? undefined : Number(spec.auth_time),
  };
  plans.set(state, plan);
  try {
    const auth = new URL(`${issuer}/auth`);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: client.redirect_uri,
      scope,
      resource,
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    })) auth.searchParams.set(k, v);
    const redirect = await follow(auth.href, client.redirect_uri);
    if (redirect.searchParams.get("error")) {
      const e = Object.fromEntries(redirect.searchParams);
      throw Object.assign(new Error(`authorization error: ${e.error}: ${e.error_description ?? ""}`), { oauth: e });
    }
    const code = redirect.searchParams.get("code");
    const res = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: client.redirect_uri, code_verifier: verifier, resource }),
    });
    const body = await res.json();
    if (!res.ok) throw Object.assign(new Error(`token error: ${body.error}: ${body.error_description ?? ""}`), { oauth: body });
    return { ...body, claims: decodeJwt(body.access_token) };
  } finally {
    plans.delete(state);
  }
}

adminHandler = async (req, res) => {
  const url = new URL(req.url, adminUrl);
  const send = (status, body) => {
    res.statusCode = status;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(body));
  };
  if (url.pathname !== "/mint") return send(404, { error: "not_found" });
  try {
    let spec = Object.fromEntries(url.searchParams);
    if (req.method === "POST") {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      if (raw.trim()) spec = { ...spec, ...JSON.parse(raw) };
    }
    send(200, await mint(spec));
  } catch (err) {
    console.error("mint:", err);
    send(400, { error: err.oauth?.error ?? "mint_failed", error_description: String(err.message), oauth: err.oauth });
  }
};

const shutdown = () => {
  server.closeAllConnections?.();
  admin.closeAllConnections?.();
  process.exit(0);
};
process.stdin.on("end", shutdown);
process.stdin.on("close", shutdown);
process.stdin.resume();
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

process.stdout.write(
  JSON.stringify({
    issuer,
    port,
    admin: adminUrl,
    admin_port: adminPort,
    discovery: `${issuer}/.well-known/oauth-authorization-server`,
    jwks_uri: `${issuer}/jwks`,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/reg`,
    introspection_endpoint: `${issuer}/token/introspection`,
    resources: args.resources,
    opaque_resources: args.opaque,
    scopes: args.scopes,
    acr_values: args.acrs,
    alg: args.alg,
    dpop_signing_alg_values: dPoPSigningAlgValues,
    dpop_nonce: args.dpopNonce,
    client,
  }) + "\n",
);
