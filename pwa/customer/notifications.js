// Web Push: subscribe this browser (only ever from a user's tap) and hand the subscription to
// the backend, which sends new-offer and expiry notices while the customer's push consent is on.

export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function applicationServerKey(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

/** This browser's push subscription, or null; never waits for a service worker to arrive. */
async function currentSubscription() {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.getRegistration();
  return registration ? registration.pushManager.getSubscription() : null;
}

/** Whether this browser already holds a subscription the backend may know. */
export async function isSubscribed() {
  if (!pushSupported() || Notification.permission !== "granted") return false;
  try {
    return (await currentSubscription()) !== null;
  } catch {
    return false;
  }
}

/** Drop this browser's subscription; the push service then refuses it and the backend forgets it
 * at its next delivery attempt. */
export async function unsubscribePush() {
  try {
    await (await currentSubscription())?.unsubscribe();
  } catch (error) {
    console.warn("push unsubscribe", error);
  }
}

/**
 * Ask for permission, subscribe and register the subscription with the backend.
 * @returns {Promise<"on" | "blocked" | "unsupported">}
 */
export async function enablePush(api) {
  if (!pushSupported()) return "unsupported";
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return "blocked";
  const registration = await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    const { public_key: key } = await api.get("/api/push/vapid-public-key");
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: applicationServerKey(key),
    });
  }
  await api.post("/api/me/push-subscriptions", subscription.toJSON());
  return "on";
}
