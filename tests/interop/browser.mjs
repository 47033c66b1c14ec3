// Runs browser/app.js in headless Chromium (Debian's, driven by playwright-core: no browser
// download), served from one loopback origin, against the example server on another.
// Usage: node browser.mjs API_BASE. Prints one line per step; exits non-zero on any failure.
import { createServer } from "node:http";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const api = process.argv[2];
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!api) {
  console.error("usage: node browser.mjs API_BASE");
  process.exit(2);
}
if (!existsSync(executablePath)) {
  console.error(`Chromium is missing at ${executablePath}: apt-get install chromium`);
  process.exit(3);
}

const bundle = await build({
  entryPoints: [join(here, "browser/app.js")],
  bundle: true,
  write: false,
  format: "iife",
  platform: "browser",
  logLevel: "error",
});
const script = bundle.outputFiles[0].text;
const page = `<!doctype html><meta charset="utf-8"><title>tower-bearer</title><script src="/app.js"></script>`;

// The page's origin: `localhost`, while the API is on 127.0.0.1 (another origin).
const server = createServer((req, res) => {
  if (req.url === "/app.js") {
    res.writeHead(200, { "content-type": "text/javascript" });
    res.end(script);
  } else {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(page);
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://localhost:${server.address().port}`;

const userDataDir = mkdtempSync(join(tmpdir(), "tower-bearer-chromium-"));
let failed = true;
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const tab = await context.newPage();
  const consoleErrors = [];
  tab.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push(msg.text());
  });
  await tab.goto(`${origin}/`);
  const steps = await tab.evaluate((base) => window.runFlow(base), api);
  for (const step of steps) {
    console.log(`${step.ok ? "ok" : "FAIL"}: ${step.what}${step.detail ? " " + step.detail : ""}`);
  }
  // The one 401 the flow provokes on purpose shows as a console error; CORS failures too.
  const cors = consoleErrors.filter((e) => /CORS|Access-Control/i.test(e));
  for (const e of cors) console.log(`FAIL: console: ${e}`);
  failed = steps.length === 0 || steps.some((s) => !s.ok) || cors.length > 0;
  if (!failed) console.log(`browser: all steps passed (page ${origin}, API ${api})`);
} finally {
  await context?.close();
  server.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
