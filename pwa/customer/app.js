// The customer app: registration with separate consents (or signing in with a one-time code on
// another device), then the coupon wallet, which keeps working offline from the last known coupons.

import { ApiError, OfflineError, createApi } from "/shared/api.js";
import { languageSetting } from "/shared/i18n.js";
import { createContests } from "./contests.js";
import { enablePush, isSubscribed, pushSupported, unsubscribePush } from "./notifications.js";
import * as saved from "./offline-store.js";
import { signInFlow } from "./sign-in.js";
import { LANGUAGES, STRINGS } from "./strings.js";
import { fetchCard, renderCard } from "./member-card.js";
import { isOpen, openApplePass, openGoogleSaveLink, renderWallet, tick } from "./wallet.js";

const TOKEN = "tessera.customer.token";
const ZONE_OFFERED = "tessera.customer.timezone-offered";
const REFRESH_EVERY_MS = 60_000;
const ANNOUNCEMENT_MS = 6_000;

const $ = (id) => document.getElementById(id);
const api = createApi({ token: () => localStorage.getItem(TOKEN) });
const wallet = { coupons: [], qrCodes: new Map(), profile: null, card: null };
// Bumped when the device forgets the customer: a refresh begun before must not write back.
let deviceGeneration = 0;
let contests = null; // the contests section (contests.js), made once the language is known
// The sign-in view (see sign-in.js); made once the language is known.
let signIn = null;

const ui = languageSetting({
  select: $("language"),
  languages: LANGUAGES,
  catalogues: STRINGS,
  onChange: () => {
    if (!$("wallet").hidden) {
      draw();
      drawAccount();
      contests?.draw();
    }
    if (!$("member-card").hidden) renderCard(wallet.card, ui);
    signIn?.translate();
  },
});

contests = createContests({ api, ui, explain });

let announcementTimer = 0;
function announce(message) {
  const announcer = $("announcer");
  announcer.textContent = message;
  clearTimeout(announcementTimer);
  announcementTimer = setTimeout(() => (announcer.textContent = ""), ANNOUNCEMENT_MS);
}

/** What went wrong, in the customer's language: known problem codes have their own words. */
function explain(error) {
  if (error instanceof OfflineError) return ui.t("error.offline");
  if (!(error instanceof ApiError)) return ui.t("error.generic", { detail: String(error) });
  if (error.status === 429) return ui.t("error.throttled");
  if (error.status === 503) return ui.t("error.unavailable");
  if (error.status === 400 || error.status === 422) return ui.t("error.invalid");
  return ui.t("error.generic", { detail: error.problem.title || error.code });
}

signIn = signInFlow({
  api,
  ui,
  explain,
  announce,
  onSignedIn: async (token) => {
    localStorage.setItem(TOKEN, token);
    await showWallet();
    $("wallet-title").focus();
    announce(ui.t("signin.done"));
  },
  onCancel: () => {
    signIn.close();
    showView("welcome");
    $("show-sign-in").focus();
  },
});

function openSignIn() {
  showView("sign-in");
  signIn.open();
}

function showOffline(offline) {
  $("offline").hidden = !offline;
}

function draw() {
  renderWallet(wallet.coupons, wallet.qrCodes, ui, Date.now());
}

async function drawAccount() {
  const consent = wallet.profile?.consent;
  $("marketing-off").hidden = !consent || consent.marketing;
  const subscribed = await isSubscribed();
  const on = subscribed && Boolean(consent?.push);
  $("push-offer").hidden = !pushSupported() || on;
  $("push-state").hidden = !on;
  $("push-state").textContent = ui.t("wallet.push_on");
}

function openCoupon(couponId) {
  const card = document.getElementById(`coupon-${couponId}`) || document.getElementById(`past-${couponId}`);
  if (!card) return;
  for (const highlighted of document.querySelectorAll(".highlight")) highlighted.classList.remove("highlight");
  card.classList.add("highlight");
  card.scrollIntoView({ block: "start" });
  card.focus?.();
}

function couponFromHash() {
  const match = /^#coupon-(\d+)$/.exec(location.hash);
  return match ? Number(match[1]) : null;
}

async function loadSaved() {
  wallet.coupons = (await saved.load("coupons")) || [];
  wallet.profile = (await saved.load("profile")) || null;
  wallet.card = (await saved.load("card")) || null;
  for (const coupon of wallet.coupons) {
    const svg = await saved.load(`qr:${coupon.id}`);
    if (svg) wallet.qrCodes.set(coupon.id, svg);
  }
}

/** Fetch the profile, the coupons and the QR codes not yet held, then keep them on the device. */
async function refresh() {
  if (!localStorage.getItem(TOKEN)) return;
  const generation = deviceGeneration;
  try {
    const [profile, coupons, card] = await Promise.all([
      api.get("/api/me"),
      api.get("/api/me/coupons"),
      // Fetched once, so the member card is on the phone before it is first needed offline.
      wallet.card ? wallet.card : fetchCard(api),
    ]);
    const now = Date.now();
    const missing = coupons.filter((coupon) => isOpen(coupon, now) && !wallet.qrCodes.has(coupon.id));
    // One QR code that fails to load does not keep the others (or the list) from the device.
    const fetched = await Promise.allSettled(missing.map((coupon) => api.text(coupon.qr_svg_url)));
    if (generation !== deviceGeneration) return;
    fetched.forEach((outcome, index) => {
      if (outcome.status === "fulfilled") wallet.qrCodes.set(missing[index].id, outcome.value);
    });
    const held = new Set(coupons.map((coupon) => coupon.id));
    for (const id of wallet.qrCodes.keys()) if (!held.has(id)) wallet.qrCodes.delete(id);
    // Redraw only on a change: a redraw while someone shows the code at the till would flicker.
    const changed = missing.length > 0 || JSON.stringify(coupons) !== JSON.stringify(wallet.coupons);
    wallet.profile = await offerTimeZone(profile);
    wallet.coupons = coupons;
    wallet.card = card;
    showOffline(false);
    if (!$("member-card").hidden) renderCard(card, ui);
    if (changed) draw();
    await drawAccount();
    if (generation !== deviceGeneration) return;
    await saved.saveCoupons(coupons, [...wallet.qrCodes]);
    await saved.saveProfile(profile);
    await saved.saveCard(card);
    await contests.refresh();
  } catch (error) {
    if (generation !== deviceGeneration) return;
    if (error instanceof OfflineError) {
      showOffline(true);
    } else if (error instanceof ApiError && error.status === 401) {
      await forgetDevice();
      announce(ui.t("error.session"));
    } else {
      announce(explain(error));
    }
  }
}

/** The device's time zone, given once to a profile that has none: birthday coupons then come
 * on the customer's own date. A zone the server refused is not offered again; one that could
 * not be sent (offline) is offered at the next refresh. */
async function offerTimeZone(profile) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (profile.timezone || !zone || localStorage.getItem(ZONE_OFFERED) === zone) return profile;
  try {
    return await api.patch("/api/me", { timezone: zone });
  } catch (error) {
    if (error instanceof ApiError) localStorage.setItem(ZONE_OFFERED, zone);
    return profile;
  }
}

function showView(name) {
  $("welcome").hidden = name !== "welcome";
  $("sign-in").hidden = name !== "sign-in";
  $("wallet").hidden = name !== "wallet";
  $("member-card").hidden = name !== "card";
}

async function showCard() {
  showView("card");
  renderCard(wallet.card, ui);
  $("member-title").focus();
  if (wallet.card) return;
  try {
    wallet.card = await fetchCard(api);
    await saved.saveCard(wallet.card);
    renderCard(wallet.card, ui);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      await forgetDevice();
      announce(ui.t("error.session"));
    } else {
      announce(explain(error));
    }
  }
}

function showCoupons() {
  showView("wallet");
  $("wallet-title").focus();
}

async function onMemberCardButton(button, open) {
  if (!wallet.card) return;
  button.disabled = true;
  try {
    await open(wallet.card);
  } catch (error) {
    announce(explain(error));
  } finally {
    button.disabled = false;
  }
}

async function showWallet() {
  showView("wallet");
  await loadSaved();
  draw();
  await drawAccount();
  await refresh();
  const couponId = couponFromHash();
  if (couponId !== null) openCoupon(couponId);
}

/** Forget the customer on this device: token, coupons, QR codes and the push subscription (on
 * a shared device the next person must not get this customer's notifications). */
async function forgetDevice() {
  deviceGeneration += 1;
  localStorage.removeItem(TOKEN);
  wallet.coupons = [];
  wallet.qrCodes.clear();
  wallet.profile = null;
  wallet.card = null;
  contests.reset();
  showView("welcome");
  await Promise.allSettled([saved.forgetEverything(), unsubscribePush()]);
}

function registrationBody(form) {
  const email = form.email.value.trim();
  const phone = form.phone.value.replace(/[\s().-]/g, "");
  const name = form.name.value.trim();
  const body = {
    consent: { terms: form.terms.checked, marketing: form.marketing.checked, push: form.push.checked },
    locale: ui.language,
  };
  if (email) body.email = email;
  if (phone) body.phone = phone;
  if (name) body.name = name;
  return body;
}

function formProblem(form, body) {
  if (!body.email && !body.phone) return [ui.t("form.need_contact"), form.email];
  if (body.email && form.email.validity.typeMismatch) return [ui.t("form.bad_email"), form.email];
  if (body.phone && !/^\+?[0-9]{6,15}$/.test(body.phone)) return [ui.t("form.bad_phone"), form.phone];
  if (!body.consent.terms) return [ui.t("form.need_terms"), form.terms];
  return null;
}

/** The contact field the server refused (it reads a phone number more strictly than the form):
 * 400 `invalid_input` when the field does not match the API document, 422 `invalid_value` when
 * it does but is not a number or an address. */
const FIELD_REFUSALS = new Set(["invalid_input", "invalid_value"]);
function refusedField(form, failure) {
  if (!(failure instanceof ApiError) || !FIELD_REFUSALS.has(failure.code)) return null;
  if (failure.fields.includes("phone")) return [ui.t("form.bad_phone"), form.phone];
  if (failure.fields.includes("email")) return [ui.t("form.bad_email"), form.email];
  return null;
}

async function register(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("form-error");
  const body = registrationBody(form);
  const problem = formProblem(form, body);
  if (problem) {
    error.textContent = problem[0];
    problem[1].focus();
    return;
  }
  error.textContent = "";
  // Asked now, while the tap still counts as the customer's gesture; answered later.
  if (body.consent.push && pushSupported()) Notification.requestPermission().catch(() => {});
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  submit.textContent = ui.t("form.sending");
  try {
    const created = await api.post("/api/customers", body);
    localStorage.setItem(TOKEN, created.token);
    if (body.consent.push) await turnOnPush();
    form.reset();
    await showWallet();
    $("wallet-title").focus();
  } catch (failure) {
    const refused = refusedField(form, failure);
    if (refused) {
      error.textContent = refused[0];
      refused[1].focus();
    } else {
      error.textContent =
        failure instanceof ApiError && failure.status === 409 ? ui.t("error.duplicate") : explain(failure);
    }
  } finally {
    submit.disabled = false;
    submit.textContent = ui.t("form.submit");
  }
}

async function turnOnPush() {
  try {
    const outcome = await enablePush(api);
    if (outcome === "blocked") {
      announce(ui.t("wallet.push_blocked"));
      return;
    }
    if (outcome !== "on") return;
    if (!wallet.profile?.consent.push) {
      wallet.profile = await api.patch("/api/me", { consent: { push: true } });
    }
  } catch (error) {
    announce(explain(error));
  }
  await drawAccount();
}

async function enableMarketing() {
  try {
    wallet.profile = await api.patch("/api/me", { consent: { marketing: true } });
    await refresh();
  } catch (error) {
    announce(explain(error));
  }
}

async function signOut() {
  try {
    await api.post("/api/auth/customer/logout");
  } catch (error) {
    // A token the server no longer knows is as good as signed out; anything else: try again.
    if (!(error instanceof ApiError && error.status === 401)) {
      announce(explain(error));
      return;
    }
  }
  await forgetDevice();
  announce(ui.t("account.signed_out"));
  $("show-sign-in").focus();
}

async function erase() {
  if (!window.confirm(ui.t("account.erase_confirm"))) return;
  try {
    await api.delete("/api/me");
  } catch (error) {
    announce(explain(error));
    return;
  }
  await forgetDevice();
  announce(ui.t("account.erased"));
}

async function onCardButton(event) {
  const button = event.target.closest("button");
  const card = event.target.closest(".card");
  if (!button || !card) return;
  const coupon = wallet.coupons.find((candidate) => String(candidate.id) === card.dataset.couponId);
  if (!coupon) return;
  button.disabled = true;
  try {
    if (button.classList.contains("add-apple")) {
      await openApplePass(api, coupon.apple_pass_url, `coupon-${coupon.id}.pkpass`);
    }
    if (button.classList.contains("add-google")) await openGoogleSaveLink(api, coupon.google_wallet_url);
  } catch (error) {
    announce(explain(error));
  } finally {
    button.disabled = false;
  }
}

async function onWorkerMessage(event) {
  const message = event.data || {};
  if (message.type === "push") await refresh();
  if (message.type === "open") {
    const url = new URL(message.url, location.origin);
    await refresh();
    if (location.hash !== url.hash) location.hash = url.hash;
    else openCoupon(couponFromHash());
  }
}

function wire() {
  $("register").addEventListener("submit", register);
  $("coupons").addEventListener("click", onCardButton);
  $("enable-push").addEventListener("click", turnOnPush);
  $("enable-marketing").addEventListener("click", enableMarketing);
  $("erase").addEventListener("click", erase);
  $("sign-out").addEventListener("click", signOut);
  $("show-sign-in").addEventListener("click", openSignIn);
  $("show-card").addEventListener("click", showCard);
  $("show-coupons").addEventListener("click", showCoupons);
  $("member-apple").addEventListener("click", (event) =>
    onMemberCardButton(event.currentTarget, (card) => openApplePass(api, card.apple_pass_url, "member-card.pkpass")),
  );
  $("member-google").addEventListener("click", (event) =>
    onMemberCardButton(event.currentTarget, (card) => openGoogleSaveLink(api, card.google_wallet_url)),
  );
  window.addEventListener("hashchange", () => {
    const couponId = couponFromHash();
    if (couponId !== null) openCoupon(couponId);
  });
  window.addEventListener("online", refresh);
  window.addEventListener("offline", () => showOffline(true));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", onWorkerMessage);
    navigator.serviceWorker.register("/sw.js").catch((error) => console.warn("service worker", error));
  }
  setInterval(() => {
    if (!$("wallet").hidden && tick(wallet.coupons, ui, Date.now())) draw();
  }, 1000);
  setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_EVERY_MS);
}

async function start() {
  wire();
  showOffline(!navigator.onLine);
  if (localStorage.getItem(TOKEN)) await showWallet();
  else showView("welcome");
}

start();
