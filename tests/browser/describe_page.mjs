// End-to-end: the describe page in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
// Starts describe_server on a free loopback port, loads the page, uploads the bundled sample with the keyboard-
// reachable file input, waits for the caption, checks it and that the audio element has a playable WAV, that the
// caption sits in an ARIA live region, that a bad upload shows its error, and saves a screenshot.
//   node tests/browser/describe_page.mjs SERVER_BINARY SAMPLE.jpg NOT_AN_IMAGE SCREENSHOT.png
import { spawn } from "node:child_process";
import { chromium } from "playwright-core";

const [server, sample, notImage, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error("usage: node describe_page.mjs SERVER_BINARY SAMPLE.jpg NOT_AN_IMAGE SCREENSHOT.png");
  process.exit(2);
}
const fail = (message) => { console.error("FAIL: " + message); process.exitCode = 1; };

const child = spawn(server, ["--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
const url = await new Promise((resolve, reject) => {
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
    if (m) resolve(m[0]);
  });
  child.on("exit", (code) => reject(new Error("describe_server exited with " + code)));
  setTimeout(() => reject(new Error("describe_server did not start")), 20000);
});

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  page.on("pageerror", (e) => fail("page error: " + e.message));
  await page.goto(url);
  await page.setInputFiles("#file", sample);
  await page.waitForFunction(() => document.getElementById("caption").textContent.length > 0, null, { timeout: 20000 });
  const caption = await page.textContent("#caption");
  console.log("caption: " + caption);
  for (const words of ["yellow triangle", "white square", "red circle"])
    if (!caption.includes(words)) fail(`caption "${caption}" does not name the ${words}`);
  if ((await page.getAttribute("#caption", "aria-live")) !== "polite") fail("the caption is not an ARIA live region");
  const audio = await page.evaluate(async () => {
    const a = document.getElementById("audio");
    if (a.readyState < 1) await new Promise((r) => a.addEventListener("loadedmetadata", r, { once: true }));
    return { src: a.src.slice(0, 22), duration: a.duration, canPlay: a.canPlayType("audio/wav") };
  });
  console.log("audio: " + JSON.stringify(audio));
  if (audio.src !== "data:audio/wav;base64,") fail("audio source is not an inline WAV: " + audio.src);
  if (!(audio.duration > 1)) fail("audio is not playable or shorter than a second: " + audio.duration);
  if (audio.canPlay === "") fail("the browser cannot play audio/wav");
  if (await page.isDisabled("#play")) fail("the play button is still disabled");
  if ((await page.locator("#history li").count()) !== 1) fail("the history does not hold the image");
  await page.screenshot({ path: screenshot, fullPage: true });

  await page.setInputFiles("#file", notImage);
  await page.waitForFunction(() => document.getElementById("error").textContent.length > 0, null, { timeout: 20000 });
  const error = await page.textContent("#error");
  console.log("error: " + error);
  if (!error.includes("is not a JPEG or PNG image")) fail("a bad upload does not show the server's reason");
} finally {
  await browser.close();
  child.kill("SIGINT");
}
if (!process.exitCode) console.log("ok: describe page works in Chromium");
