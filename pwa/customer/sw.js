// Service worker of the customer app: the app shell from a versioned cache (the coupons
// themselves live in IndexedDB, see offline-store.js), and Web Push notifications.
/* global serveShell */

// VERSION is a digest of the shell files; `python scripts/pwa_version.py` refreshes it and a
// test fails when it is stale, so a changed shell always reaches installed apps.
const VERSION = "722c900f5378";
const SHELL = [
  "/",
  "/app.css",
  "/app.js",
  "/member-card.js",
  "/contests.js",
  "/notifications.js",
  "/offline-store.js",
  "/sign-in.js",
  "/strings.js",
  "/wallet.js",
  "/manifest.webmanifest",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/icon-maskable-512.png",
  "/icons/apple-touch-icon.png",
  "/icons/badge-96.png",
  "/shared/api.js",
  "/shared/base.css",
  "/shared/i18n.js",
  "/shared/sw-shell.js",
];

importScripts("/shared/sw-shell.js");
serveShell({ app: "customer", version: VERSION, scope: "/", shell: SHELL });

async function tellPages(message) {
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const page of pages) page.postMessage(message);
}

self.addEventListener("push", (event) => {
  let message;
  try {
    message = event.data.json();
  } catch {
    return;
  }
  event.waitUntil(
    Promise.all([
      self.registration.showNotification(message.title, {
        body: message.body,
        tag: message.tag,
        icon: "/icons/icon-192.png",
        badge: "/icons/badge-96.png",
        data: { url: message.url, couponId: message.coupon_id, kind: message.kind },
      }),
      tellPages({ type: "push", kind: message.kind, couponId: message.coupon_id }),
    ]),
  );
});

/** Show the coupon: in an open window of the app if there is one, else in a new one. */
async function openCoupon(url) {
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const page = pages.find((candidate) => new URL(candidate.url).pathname === "/");
  if (!page) return self.clients.openWindow(url);
  page.postMessage({ type: "open", url });
  // focus() needs the click's user activation; without it the page still shows the coupon.
  return page.focus().catch(() => page);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil(openCoupon(url));
});
