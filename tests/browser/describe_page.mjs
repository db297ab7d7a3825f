// End-to-end: the describe page in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), at
// a desktop size (1280×800) and a phone size (390×844). Starts describe_server (--model shapes, whatever the default)
// on a free loopback port and, at each size: checks the page before any image (the model line, no audio player, no
// history, a Play button that is disabled and looks it, no axe-core violations); uploads the bundled sample (on the
// desktop through the keyboard: Tab to the button, Enter, the file chooser), sees the busy state while the server
// works, then the caption, its ARIA live region, a playable WAV, and the caption and Play button inside the viewport
// without the test scrolling; runs axe-core again; saves a screenshot of the viewport; does the same layout check with
// a photo-sized image; uploads a file that is no image and checks that its error shows and that nothing of the previous
// result is left.
//   node tests/browser/describe_page.mjs SERVER_BINARY SAMPLE.jpg NOT_AN_IMAGE SCREENSHOT.png
// writes SCREENSHOT.png (desktop) and SCREENSHOT-mobile.png (phone).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const [server, sample, notImage, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error("usage: node describe_page.mjs SERVER_BINARY SAMPLE.jpg NOT_AN_IMAGE SCREENSHOT.png");
  process.exit(2);
}
const fail = (message) => { console.error("FAIL: " + message); process.exitCode = 1; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let axePath;
try {
  axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
} catch {
  console.error("FAIL: axe-core is not installed: run scripts/browser_deps.sh");
  process.exit(1);
}

const child = spawn(server, ["--port", "0", "--model", "shapes"], { stdio: ["ignore", "pipe", "pipe"] });
let serverLog = "";
child.stderr.on("data", (d) => { serverLog += d; });
const url = await new Promise((resolve, reject) => {
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
    if (m) resolve(m[0]);
  });
  child.on("exit", (code) => reject(new Error("describe_server exited with " + code + ": " + serverLog)));
  setTimeout(() => reject(new Error("describe_server did not start")), 20000);
});

// axe-core's violations on the page as it is now, one line each.
async function axeViolations(page) {
  // Evaluated rather than added as a <script>: the page's CSP (rightly) refuses scripts it did not bring.
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(readFileSync(axePath, "utf8"));
  return page.evaluate(async () => (await window.axe.run(document)).violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`));
}

async function checkAxe(page, when, label) {
  const violations = await axeViolations(page);
  for (const v of violations) fail(`${label}: axe ${when}: ${v}`);
  if (!violations.length) console.log(`${label}: axe ${when}: 0 violations`);
}

// Fails unless the element's box lies wholly inside the viewport as the page stands (the test never scrolls).
async function checkInView(page, selector, viewport, label) {
  const box = await page.locator(selector).boundingBox();
  if (!box) return fail(`${label}: ${selector} is not displayed`);
  const inside = box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height;
  console.log(`${label}: ${selector} at x=${box.x.toFixed(0)} y=${box.y.toFixed(0)} ${box.width.toFixed(0)}×${box.height.toFixed(0)}`);
  if (!inside) fail(`${label}: ${selector} is not inside the ${viewport.width}×${viewport.height} viewport`);
}

async function checkBeforeAnyImage(page, label) {
  const model = (await page.textContent("#model")).trim();
  if (model !== "Captions by shapes.nnck, a model that describes synthetic shapes.")
    fail(`${label}: the model line reads "${model}"`);
  if (await page.isVisible("#audio")) fail(`${label}: an empty audio player shows before any image`);
  if (await page.isVisible("#earlier")) fail(`${label}: the history heading shows before any image`);
  if (!(await page.isDisabled("#play"))) fail(`${label}: Play is enabled with nothing to play`);
  const look = await page.evaluate(() => [getComputedStyle(document.getElementById("play")).backgroundColor,
    getComputedStyle(document.getElementById("choose")).backgroundColor, getComputedStyle(document.getElementById("play")).cursor]);
  if (look[0] === look[1] || look[2] !== "not-allowed") fail(`${label}: the disabled Play looks like a working button: ${look}`);
  const favicon = await page.getAttribute("link[rel=icon]", "href");
  if (!favicon || !favicon.startsWith("data:image/png;base64,")) fail(`${label}: no inline favicon`);
  await checkAxe(page, "before any image", label);
}

async function upload(page, label, viaKeyboard) {
  if (!viaKeyboard) return page.setInputFiles("#file", sample);
  // Keyboard only: the first Tab reaches the button, Enter opens the file chooser.
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement.id);
  if (focused !== "choose") fail(`${label}: the first Tab lands on "${focused}", not the Choose button`);
  // Enter must open the picker: the hidden file input receives the click. (Waiting for Chromium's "filechooser"
  // event instead timed out about once in eight runs; the file itself is then given to the input.)
  await page.evaluate(() => {
    window.fileInputClicks = 0;
    document.getElementById("file").addEventListener("click", () => { window.fileInputClicks++; }, { once: true });
  });
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => window.fileInputClicks === 1, null, { timeout: 5000 })
    .catch(() => fail(`${label}: Enter on the Choose button does not open the file picker`));
  await page.setInputFiles("#file", sample);
}

async function checkBusy(page, label) {
  await page.waitForSelector("#busy", { state: "visible", timeout: 5000 }).catch(() => fail(`${label}: no visible busy state`));
  const state = await page.evaluate(() => ({ busy: document.getElementById("result").getAttribute("aria-busy"),
    text: document.getElementById("busy").textContent, play: document.getElementById("play").disabled }));
  if (state.busy !== "true") fail(`${label}: aria-busy is ${state.busy} while describing`);
  if (!state.text.includes("Describing")) fail(`${label}: the busy state says "${state.text}"`);
  if (!state.play) fail(`${label}: Play is enabled while describing`);
}

async function checkResult(page, viewport, label) {
  await page.waitForFunction(() => document.getElementById("caption").textContent.length > 0, null, { timeout: 20000 });
  const caption = await page.textContent("#caption");
  console.log(`${label}: caption: ${caption}`);
  for (const words of ["yellow triangle", "white square", "red circle"])
    if (!caption.includes(words)) fail(`${label}: caption "${caption}" does not name the ${words}`);
  if ((await page.getAttribute("#caption", "aria-live")) !== "polite") fail(`${label}: the caption is not an ARIA live region`);
  if ((await page.getAttribute("#result", "aria-busy")) !== "false") fail(`${label}: still aria-busy after the caption`);
  if (await page.isVisible("#busy")) fail(`${label}: the busy state stays after the caption`);
  if ((await page.getAttribute("#preview", "alt")) !== caption) fail(`${label}: the photo's alt text is not the caption`);
  const audio = await page.evaluate(async () => {
    const a = document.getElementById("audio");
    if (a.readyState < 1) await new Promise((r) => a.addEventListener("loadedmetadata", r, { once: true }));
    return { src: a.src.slice(0, 22), duration: a.duration, canPlay: a.canPlayType("audio/wav") };
  });
  if (audio.src !== "data:audio/wav;base64,") fail(`${label}: audio source is not an inline WAV: ${audio.src}`);
  if (!(audio.duration > 1)) fail(`${label}: audio is not playable or shorter than a second: ${audio.duration}`);
  if (audio.canPlay === "") fail(`${label}: the browser cannot play audio/wav`);
  if (await page.isDisabled("#play")) fail(`${label}: the play button is still disabled`);
  if ((await page.locator("#history li").count()) !== 1) fail(`${label}: the history does not hold the image`);
  if (!(await page.isVisible("#earlier"))) fail(`${label}: the history is hidden after an image`);
  await checkInView(page, "#caption", viewport, label);
  await checkInView(page, "#play", viewport, label);
}

// A photo-sized portrait image, as phones take them (the sample drawn at 480×640, a PNG made in the page): the layout
// must hold the caption and Play in view with a tall preview too, not only with the 96-pixel sample.
async function checkPhotoSized(page, viewport, label) {
  const dataUrl = await page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 480; canvas.height = 640;
    canvas.getContext("2d").drawImage(document.getElementById("preview"), 0, 0, 480, 640);
    return canvas.toDataURL("image/png");
  });
  await page.setInputFiles("#file", { name: "photo.png", mimeType: "image/png",
    buffer: Buffer.from(dataUrl.slice(dataUrl.indexOf(",") + 1), "base64") });
  await page.waitForFunction(() => document.getElementById("caption").textContent.length > 0 &&
    document.getElementById("result").getAttribute("aria-busy") === "false", null, { timeout: 20000 });
  const shown = await page.evaluate(() => [document.getElementById("preview").naturalWidth, document.getElementById("preview").height]);
  console.log(`${label}: 480×640 photo shown ${shown[1]} px high; caption: ${await page.textContent("#caption")}`);
  if (shown[0] !== 480) fail(`${label}: the preview does not show the 480×640 photo (${shown[0]} px wide)`);
  await checkInView(page, "#caption", viewport, label + " (photo)");
  await checkInView(page, "#play", viewport, label + " (photo)");
}

async function checkFailedUploadClears(page, label) {
  await page.setInputFiles("#file", notImage);
  await page.waitForFunction(() => document.getElementById("error").textContent.length > 0, null, { timeout: 20000 });
  const error = await page.textContent("#error");
  console.log(`${label}: error: ${error}`);
  if (!error.includes("is not a JPEG or PNG image")) fail(`${label}: a bad upload does not show the server's reason`);
  if ((await page.getAttribute("#error", "role")) !== "alert") fail(`${label}: the error is not in role=alert`);
  const left = await page.evaluate(() => {
    const $ = (id) => document.getElementById(id);
    return { photo: !$("preview").hidden || $("preview").hasAttribute("src"), alt: $("preview").alt,
      caption: $("caption").textContent, details: $("details").textContent,
      audio: !$("audio").hidden || $("audio").hasAttribute("src"), play: !$("play").disabled };
  });
  if (left.photo || left.alt || left.caption || left.details || left.audio || left.play)
    fail(`${label}: the failed upload left the previous result: ${JSON.stringify(left)}`);
  await checkAxe(page, "after a failed upload", label);
}

async function checkAtSize(browser, viewport, label, png, viaKeyboard) {
  const page = await browser.newPage({ viewport });
  page.on("pageerror", (e) => fail(`${label}: page error: ${e.message}`));
  // The page works under its own Content-Security-Policy: nothing of it is refused.
  page.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) fail(`${label}: CSP: ${m.text()}`); });
  // Each answer is held back 800 ms, so the busy state is there long enough to be seen on this fast model.
  await page.route("**/api/describe*", async (route) => { await sleep(800); await route.continue(); });
  await page.goto(url);
  await checkBeforeAnyImage(page, label);
  await upload(page, label, viaKeyboard);
  await checkBusy(page, label);
  await checkResult(page, viewport, label);
  await checkAxe(page, "after a caption", label);
  await page.screenshot({ path: png });
  await checkPhotoSized(page, viewport, label);
  await checkFailedUploadClears(page, label);
  await page.close();
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  await checkAtSize(browser, { width: 1280, height: 800 }, "desktop 1280×800", screenshot, true);
  await checkAtSize(browser, { width: 390, height: 844 }, "phone 390×844", screenshot.replace(/\.png$/, "") + "-mobile.png", false);
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await browser.close();
  child.kill("SIGINT");
}
// The server logged every request on its own line.
if (!/^POST \/api\/describe 200 \d+ ms$/m.test(serverLog)) fail("describe_server logged no 'POST /api/describe 200 N ms' line: " + serverLog);
if (!process.exitCode) console.log("ok: describe page works in Chromium");
