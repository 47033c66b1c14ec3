// The web app of better-auth's Bearer plugin guide, bundled for the browser: it signs in with
// better-auth's client, keeps the token from `set-auth-token` in localStorage, and sends it as
// `Authorization: Bearer` to the API on another origin. `runFlow(base)` returns one entry per
// step; no entry carries a token.
import { createAuthClient } from "better-auth/client";

const KEY = "bearer_token";

// Opens a WebSocket, takes its greeting, sends "echo?" and takes the echo; or the error.
const openSocket = (url, protocols) =>
  new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    const got = [];
    const done = (result) => {
      clearTimeout(timer);
      ws.onclose = ws.onerror = ws.onmessage = null;
      ws.close();
      resolve(result);
    };
    const timer = setTimeout(() => done({ error: "timeout", got }), 5000);
    ws.onmessage = (event) => {
      got.push(event.data);
      if (got.length === 1) ws.send("echo?");
      else done({ greeting: got[0], echo: got[1], protocol: ws.protocol });
    };
    ws.onerror = () => done({ error: "error" });
  });

window.runFlow = async function runFlow(base) {
  const steps = [];
  const check = (ok, what, detail) => {
    steps.push({ ok: Boolean(ok), what, detail: ok ? undefined : JSON.stringify(detail ?? null) });
    if (!ok) throw new Error(`FAIL: ${what}`);
  };
  const token = () => localStorage.getItem(KEY) || "";
  try {
    // The guide's client: the token from set-auth-token kept in localStorage, and sent back
    // through fetchOptions.auth on every call.
    const client = createAuthClient({
      baseURL: base,
      fetchOptions: {
        auth: { type: "Bearer", token },
        onSuccess: (ctx) => {
          const value = ctx.response.headers.get("set-auth-token");
          if (value) localStorage.setItem(KEY, value);
        },
      },
    });

    const email = `browser-${Date.now()}@example.com`;
    const password = "browser-password";
    const signUp = await client.signUp.email({ name: "Browser", email, password });
    check(!signUp.error && signUp.data?.user?.email === email, "sign-up succeeds from another origin", signUp.error);
    check(token().length >= 43, "sign-up's token kept in localStorage from set-auth-token");
    const signUpToken = token();

    const signIn = await client.signIn.email({ email, password });
    check(!signIn.error && signIn.data?.user?.email === email, "sign-in succeeds", signIn.error);
    check(token().length >= 43 && token() !== signUpToken, "sign-in's token replaces it in localStorage");
    check(signIn.data.token === token(), "the body's token equals set-auth-token");

    const session = await client.getSession();
    check(session.data?.user?.email === email, "getSession with fetchOptions.auth returns the user", session.error);
    const list = await client.listSessions();
    check(Array.isArray(list.data) && list.data.length === 2, "listSessions shows both sessions", list.error ?? list.data?.length);

    // The guide's other form: a client created with a fixed Authorization header.
    const fixed = createAuthClient({
      baseURL: base,
      fetchOptions: { headers: { Authorization: `Bearer ${token()}` } },
    });
    const fixedSession = await fixed.getSession();
    check(fixedSession.data?.user?.email === email, "a client with a fixed Authorization header", fixedSession.error);

    // A per-request token in one call's fetchOptions, on a client that has none.
    const bare = createAuthClient({ baseURL: base });
    const perRequest = await bare.getSession({
      fetchOptions: { headers: { Authorization: `Bearer ${signUpToken}` } },
    });
    check(perRequest.data?.user?.email === email, "a per-request token in fetchOptions", perRequest.error);
    const noToken = await bare.getSession();
    check(noToken.data === null, "the bare client alone is anonymous", noToken.data);

    // A plain fetch to the API: with the token (a preflighted request), and without.
    const data = await fetch(`${base}/api/data`, { headers: { Authorization: `Bearer ${token()}` } });
    const body = await data.json();
    check(data.status === 200 && body.user?.email === email, "GET /api/data with the token", data.status);
    const anonymous = await fetch(`${base}/api/data`);
    check(anonymous.status === 401, "GET /api/data without a token is 401", anonymous.status);
    check(
      anonymous.headers.get("www-authenticate")?.startsWith("Bearer"),
      "the 401's Bearer challenge is exposed to the page",
      anonymous.headers.get("www-authenticate"),
    );

    // A WebSocket: the browser cannot set Authorization on the handshake, so the token goes
    // in a subprotocol entry (beside the protocol the server selects) or in the query.
    const wsBase = base.replace(/^http/, "ws");
    const b64url = btoa(token()).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const entry = `base64url.bearer.authorization.k8s.io.${b64url}`;
    const viaProtocol = await openSocket(`${wsBase}/api/ws`, ["chat", entry]);
    check(
      viaProtocol.greeting === `hello ${email}` && viaProtocol.echo === "echo?" && viaProtocol.protocol === "chat",
      "WebSocket with the token in a subprotocol greets the user",
      JSON.stringify(viaProtocol),
    );
    const viaQuery = await openSocket(`${wsBase}/api/ws?access_token=${encodeURIComponent(token())}`, ["chat"]);
    check(
      viaQuery.greeting === `hello ${email}` && viaQuery.echo === "echo?",
      "WebSocket with the token in the query greets the user",
      JSON.stringify(viaQuery),
    );
    const withoutToken = await openSocket(`${wsBase}/api/ws`, ["chat"]);
    check(
      withoutToken.error === "error" && withoutToken.greeting === undefined,
      "WebSocket without a token fails the handshake",
      JSON.stringify(withoutToken),
    );

    const signOut = await client.signOut();
    check(!signOut.error && signOut.data?.success === true, "signOut succeeds", signOut.error);
    const refused = await fetch(`${base}/api/data`, { headers: { Authorization: `Bearer ${token()}` } });
    check(refused.status === 401, "after signOut the token is refused", refused.status);
    const after = await client.getSession();
    check(after.data === null, "getSession is null after signOut", after.data);
    const stillValid = await bare.getSession({
      fetchOptions: { headers: { Authorization: `Bearer ${signUpToken}` } },
    });
    check(stillValid.data?.user?.email === email, "the sign-up session lives on", stillValid.error);
  } catch (error) {
    if (!String(error.message).startsWith("FAIL:")) {
      steps.push({ ok: false, what: "no exception", detail: String(error) });
    }
  }
  return steps;
};
