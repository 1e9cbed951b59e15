// Service worker of the customer app: the app shell from a versioned cache (the coupons
// themselves live in IndexedDB, see offline-store.js), and Web Push notifications.

// VERSION is a digest of the shell files; `python scripts/pwa_version.py` refreshes it and a
// test fails when it is stale, so a changed shell always reaches installed apps.
const VERSION = "cf90d1dc59f6";
const CACHE = `tessera-customer-${VERSION}`;
const SHELL = [
  "/",
  "/app.css",
  "/app.js",
  "/notifications.js",
  "/offline-store.js",
  "/strings.js",
  "/wallet.js",
  "/manifest.webmanifest",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/icon-maskable-512.png",
  "/icons/apple-touch-icon.png",
  "/icons/badge-96.png",
  "/shared/api.js",
  "/shared/i18n.js",
];
const SHELL_PATHS = new Set([...SHELL, "/index.html"]);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith("tessera-customer-") && name !== CACHE)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

/** Cached shell first (it opens with no signal), refreshed in the background when online. */
async function fromShell(event, path) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(path);
  const fresh = fetch(event.request)
    .then(async (response) => {
      if (response.ok) await cache.put(path, response.clone());
      return response;
    })
    .catch(() => null);
  if (cached) {
    event.waitUntil(fresh);
    return cached;
  }
  return (await fresh) || Response.error();
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  // Only this app's own files: the API, the wallets and the other apps (/staff/, /console/)
  // under the same origin are none of this worker's business.
  if (!SHELL_PATHS.has(url.pathname)) return;
  const path = url.pathname === "/index.html" ? "/" : url.pathname;
  event.respondWith(fromShell(event, path));
});

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
