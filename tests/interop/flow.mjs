// Drives examples/server.rs with better-auth's own JS client, exactly as better-auth's Bearer
// plugin guide does. Usage: node flow.mjs http://127.0.0.1:PORT
// Prints one line per step; exits non-zero on the first failure.
import { createAuthClient } from "better-auth/client";

const base = process.argv[2];
if (!base) {
  console.error("usage: node flow.mjs BASE_URL");
  process.exit(2);
}
const credentials = { email: "user@example.com", password: "securepassword" };

function check(ok, what, detail) {
  if (!ok) {
    console.error(`FAIL: ${what}${detail === undefined ? "" : ": " + JSON.stringify(detail)}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

// A client that keeps its token the way the guide shows: from set-auth-token on success.
function bearerClient() {
  const state = { token: undefined };
  const client = createAuthClient({
    baseURL: base,
    fetchOptions: {
      auth: { type: "Bearer", token: () => state.token },
      onSuccess: (ctx) => {
        const token = ctx.response.headers.get("set-auth-token");
        if (token) state.token = token;
      },
    },
  });
  return { client, state };
}

const first = bearerClient();
const bad = await first.client.signIn.email({ ...credentials, password: "wrong-password" });
check(bad.error?.status === 401 && bad.error?.code === "INVALID_EMAIL_OR_PASSWORD", "wrong password is refused", bad.error);

const signIn = await first.client.signIn.email(credentials);
check(!signIn.error, "sign-in succeeds", signIn.error);
// Details printed on failure never include a token: the checks below pass user or session
// objects, which carry none.
check(typeof first.state.token === "string" && first.state.token.length >= 43, "token taken from set-auth-token");
check(signIn.data.token === first.state.token, "body token equals set-auth-token");
check(signIn.data.user.email === credentials.email, "sign-in returns the user", signIn.data.user);

const session = await first.client.getSession();
check(!session.error && session.data?.user?.email === credentials.email, "getSession returns the user", session);
check(session.data.session.userId === signIn.data.user.id, "getSession's session belongs to the user", session.data.session);
check(session.data.session.expiresAt instanceof Date && session.data.session.expiresAt > new Date(), "expiresAt parses as a future Date", session.data.session.expiresAt);

let list = await first.client.listSessions();
check(!list.error && Array.isArray(list.data) && list.data.length === 1, "listSessions shows one session", list);

const data = await fetch(`${base}/api/data`, { headers: { Authorization: `Bearer ${first.state.token}` } });
const dataBody = await data.json();
check(data.status === 200 && dataBody.user.email === credentials.email, "GET /api/data with the bearer token", dataBody);
const anonymous = await fetch(`${base}/api/data`);
check(anonymous.status === 401 && anonymous.headers.get("www-authenticate")?.startsWith("Bearer"), "GET /api/data without a token is 401 with a Bearer challenge", anonymous.status);

const second = bearerClient();
const signIn2 = await second.client.signIn.email(credentials);
check(!signIn2.error && second.state.token && second.state.token !== first.state.token, "a second sign-in gets its own token");
list = await first.client.listSessions();
check(list.data?.length === 2, "listSessions shows both sessions", list.data);

const revoked = await first.client.revokeOtherSessions();
check(!revoked.error && revoked.data?.status === true, "revokeOtherSessions succeeds", revoked);
const secondSession = await second.client.getSession();
check(secondSession.data === null, "the other session is gone", secondSession.data);
list = await first.client.listSessions();
check(list.data?.length === 1, "listSessions shows one session again", list.data);

const signOut = await first.client.signOut();
check(!signOut.error && signOut.data?.success === true, "signOut succeeds", signOut);
const after = await first.client.getSession();
check(!after.error && after.data === null, "getSession returns null after signOut", after);
const afterList = await first.client.listSessions();
check(afterList.error?.status === 401, "listSessions is 401 after signOut", afterList.error);

console.log("interop: all steps passed");
process.exit(0);
