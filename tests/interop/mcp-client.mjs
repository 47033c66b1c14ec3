// The official MCP TypeScript SDK's client (@modelcontextprotocol/sdk, StreamableHTTPClientTransport)
// against an MCP server protected by tower-bearer, for the MCP interop tests.
//
// Usage: node mcp-client.mjs MODE --url http://127.0.0.1:PORT/mcp [--token T] [--header]
//                                 [--timeout SECONDS]
// Modes:
//   unauthenticated  connect (initialize) without an auth provider and without a token. The
//                    SDK does not run its OAuth flow then: a 401 is a StreamableHTTPError with
//                    code 401 (UnauthorizedError is what an auth provider's flow ends in).
//   discover         connect with an OAuthClientProvider that has no tokens: on the 401 the SDK
//                    reads the WWW-Authenticate challenge (resource_metadata, scope), runs its
//                    own auth(): protected resource metadata, authorization server metadata,
//                    dynamic client registration (a public client, redirect_uri
//                    http://127.0.0.1:1/callback), and "redirects" to the authorization URL;
//                    the provider records it and connect() ends in UnauthorizedError.
//   login            discover, then play the user agent: follow the authorization URL with a
//                    cookie jar until it redirects to the redirect_uri (an authorization server
//                    whose login needs no user, as tests/interop/oidc-provider.mjs's), hand the
//                    code to transport.finishAuth() (the SDK's token request), connect again
//                    with the SDK's tokens, listTools and call `whoami`.
//   call             with --token: connect, listTools, callTool `whoami` (no arguments). The
//                    token is the auth provider's (so a 401 or a 403 insufficient_scope runs the
//                    SDK's auth(), whose authorization URL is recorded), or with --header a plain
//                    `Authorization: Bearer` header and no provider (the SDK only reports errors).
//
// Output: ONE line of JSON on stdout, whatever happens, then exit 0 (2 for a usage error):
//   {mode, ok, tools?, result?, error?, code?, message?, authorizationUrl?, params?,
//    registration?, tokenResponse?, requests}
//   ok        true when the mode's flow got an answer from the tool (call, login) or, for
//             discover, when the SDK reached its authorization URL; false otherwise
//   tools     the names listTools returned
//   result    the whoami call's result: {content, structuredContent?, isError?}
//   error     the class name of the error that ended the flow (UnauthorizedError,
//             StreamableHTTPError, McpError, Error…), code its `code` if it has one (the HTTP
//             status for a StreamableHTTPError), message its message
//   authorizationUrl, params  the URL the SDK redirected to and its query parameters
//   registration  what dynamic registration returned, without client_secret
//   tokenResponse (login) the SDK's token response, with the tokens replaced by their JWT
//             header and claims (or "<opaque>")
//   requests  every HTTP request the SDK sent, in order: {method, url, headers (accept,
//             content-type, mcp-protocol-version, mcp-session-id; authorization as
//             "Bearer <redacted>" / "Basic <redacted>"), rpc (the JSON-RPC method), form (a
//             token request's parameters, secrets redacted), json (a registration body),
//             status, www_authenticate (the response's WWW-Authenticate, if any)}
// No token is printed whole.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt, decodeProtectedHeader } from "jose";

const REDIRECT_URI = "http://127.0.0.1:1/callback";

function usage(message) {
  console.error(`mcp-client.mjs: ${message}`);
  console.error("usage: node mcp-client.mjs unauthenticated|discover|login|call --url URL [--token T] [--header] [--timeout SECONDS]");
  process.exit(2);
}

const argv = process.argv.slice(2);
const mode = argv.shift();
const opts = { url: undefined, token: undefined, header: false, timeout: 30 };
for (let i = 0; i < argv.length; i++) {
  const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${argv[i]} needs a value`));
  switch (argv[i]) {
    case "--url": opts.url = value(); break;
    case "--token": opts.token = value(); break;
    case "--header": opts.header = true; break;
    case "--timeout": opts.timeout = Number(value()); break;
    default: usage(`unknown argument ${argv[i]}`);
  }
}
if (!["unauthenticated", "discover", "login", "call"].includes(mode)) usage(`unknown mode ${mode}`);
if (!opts.url) usage("--url is required");
if (mode === "call" && !opts.token) usage("call needs --token");

const out = { mode, ok: false };
const requests = [];
let printed = false;
function finish() {
  if (printed) return;
  printed = true;
  process.stdout.write(JSON.stringify({ ...out, requests }) + "\n");
  process.exit(0);
}
setTimeout(() => {
  Object.assign(out, { ok: false, error: "Timeout", message: `no outcome within ${opts.timeout}s` });
  finish();
}, opts.timeout * 1000).unref();

const redactAuth = (v) => (v ? v.replace(/^(\w+)\s+.*$/, "$1 <redacted>") : undefined);
const SECRET_FORM = new Set(["code", "code_verifier", "refresh_token", "client_secret", "client_assertion"]);

function describeBody(body, headers) {
  if (body == null) return {};
  const text = body instanceof URLSearchParams ? body.toString() : typeof body === "string" ? body : undefined;
  if (text === undefined) return {};
  const type = headers.get("content-type") ?? "";
  if (type.includes("application/x-www-form-urlencoded") || body instanceof URLSearchParams) {
    const form = Object.fromEntries(new URLSearchParams(text));
    for (const k of Object.keys(form)) if (SECRET_FORM.has(k)) form[k] = "<redacted>";
    return { form };
  }
  try {
    const json = JSON.parse(text);
    if (json && typeof json === "object" && "jsonrpc" in json) return { rpc: json.method ?? "(response)" };
    if (Array.isArray(json)) return { rpc: json.map((m) => m.method ?? "(response)").join(",") };
    return { json };
  } catch {
    return {};
  }
}

// The fetch the SDK gets, for the transport and for its auth() alike: records each request.
async function recordingFetch(input, init = {}) {
  const url = input instanceof Request ? input.url : String(input);
  const headers = new Headers(input instanceof Request ? input.headers : undefined);
  for (const [k, v] of new Headers(init.headers ?? {})) headers.set(k, v);
  const entry = {
    method: (init.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase(),
    url,
    headers: Object.fromEntries(
      ["accept", "content-type", "mcp-protocol-version", "mcp-session-id", "authorization"]
        .filter((h) => headers.has(h))
        .map((h) => [h, h === "authorization" ? redactAuth(headers.get(h)) : headers.get(h)]),
    ),
    ...describeBody(init.body, headers),
  };
  requests.push(entry);
  try {
    const res = await fetch(input, init);
    entry.status = res.status;
    const www = res.headers.get("www-authenticate");
    if (www) entry.www_authenticate = www;
    return res;
  } catch (err) {
    entry.error = String(err?.cause?.code ?? err?.message ?? err);
    throw err;
  }
}

function describeToken(token) {
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch {
    return "<opaque>";
  }
}

// An OAuthClientProvider that keeps everything in memory and records what the SDK hands it.
class RecordingProvider {
  constructor(token) {
    this._tokens = token ? { access_token: token, token_type: "Bearer" } : undefined;
    this._client = undefined;
    this._verifier = undefined;
  }
  get redirectUrl() { return REDIRECT_URI; }
  get clientMetadata() {
    return {
      client_name: "tower-bearer interop (MCP TypeScript SDK)",
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() { return this._client; }
  saveClientInformation(info) {
    this._client = info;
    const { client_secret, registration_access_token, ...shown } = info;
    out.registration = shown;
  }
  tokens() { return this._tokens; }
  saveTokens(tokens) {
    this._tokens = tokens;
    out.tokenResponse = {
      ...tokens,
      access_token: describeToken(tokens.access_token),
      ...(tokens.refresh_token ? { refresh_token: "<redacted>" } : {}),
      ...(tokens.id_token ? { id_token: describeToken(tokens.id_token) } : {}),
    };
  }
  redirectToAuthorization(url) {
    out.authorizationUrl = url.href;
    out.params = Object.fromEntries(url.searchParams);
  }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
}

function recordError(err) {
  out.ok = false;
  out.error = err?.constructor?.name ?? typeof err;
  if (err?.code !== undefined) out.code = err.code;
  out.message = String(err?.message ?? err);
}

function transport(provider, headers) {
  return new StreamableHTTPClientTransport(new URL(opts.url), {
    fetch: recordingFetch,
    ...(provider ? { authProvider: provider } : {}),
    ...(headers ? { requestInit: { headers } } : {}),
  });
}

async function useTools(t) {
  const client = new Client({ name: "tower-bearer-interop", version: "1.0.0" });
  await client.connect(t);
  try {
    const { tools } = await client.listTools();
    out.tools = tools.map((tool) => tool.name);
    const r = await client.callTool({ name: "whoami", arguments: {} });
    out.result = { content: r.content, ...(r.structuredContent ? { structuredContent: r.structuredContent } : {}), ...(r.isError ? { isError: true } : {}) };
    out.ok = !r.isError;
  } finally {
    await client.close().catch(() => {});
  }
}

// Follows the authorization URL like a browser with cookies, up to the redirect to REDIRECT_URI.
async function userAgent(url) {
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
      throw new Error(`the authorization flow stopped at ${res.status} ${url}: ${(await res.text()).slice(0, 500)}`);
    }
    await res.body?.cancel();
    const next = new URL(location, url);
    if (next.href.startsWith(REDIRECT_URI)) return next;
    url = next.href;
  }
  throw new Error("too many redirects in the authorization flow");
}

try {
  if (mode === "unauthenticated") {
    await useTools(transport());
  } else if (mode === "call") {
    await useTools(
      opts.header
        ? transport(undefined, { authorization: `Bearer ${opts.token}` })
        : transport(new RecordingProvider(opts.token)),
    );
  } else {
    const provider = new RecordingProvider();
    const t = transport(provider);
    try {
      await new Client({ name: "tower-bearer-interop", version: "1.0.0" }).connect(t);
      throw new Error("connected without authorization");
    } catch (err) {
      recordError(err);
      if (!out.authorizationUrl) throw err;
      out.ok = mode === "discover";
    }
    if (mode === "login") {
      for (const k of ["error", "code", "message"]) delete out[k];
      const redirect = await userAgent(out.authorizationUrl);
      out.callback = Object.fromEntries([...redirect.searchParams].map(([k, v]) => [k, k === "code" ? "<redacted>" : v]));
      const code = redirect.searchParams.get("code");
      if (!code) throw new Error(`the authorization server answered ${redirect.search}`);
      await t.finishAuth(code);
      await useTools(transport(provider));
    }
  }
} catch (err) {
  recordError(err);
}
finish();
