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
// Runs better-auth's migrations, listens on a free port of 127.0.0.1 and prints
// `listening on http://127.0.0.1:PORT`.
import http from "node:http";
import { betterAuth } from "better-auth";
import { admin, bearer, jwt, organization } from "better-auth/plugins";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";

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
    ...(env.BA_JWT
      ? [jwt({
          jwks: {
            keyPairConfig: { alg: env.BA_JWT },
            ...(env.BA_JWT_ROTATION ? { rotationInterval: Number(env.BA_JWT_ROTATION) } : {}),
          },
        })]
      : []),
  ],
  logger: { level: "error" },
};
const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);

const handler = toNodeHandler(auth);
server.on("request", async (req, res) => {
  if (plugins.has("admin") && req.method === "POST" && req.url === "/test/set-role") {
    let body = "";
    for await (const chunk of req) body += chunk;
    const { userId, role } = JSON.parse(body);
    const context = await auth.$context;
    await context.internalAdapter.updateUser(userId, { role });
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
    return;
  }
  handler(req, res);
});
console.log(`listening on ${base}`);
