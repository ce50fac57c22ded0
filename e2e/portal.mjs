// End-to-end portal test in a real browser: Debian's chromium driven by playwright-core.
// Run by crates/cli/tests/portal_browser.rs against a server it starts:
//   BASE_URL=http://127.0.0.1:PORT ADMIN_PASSWORD=… SCREENSHOTS=target/portal-screenshots node e2e/portal.mjs
import { chromium } from "playwright-core";
import { mkdirSync, rmSync } from "node:fs";

const base = process.env.BASE_URL;
const password = process.env.ADMIN_PASSWORD;
const shots = process.env.SCREENSHOTS || "target/portal-screenshots";
const sample = process.env.SAMPLE_DOCUMENT || "";
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
rmSync(shots, { recursive: true, force: true });
mkdirSync(shots, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function tokenStatus(clientId, clientSecret) {
  const response = await fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: clientId,
      client_secret: clientSecret,
      grant_type: "client_credentials",
      audience: "https://api.sitecorecloud.io",
    }),
  });
  return response.status;
}

async function settledContent(page) {
  for (let attempt = 0; attempt < 25; attempt++) {
    try {
      return await page.content();
    } catch (error) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return page.content();
}

async function until(what, check, timeoutMs = 30000) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const failures = [];
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
page.on("console", (message) => { if (message.type() === "error") failures.push(`console: ${message.text()}`); });
// Nothing may be loaded from anywhere but the server.
page.on("request", (request) => {
  if (!request.url().startsWith(base) && !request.url().startsWith("data:")) {
    failures.push(`external request: ${request.url()}`);
  }
});

try {
  // Sign in.
  await page.goto(`${base}/portal`);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.screenshot({ path: `${shots}/01-sign-in.png` });
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/portal/admin/keys`);
  await page.getByRole("heading", { name: "Brand Kit keys" }).waitFor();

  // Create a credential through the dialog.
  await page.getByRole("link", { name: "Create credential" }).click();
  const dialog = page.getByRole("dialog", { name: "Create New Client" });
  await dialog.waitFor();
  await dialog.getByLabel("Label").fill("Browser test");
  await dialog.getByLabel("Description (optional)").fill("created by the end-to-end test");
  await page.screenshot({ path: `${shots}/02-create-dialog.png` });
  await dialog.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name: "Credential created" }).waitFor();
  const clientId = await page.getByLabel("Client ID").inputValue();
  const clientSecret = await page.getByLabel("Client Secret").inputValue();
  check(clientSecret.startsWith("bss_"), `unexpected secret shape`);
  check((await page.content()).includes("The Client Secret is displayed only once and cannot be retrieved later."), "warning missing");
  await page.screenshot({ path: `${shots}/03-secret-once.png` });
  check(await tokenStatus(clientId, clientSecret) === 200, "the new credential does not get a token");

  // Done, then reload and go back: the secret is nowhere.
  await page.getByRole("button", { name: "Done" }).click();
  await page.waitForURL((url) => url.pathname === "/portal/admin/keys");
  await page.reload();
  check(!(await page.content()).includes(clientSecret), "secret visible after Done and reload");
  // Going back to the page that showed it must not show it again: the browser may not
  // re-display a no-store POST response (ERR_CACHE_MISS), or shows an earlier page.
  await page.goBack().catch((error) => {
    if (!String(error).includes("ERR_CACHE_MISS")) throw error;
  });
  check(!(await settledContent(page)).includes(clientSecret), "secret visible after going back");
  await page.goto(`${base}/portal/admin/keys`);
  const row = page.locator(`tr[data-client-id="${clientId}"]`);
  await row.waitFor();
  await page.screenshot({ path: `${shots}/04-keys.png` });

  // Rotate (confirm), then revoke (confirm): the token request fails afterwards.
  page.on("dialog", (confirmation) => confirmation.accept());
  await row.getByRole("button", { name: "Rotate secret" }).click();
  await page.getByRole("heading", { name: "New secret" }).waitFor();
  const rotated = await page.getByLabel("Client Secret").inputValue();
  check(rotated !== clientSecret, "rotation returned the same secret");
  check(await tokenStatus(clientId, rotated) === 200, "the rotated secret does not work");
  await page.getByRole("button", { name: "Done" }).click();
  await page.waitForURL((url) => url.pathname === "/portal/admin/keys");
  await page.locator(`tr[data-client-id="${clientId}"]`).getByRole("button", { name: "Revoke" }).click();
  await page.locator(`tr[data-client-id="${clientId}"]`).getByText("Revoked").waitFor();
  check(await tokenStatus(clientId, rotated) === 401, "a revoked credential still gets tokens");
  check(await tokenStatus(clientId, clientSecret) === 401, "the first secret still works after revoke");

  // The audit trail shows what happened.
  await page.getByRole("link", { name: "Audit" }).click();
  await page.getByText("credential.revoked").first().waitFor();
  await page.screenshot({ path: `${shots}/05-audit.png` });

  // A phone-sized viewport still shows the keys table and navigation.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/portal/admin/keys`);
  await page.screenshot({ path: `${shots}/06-keys-phone.png`, fullPage: true });

  if (sample) {
    await page.setViewportSize({ width: 1280, height: 900 });
    // Create a kit, upload a sample document, ingest it, see the subsections fill.
    await page.getByRole("link", { name: "Brand kits" }).click();
    await page.getByLabel("Name").fill("Browser kit");
    await page.getByRole("button", { name: "Create kit" }).click();
    await page.getByRole("heading", { name: "Browser kit" }).waitFor();
    await page.getByLabel("Document").setInputFiles(sample);
    await page.getByRole("button", { name: "Upload" }).click();
    await page.getByText("pending").first().waitFor();
    await page.getByRole("button", { name: "Start ingestion" }).click();
    await until("the run to succeed", async () => {
      // The kit page refreshes itself while a run is active: our reload may collide with
      // its own (the page is briefly detached), so a failed reload just means "look again".
      await page.reload().catch(() => {});
      await page.waitForLoadState("load").catch(() => {});
      return (await settledContent(page)).includes("Succeeded");
    });
    await page.getByText("processed").first().waitFor();
    // The page seen last may have been the kit page's own refresh still loading (its HTML
    // read up to the run table): read it once it has loaded.
    let content = "";
    await until("the filled subsections to show", async () => {
      await page.waitForLoadState("load").catch(() => {});
      content = await settledContent(page);
      return /#[0-9A-F]{6}/i.test(content);
    }, 10000).catch(() => {});
    check(content.includes("Colour palettes"), "subsections not shown");
    check(/#[0-9A-F]{6}/i.test(content), "no colour codes filled in");
    await page.screenshot({ path: `${shots}/07-kit-filled.png`, fullPage: true });
  }
} catch (error) {
  await page.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
  failures.push(error.stack || String(error));
} finally {
  await browser.close();
}

if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log("portal end-to-end: ok");
