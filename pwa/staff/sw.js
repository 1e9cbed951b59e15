// Service worker of the staff scanner: the shell and the barcode decoder (its WebAssembly too)
// from a versioned cache, so the page opens at once and the camera reads without a download.
/* global serveShell */

// VERSION is a digest of the shell files; `python scripts/pwa_version.py` refreshes it and a
// test fails when it is stale, so a changed shell always reaches installed apps.
const VERSION = "894a8adfe25e";
const SHELL = [
  "/staff/",
  "/staff/app.css",
  "/staff/app.js",
  "/staff/camera.js",
  "/staff/member.js",
  "/staff/shift.js",
  "/staff/strings.js",
  "/staff/till.js",
  "/staff/manifest.webmanifest",
  "/staff/icons/icon-192.png",
  "/staff/icons/icon-512.png",
  "/staff/icons/icon-maskable-512.png",
  "/staff/icons/apple-touch-icon.png",
  "/staff/vendor/barcode-detector.js",
  "/staff/vendor/zxing_reader.wasm",
  "/shared/api.js",
  "/shared/base.css",
  "/shared/i18n.js",
  "/shared/sw-shell.js",
];

importScripts("/shared/sw-shell.js");
serveShell({ app: "staff", version: VERSION, scope: "/staff/", shell: SHELL });
