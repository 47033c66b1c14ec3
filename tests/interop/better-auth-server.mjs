// A real better-auth 1.7.25 server, for the tests of tower-bearer's better-auth resolvers:
// email and password, the Bearer plugin, and one of better-auth's storages. Configured by
// environment variables:
//   BA_SECRET                 better-auth's secret (required)
//   BA_DATABASE               sqlite:/path/to/file.db, postgres://… or mysql://… (required: users live here)
//   BA_REDIS                  redis://… : sessions in Redis secondary storage (@better-auth/redis-storage)
//   BA_REDIS_CLUSTER          host:port,host:port… : the same, on a Redis Cluster
//   BA_REDIS_PREFIX           the storage's key prefix (default better-auth:)
//   BA_STORE_SESSION_IN_DATABASE=1  with Redis: sessions in the database too
//   BA_REQUIRE_SIGNATURE=1    the Bearer plugin's requireSignature
//   BA_JWT=ALG                the jwt plugin, keys of ALG (EdDSA, ES256, ES512, RS256, PS256)
//   BA_JWT_ROTATION=SECONDS   the jwt plugin's jwks.rotationInterval
//   BA_PLUGINS=admin,organization,fields  the admin and organization plugins, and the app's
//                             additionalFields (user: plan, seats, trialEndsAt, prefs;
//                             session: device); with admin, POST /test/set-role {userId, role}
//                             sets a role through better-auth's internal adapter (the first
//                             admin: the admin API itself needs one)
//   BA_PLUGINS=…,api-key      @better-auth/api-key 1.7.5's apiKey() (defaults kept: rate limit on,
//                             10 per day; enableSessionForAPIKeys on, so GET /api/auth/get-session
//                             with the key header answers as better-auth's session-from-key hook
//                             does; keyExpiration.minExpiresIn 0, so expiresIn may be seconds)
//     BA_API_KEY_STORAGE=database|secondary-storage  the plugin's storage (default database;
//                             secondary-storage needs BA_REDIS or BA_REDIS_CLUSTER)
//     BA_API_KEY_FALLBACK=1   with secondary-storage: fallbackToDatabase
//     BA_API_KEY_HEADERS=x-api-key,…  apiKeyHeaders (one name or a list; default x-api-key)
//     Test routes (JSON bodies, JSON answers):
//       POST /test/user {email?, password?, name?} → {userId, token}: signs a user up (token:
//                             the session token, for Authorization: Bearer)
//       POST /test/api-key/create {userId, remaining?, refillAmount?, refillInterval?,
//                             rateLimitEnabled?, rateLimitTimeWindow?, rateLimitMax?, expiresIn?
//                             (seconds), permissions?, prefix?, name?, metadata?, enabled?}
//                             → {key, id, …the rest of auth.api.createApiKey's answer}
//                             (enabled: false is applied by an update right after)
//       POST /test/api-key/verify {key, permissions?, configId?} → auth.api.verifyApiKey's own
//                             answer, status and body (200 {valid, error: {message, code}|null, key})
//       POST /test/api-key/update {keyId, userId?, enabled?, remaining?, …} → auth.api.updateApiKey
//                             (server side, so server-only fields are allowed; userId defaults to
//                             the key's owner)
//       POST /test/api-key/raw {id} → the stored record as better-auth's adapter (or, for
//                             secondary-storage, `api-key:by-id:<id>`) holds it, or null
//       POST /test/api-key/set {id, fields} → writes fields straight into the stored record
//                             (dates as ISO strings; e.g. expiresAt in the past, lastRefillAt,
//                             lastRequest, requestCount): the database row through the adapter,
//                             and/or both Redis records `api-key:<hash>` and `api-key:by-id:<id>`
//   BA_PLUGINS=…,oauth-provider  @better-auth/oauth-provider 1.7.5's oauthProvider() with the jwt
//                             plugin (BA_JWT's algorithm, EdDSA if unset); scopes openid profile
//                             email offline_access read write; loginPage /login, consentPage
//                             /consent (not served: flows are driven by HTTP, see /test/oauth/flow);
//                             clientPrivileges allow everything (client_credentials scopes need it)
//     BA_OAUTH_RESOURCES=https://api.example/,…  the configured resources (RFC 8707; each a
//                             resource row, the JWT's aud); enforcePerClientResources stays on
//     BA_OAUTH_DPOP_RESOURCES=URL,…  resources created with dpopBoundAccessTokensRequired
//     Test routes:
//       POST /test/oauth/client {grant_types?, scopes?, resources?, redirect_uris?,
//                             token_endpoint_auth_method?, skip_consent?, dpop_bound_access_tokens?,
//                             require_pkce?} → {client_id, client_secret, …}: a confidential client
//                             (default: client_credentials + authorization_code + refresh_token,
//                             client_credentials scopes read write, client_secret_basic, redirect
//                             https://client.example/callback, skip_consent) linked to `resources`
//                             (default: every BA_OAUTH_RESOURCES; [] for a client tied to none)
//       POST /test/oauth/flow {client_id, client_secret, redirect_uri?, scope?, resource?,
//                             token?} → {code, tokens}: the authorization code + PKCE flow over
//                             real HTTP requests to this server (sign-up unless `token`, GET
//                             /oauth2/authorize with the session, POST /oauth2/consent when asked,
//                             POST /oauth2/token with the verifier), as a Rust test can do it too
// Runs better-auth's migrations, listens on a free port of 127.0.0.1 and prints
// `listening on http://127.0.0.1:PORT`.
import http from "node:http";
import { betterAuth } from "better-auth";
import { admin, bearer, jwt, organization } from "better-auth/plugins";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { createHash, randomBytes } from "node:crypto";

const env = process.env;
if (!env.BA_SECRET || !env.BA_DATABASE) {
  console.error("BA_SECRET and BA_DATABASE are required");
  process.exit(2);
}

async function database(url) {
  if (url.startsWith("sqlite:")) {
    const { default: Database } = await import("better-sqlite3");
    return new Database(url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, ""));
  }
  if (url.startsWith("mysql:")) {
    const { createPool } = await import("mysql2/promise");
    return createPool(url);
  }
  const { default: pg } = await import("pg");
  return new pg.Pool({ connectionString: url });
}

async function secondaryStorage(url, cluster) {
  if (!url && !cluster) return undefined;
  const { Redis, Cluster } = await import("ioredis");
  const { redisStorage } = await import("@better-auth/redis-storage");
  // No retries: a stopped Redis is an error at once, as the tests expect.
  const client = cluster
    ? new Cluster(cluster.split(",").map((node) => {
        const [host, port] = node.split(":");
        return { host, port: Number(port) };
      }))
    : new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false });
  client.on("error", () => {});
  return redisStorage({ client, keyPrefix: env.BA_REDIS_PREFIX ?? "better-auth:" });
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const plugins = new Set((env.BA_PLUGINS ?? "").split(",").filter(Boolean));
const fields = plugins.has("fields");
const list = (value) => (value ?? "").split(",").map((item) => item.trim()).filter(Boolean);

async function apiKeyPlugins() {
  if (!plugins.has("api-key")) return [];
  const { apiKey } = await import("@better-auth/api-key");
  const headers = list(env.BA_API_KEY_HEADERS);
  return [apiKey({
    storage: env.BA_API_KEY_STORAGE ?? "database",
    fallbackToDatabase: env.BA_API_KEY_FALLBACK === "1",
    apiKeyHeaders: headers.length === 0 ? "x-api-key" : headers.length === 1 ? headers[0] : headers,
    enableSessionForAPIKeys: true,
    enableMetadata: true,
    keyExpiration: { minExpiresIn: 0 },
  })];
}

const oauthResources = list(env.BA_OAUTH_RESOURCES);
const dpopResources = list(env.BA_OAUTH_DPOP_RESOURCES);
async function oauthPlugins() {
  if (!plugins.has("oauth-provider")) return [];
  const { oauthProvider } = await import("@better-auth/oauth-provider");
  return [oauthProvider({
    loginPage: "/login",
    consentPage: "/consent",
    scopes: ["openid", "profile", "email", "offline_access", "read", "write"],
    resources: [
      ...oauthResources.filter((id) => !dpopResources.includes(id)),
      ...dpopResources.map((identifier) => ({ identifier, dpopBoundAccessTokensRequired: true })),
    ],
    clientPrivileges: () => true,
  })];
}

const options = {
  baseURL: base,
  secret: env.BA_SECRET,
  database: await database(env.BA_DATABASE),
  secondaryStorage: await secondaryStorage(env.BA_REDIS, env.BA_REDIS_CLUSTER),
  emailAndPassword: { enabled: true },
  session: {
    storeSessionInDatabase: env.BA_STORE_SESSION_IN_DATABASE === "1",
    ...(fields ? { additionalFields: { device: { type: "string", required: false } } } : {}),
  },
  ...(fields
    ? {
        user: {
          additionalFields: {
            plan: { type: "string", required: false, defaultValue: "free", fieldName: "plan_name" },
            seats: { type: "number", required: false, defaultValue: 1 },
            trialEndsAt: { type: "date", required: false },
            prefs: { type: "json", required: false },
          },
        },
      }
    : {}),
  plugins: [
    bearer({ requireSignature: env.BA_REQUIRE_SIGNATURE === "1" }),
    ...(plugins.has("admin") ? [admin()] : []),
    ...(plugins.has("organization") ? [organization()] : []),
    ...(env.BA_JWT || plugins.has("oauth-provider")
      ? [jwt({
          jwks: {
            keyPairConfig: { alg: env.BA_JWT ?? "EdDSA" },
            ...(env.BA_JWT_ROTATION ? { rotationInterval: Number(env.BA_JWT_ROTATION) } : {}),
          },
        })]
      : []),
    ...(await apiKeyPlugins()),
    ...(await oauthPlugins()),
  ],
  logger: { level: "error" },
};
const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);

const handler = toNodeHandler(auth);

async function readJson(req) {
  let body = "";
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : {};
}
const send = (res, status, value) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
// An auth.api call's answer as better-auth gives it over HTTP: status and JSON body.
async function relay(res, call) {
  const response = await call;
  const text = await response.text();
  res.writeHead(response.status, { "content-type": "application/json" }).end(text || "null");
}

async function signUp({ email, password, name } = {}) {
  const result = await auth.api.signUpEmail({
    body: {
      email: email ?? `user-${randomBytes(6).toString("hex")}@example.com`,
      password: password ?? "a long password",
      name: name ?? "Test User",
    },
  });
  return { userId: result.user.id, token: result.token };
}

// The api-key plugin's own storage layout (see the plugin's adapter: api-key:<hash>,
// api-key:by-id:<id>), so /test/api-key/set can write both records.
const apiKeyStorage = env.BA_API_KEY_STORAGE ?? "database";
async function rawApiKey(id) {
  const context = await auth.$context;
  if (apiKeyStorage === "secondary-storage") {
    const stored = await context.secondaryStorage.get(`api-key:by-id:${id}`);
    if (stored || env.BA_API_KEY_FALLBACK !== "1") return stored ? JSON.parse(stored) : null;
  }
  return await context.adapter.findOne({ model: "apikey", where: [{ field: "id", value: id }] });
}
const DATE_FIELDS = ["createdAt", "updatedAt", "expiresAt", "lastRefillAt", "lastRequest"];
async function setApiKeyFields(id, fields) {
  const context = await auth.$context;
  const dbFields = { ...fields };
  for (const name of DATE_FIELDS) {
    if (typeof dbFields[name] === "string") dbFields[name] = new Date(dbFields[name]);
  }
  if (apiKeyStorage === "database" || env.BA_API_KEY_FALLBACK === "1") {
    await context.adapter.update({ model: "apikey", where: [{ field: "id", value: id }], update: dbFields });
  }
  if (apiKeyStorage === "secondary-storage") {
    const stored = await context.secondaryStorage.get(`api-key:by-id:${id}`);
    if (stored) {
      const record = { ...JSON.parse(stored), ...fields };
      for (const name of DATE_FIELDS) {
        if (record[name] instanceof Date) record[name] = record[name].toISOString();
      }
      const text = JSON.stringify(record);
      // The plugin's TTL: seconds until expiresAt, none without one.
      const ttl = record.expiresAt
        ? Math.floor((new Date(record.expiresAt).getTime() - Date.now()) / 1000)
        : undefined;
      const keep = ttl !== undefined && ttl > 0 ? ttl : undefined;
      await context.secondaryStorage.set(`api-key:${record.key}`, text, keep);
      await context.secondaryStorage.set(`api-key:by-id:${id}`, text, keep);
    }
  }
  return await rawApiKey(id);
}

async function apiKeyRoute(req, res) {
  const body = await readJson(req);
  switch (req.url) {
    case "/test/user":
      return send(res, 200, await signUp(body));
    case "/test/api-key/create": {
      const { enabled, ...rest } = body;
      const created = await auth.api.createApiKey({ body: rest });
      if (enabled === false) {
        await auth.api.updateApiKey({ body: { keyId: created.id, userId: created.referenceId, enabled: false } });
      }
      return send(res, 200, { ...created, enabled: enabled ?? created.enabled });
    }
    case "/test/api-key/verify":
      return relay(res, auth.api.verifyApiKey({ body, asResponse: true }));
    case "/test/api-key/update": {
      const userId = body.userId ?? (await rawApiKey(body.keyId))?.referenceId;
      return relay(res, auth.api.updateApiKey({ body: { ...body, userId }, asResponse: true }));
    }
    case "/test/api-key/raw":
      return send(res, 200, await rawApiKey(body.id));
    case "/test/api-key/set":
      return send(res, 200, await setApiKeyFields(body.id, body.fields ?? {}));
  }
  return send(res, 404, { error: "no such test route" });
}

// An administrator's session for the OAuth provider's admin endpoints (they need one).
let oauthAdmin;
async function adminHeaders() {
  oauthAdmin ??= await signUp({ name: "OAuth admin" });
  return new Headers({ authorization: `Bearer ${oauthAdmin.token}` });
}

async function createOAuthClient(body) {
  const headers = await adminHeaders();
  const grantTypes = body.grant_types ?? ["client_credentials", "authorization_code", "refresh_token"];
  const client = await auth.api.adminCreateOAuthClient({
    headers,
    body: {
      client_name: body.client_name ?? "tower-bearer test client",
      grant_types: grantTypes,
      response_types: grantTypes.includes("authorization_code") ? ["code"] : undefined,
      redirect_uris: grantTypes.includes("authorization_code")
        ? body.redirect_uris ?? ["https://client.example/callback"]
        : body.redirect_uris,
      token_endpoint_auth_method: body.token_endpoint_auth_method ?? "client_secret_basic",
      client_credentials_scopes: grantTypes.includes("client_credentials")
        ? body.scopes ?? ["read", "write"]
        : undefined,
      skip_consent: body.skip_consent ?? true,
      ...(body.require_pkce !== undefined ? { require_pkce: body.require_pkce } : {}),
      ...(body.dpop_bound_access_tokens !== undefined
        ? { dpop_bound_access_tokens: body.dpop_bound_access_tokens }
        : {}),
    },
  });
  for (const identifier of body.resources ?? oauthResources) {
    await auth.api.adminLinkClientResource({ headers, params: { identifier, client_id: client.client_id } });
  }
  return client;
}

const base64url = (buffer) => Buffer.from(buffer).toString("base64url");
// The authorization code + PKCE flow, by HTTP requests to this very server.
async function oauthFlow(body) {
  const token = body.token ?? (await signUp()).token;
  const redirectUri = body.redirect_uri ?? "https://client.example/callback";
  const verifier = base64url(randomBytes(32));
  const challenge = base64url(createHash("sha256").update(verifier).digest());
  const state = base64url(randomBytes(16));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: body.client_id,
    redirect_uri: redirectUri,
    scope: body.scope ?? "openid profile email offline_access",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const resources = body.resource === undefined ? [] : [].concat(body.resource);
  for (const resource of resources) query.append("resource", resource);
  const session = { authorization: `Bearer ${token}` };
  const steps = [];
  let answer = await fetch(`${base}/api/auth/oauth2/authorize?${query}`, {
    headers: { ...session, accept: "application/json" },
    redirect: "manual",
  });
  let location = answer.headers.get("location");
  let json = location ? null : await answer.json().catch(() => null);
  steps.push({ request: "GET /api/auth/oauth2/authorize", status: answer.status, location, body: json });
  let target = location ?? json?.url ?? json?.redirect_uri;
  if (target && new URL(target, base).pathname === "/consent") {
    const oauthQuery = new URL(target, base).search.slice(1);
    answer = await fetch(`${base}/api/auth/oauth2/consent`, {
      method: "POST",
      headers: { ...session, "content-type": "application/json" },
      body: JSON.stringify({ accept: true, oauth_query: oauthQuery }),
    });
    json = await answer.json();
    steps.push({ request: "POST /api/auth/oauth2/consent", status: answer.status, body: json });
    target = json.redirect_uri ?? json.url;
  }
  const callback = target ? new URL(target) : null;
  const code = callback?.searchParams.get("code");
  if (!code || callback.searchParams.get("state") !== state) return { steps, error: "no code" };
  const form = new URLSearchParams({
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  for (const resource of resources) form.append("resource", resource);
  answer = await fetch(`${base}/api/auth/oauth2/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${body.client_id}:${body.client_secret}`).toString("base64")}`,
    },
    body: form,
  });
  const tokens = await answer.json();
  steps.push({ request: "POST /api/auth/oauth2/token", status: answer.status, body: tokens });
  return { code, status: answer.status, tokens, steps };
}

async function oauthRoute(req, res) {
  const body = await readJson(req);
  switch (req.url) {
    case "/test/oauth/client":
      return send(res, 200, await createOAuthClient(body));
    case "/test/oauth/flow":
      return send(res, 200, await oauthFlow(body));
  }
  return send(res, 404, { error: "no such test route" });
}

server.on("request", async (req, res) => {
  if (plugins.has("admin") && req.method === "POST" && req.url === "/test/set-role") {
    const { userId, role } = await readJson(req);
    const context = await auth.$context;
    await context.internalAdapter.updateUser(userId, { role });
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
    return;
  }
  try {
    if (req.method === "POST" && (req.url === "/test/user" || req.url.startsWith("/test/api-key/"))) {
      return await apiKeyRoute(req, res);
    }
    if (plugins.has("oauth-provider") && req.method === "POST" && req.url.startsWith("/test/oauth/")) {
      return await oauthRoute(req, res);
    }
  } catch (error) {
    return send(res, error.statusCode ?? 500, { error: String(error?.message ?? error), body: error?.body });
  }
  handler(req, res);
});
console.log(`listening on ${base}`);
