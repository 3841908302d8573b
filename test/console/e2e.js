// End-to-end test of knit's web console in a real headless Chromium
// (Debian's chromium package, driven by playwright-core; no browser is
// downloaded). cmd/knit/console_e2e_test.go prepares the coffee example,
// starts `knit serve` and runs this script; it exits non-zero on the first
// step that fails, saying which.
//
// Environment: KNIT_URL (the server), KNIT_ADMIN_TOKEN, ARTIFACTS (folder
// for the screenshots), CHROMIUM (default /usr/bin/chromium).
"use strict";
const { chromium } = require("playwright-core");
const path = require("path");

const base = process.env.KNIT_URL;
const token = process.env.KNIT_ADMIN_TOKEN;
const artifacts = process.env.ARTIFACTS;
if (!base || !token || !artifacts) {
  console.error("set KNIT_URL, KNIT_ADMIN_TOKEN and ARTIFACTS");
  process.exit(2);
}

let step = "start";
let shot = 0;
function check(cond, what) {
  if (!cond) throw new Error(what);
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium" });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // The console's pages must not break in the browser: a script error or
  // a resource the Content Security Policy blocks fails the test.
  const problems = [];
  page.on("pageerror", (e) => problems.push("script error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push("console error: " + m.text()); });
  // Chromium asks every site for /favicon.ico; the console has none.
  page.on("response", (r) => { if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) problems.push(r.status() + " " + r.url()); });
  page.on("dialog", (d) => d.accept()); // "Start a batch run now?"
  const snap = async (name) => {
    shot++;
    const file = path.join(artifacts, String(shot).padStart(2, "0") + "-" + name + ".png");
    await page.screenshot({ path: file, fullPage: true });
    console.log("screenshot " + file);
  };
  const text = async (sel) => (await page.locator(sel).innerText()).trim();

  try {
    step = "sign in";
    await page.goto(base + "/console/");
    check(page.url().includes("/console/signin"), "an anonymous visit is sent to the sign-in page, got " + page.url());
    await snap("signin");
    await page.getByLabel("Read or admin token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(base + "/console/");
    check((await text(".role")) === "admin", "the session is an admin session");
    await snap("home");

    step = "search for Unknown1";
    await page.getByRole("link", { name: "Customers" }).click();
    await page.getByLabel("Search").fill("Unknown1");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/\/console\/customers\?q=Unknown1/);
    const hits = page.locator("table tbody tr");
    check((await hits.count()) === 1, "one customer matches Unknown1, found " + (await hits.count()));
    await snap("search-unknown1");

    step = "open the merged profile";
    await hits.first().locator("a").first().click();
    await page.waitForURL(/\/console\/customers\/[0-9a-f-]{36}$/);
    const janeURL = page.url();
    const jane = janeURL.split("/").pop();
    const body = await page.locator("main").innerText();
    check(body.includes("Jane"), "the profile Unknown1 belongs to is Jane's");
    check(body.includes("web/Unknown1"), "the profile holds the web/Unknown1 record");

    step = "see the pre-sign-in page views marked while unknown";
    const unknownRows = page.locator("tr.while-unknown");
    check((await unknownRows.count()) >= 1, "the timeline marks activities that happened while unknown");
    const first = await unknownRows.first().innerText();
    check(first.includes("Product view") && first.includes("while unknown"), "the page view before sign-in is marked while unknown: " + first);
    const later = await page.locator("tr:not(.while-unknown)", { hasText: "Checkout" }).count();
    check(later >= 1, "the checkout after sign-in is not marked while unknown");
    await page.locator("#timeline-title").scrollIntoViewIfNeeded();
    await snap("profile-360");

    step = "open why merged";
    await page.getByRole("link", { name: "Why were these records merged?" }).click();
    await page.waitForURL(janeURL + "/why");
    check(await page.locator("svg.why-graph").isVisible(), "the graph is drawn");
    check((await page.locator("svg.why-graph text", { hasText: "web/Unknown1" }).count()) === 1, "web/Unknown1 is a node of the graph");
    check((await page.locator("svg.why-graph .edge").count()) >= 4, "the graph has Jane's links");
    await snap("why-merged");

    step = "add a never-match override";
    await page.getByRole("button", { name: "Never match loyalty/707 and web/Unknown1" }).click();
    await page.waitForURL(/stored=never_match/);
    const notice = await text("#stored");
    check(notice.includes("Override stored") && notice.includes("next run applies it"), "the page says the override is stored and applied by the next run: " + notice);
    check((await text("#overrides")).includes("applied by the next run"), "the stored pair is listed as pending");
    await snap("override-stored");

    step = "start a run";
    await page.getByRole("link", { name: "Runs" }).first().click();
    await page.waitForURL(base + "/console/runs");
    await page.getByRole("button", { name: "Start a run" }).click();
    // The page reloads every few seconds until the run ends.
    await page.locator("#live-title ~ dl .status-succeeded, #live-title ~ dl .status-failed").waitFor({ timeout: 120000 });
    check((await page.locator("#live-title ~ dl .status-succeeded").count()) === 1, "the run succeeded: " + (await page.locator("main").innerText()));
    await snap("runs");

    step = "see the split";
    await page.goto(janeURL + "/why");
    check((await page.locator("svg.why-graph text", { hasText: "web/Unknown1" }).count()) === 0, "web/Unknown1 left Jane's graph");
    check((await text("#overrides")).includes("in effect"), "the override is in effect after the run");
    check((await page.locator("section[aria-labelledby=refused-title]").innerText()).includes("never-match override"), "the refused link is listed with its guard");
    await snap("why-after-split");
    await page.goto(janeURL);
    check(!(await page.locator("main").innerText()).includes("web/Unknown1"), "Jane's profile no longer holds web/Unknown1");
    await page.goto(base + "/console/customers?q=Unknown1");
    const split = page.locator("table tbody tr");
    check((await split.count()) === 1, "Unknown1 is still found");
    const splitRow = await split.first().innerText();
    check(splitRow.includes("unknown"), "Unknown1 is an unknown profile of its own: " + splitRow);
    const splitHref = await split.first().locator("a").first().getAttribute("href");
    check(!splitHref.endsWith(jane), "Unknown1's profile is not Jane's");
    await snap("search-after-split");

    step = "the other pages";
    for (const [name, url] of [["unify", "/console/unify"], ["rejected-rows", "/console/unify/rejected"], ["segments", "/console/segments"]]) {
      await page.goto(base + url);
      check((await page.locator("h1").innerText()).length > 0, name + " has a heading");
      await snap(name);
    }
    await page.getByRole("link", { name: "no_loyalty_no_checkout", exact: true }).click();
    check((await page.locator("h1").innerText()).includes("no_loyalty_no_checkout"), "a segment's page opens from the list");
    check((await page.locator("main table tbody tr").count()) >= 1, "the segment's members are previewed");
    await snap("segment");
    check(problems.length === 0, "the browser reported problems:\n  " + problems.join("\n  "));
    console.log("ok: " + shot + " screenshots in " + artifacts);
    console.log("jane " + jane);
  } catch (e) {
    console.error("FAILED at step \"" + step + "\": " + e.message);
    try { await snap("failure"); } catch (_) { /* the page may be gone */ }
    await browser.close();
    process.exit(1);
  }
  await browser.close();
})().catch((e) => {
  console.error("FAILED at step \"" + step + "\": " + e.message);
  process.exit(1);
});
