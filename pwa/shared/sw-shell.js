// The app-shell part every PWA's service worker shares (loaded with importScripts): install the
// shell into a cache named by the app and its version, drop older versions, and answer the
// app's own files cache-first while refreshing them in the background.

/* exported serveShell */
function serveShell({ app, version, scope, shell }) {
  const prefix = `tessera-${app}-`;
  const cacheName = `${prefix}${version}`;
  const paths = new Set([...shell, `${scope}index.html`]);

  self.addEventListener("install", (event) => {
    event.waitUntil(
      caches
        .open(cacheName)
        .then((cache) => cache.addAll(shell.map((path) => new Request(path, { cache: "reload" }))))
        .then(() => self.skipWaiting()),
    );
  });

  self.addEventListener("activate", (event) => {
    event.waitUntil(
      caches
        .keys()
        .then((names) =>
          Promise.all(
            names.filter((name) => name.startsWith(prefix) && name !== cacheName).map((name) => caches.delete(name)),
          ),
        )
        .then(() => self.clients.claim()),
    );
  });

  async function fromShell(event, path) {
    const cache = await caches.open(cacheName);
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
    // Only this app's own files: the API and the other apps on this origin are not its business.
    if (!paths.has(url.pathname)) return;
    const path = url.pathname === `${scope}index.html` ? scope : url.pathname;
    event.respondWith(fromShell(event, path));
  });
}
