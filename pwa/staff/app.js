// The staff scanner: sign in, read a coupon with the camera (or type it), see the offer, redeem
// with one tap (or at once, as the store chooses), and get one unmistakable answer.

import { ApiError, OfflineError, createApi } from "/shared/api.js";
import { discountText, formatDateTime, languageSetting } from "/shared/i18n.js";
import { startScanner } from "./camera.js";
import { isMemberCard, lookupMember, renderMember } from "./member.js";
import * as shift from "./shift.js";
import { LANGUAGES, STRINGS } from "./strings.js";
import { newAttempt, pendingRedemption, redeem, validate, voidRedemption } from "./till.js";

const SESSION = "tessera.staff.session";
const GREEN_SCREEN_MS = 4000;

const $ = (id) => document.getElementById(id);
const state = {
  me: null,
  scanner: null,
  // Bumped by each start and stop of the camera: a start that finishes after a newer start or a
  // stop releases its stream instead of keeping it.
  cameraGeneration: 0,
  cameraStarting: false,
  busy: false, // a code is being handled: the offer sheet or an answer is on screen
  handling: null, // that code
  sending: false, // a redemption is on the wire
  resultTimer: 0,
  audio: null,
  status: { key: "scan.starting", params: {} },
};

function session() {
  try {
    const stored = JSON.parse(localStorage.getItem(SESSION) || "null");
    return stored && Date.parse(stored.expires_at) > Date.now() ? stored : null;
  } catch {
    return null;
  }
}

const api = createApi({ token: () => session()?.token ?? null });

const ui = languageSetting({
  select: $("language"),
  languages: LANGUAGES,
  catalogues: STRINGS,
  onChange: (current) => {
    renderStatus(current);
    if (!$("shift").hidden) shift.renderShift(current, Boolean(state.me?.can_void));
  },
});

// `current`: the language setting, passed while it is being set up (before `ui` exists).
function renderStatus(current = ui) {
  $("scan-status").textContent = current.t(state.status.key, state.status.params);
}

/** Show the scan status `key` of the catalogue; it follows a change of language. */
function setStatus(key, params = {}) {
  state.status = { key, params };
  renderStatus();
}

function showView(name) {
  for (const view of ["login", "scan", "shift", "trouble"]) $(view).hidden = view !== name;
  $("tabs").hidden = name === "login" || name === "trouble";
  $("tab-scan").toggleAttribute("aria-current", name === "scan");
  $("tab-shift").toggleAttribute("aria-current", name === "shift");
  if (name === "scan") $("tab-scan").setAttribute("aria-current", "page");
  if (name === "shift") $("tab-shift").setAttribute("aria-current", "page");
}

// --- feedback -------------------------------------------------------------------------------

function beep(ok) {
  if (!state.audio) return;
  const oscillator = state.audio.createOscillator();
  const gain = state.audio.createGain();
  oscillator.frequency.value = ok ? 880 : 220;
  gain.gain.value = 0.2;
  oscillator.connect(gain).connect(state.audio.destination);
  oscillator.start();
  oscillator.stop(state.audio.currentTime + (ok ? 0.15 : 0.45));
}

function feedback(ok) {
  navigator.vibrate?.(ok ? 120 : [90, 60, 90, 60, 90]);
  beep(ok);
}

function showResult(kind, text, detail) {
  clearTimeout(state.resultTimer);
  const result = $("result");
  result.className = `result ${kind}`;
  $("result-text").textContent = text;
  $("result-detail").textContent = detail || "";
  // While a redemption is on the wire there is no "next customer": its answer comes first.
  $("result-next").hidden = state.sending;
  if (!result.open) result.showModal();
  if (!state.sending) $("result-next").focus();
  if (kind === "ok") state.resultTimer = setTimeout(closeResult, GREEN_SCREEN_MS);
}

function closeResult() {
  if (state.sending) return;
  clearTimeout(state.resultTimer);
  if ($("result").open) $("result").close();
  state.busy = false;
  state.handling = null;
  setStatus("scan.hint");
}

function closeOffer() {
  if ($("offer").open) $("offer").close();
  if ($("member").open) $("member").close();
}

// --- answers --------------------------------------------------------------------------------

function clock(moment) {
  const date = new Date(moment);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay
    ? new Intl.DateTimeFormat(ui.language, { timeStyle: "short" }).format(date)
    : formatDateTime(ui.language, date);
}

/** The currency's formatter in the page language, and how many minor units make one major unit. */
function currencyFormat(currency) {
  const format = new Intl.NumberFormat(ui.language, { style: "currency", currency: currency || "EUR" });
  const digits = format.resolvedOptions().maximumFractionDigits;
  return { format, digits };
}

/** An amount in minor units as people of the page language write it: "20,00 €". */
function money(minor, currency) {
  const { format, digits } = currencyFormat(currency);
  return format.format(minor / 10 ** digits);
}

/**
 * A typed amount in minor units, or null if it is none: "25,50", "25.5" and "25" all read, since
 * a till's keyboard may offer either decimal sign whatever the page language.
 */
function minorUnits(text, currency) {
  const { digits } = currencyFormat(currency);
  const match = /^(\d{1,10})(?:[.,](\d*))?$/.exec(text.replace(/\s/g, ""));
  const fraction = match?.[2] ?? "";
  if (!match || fraction.length > digits) return null;
  return Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, "0") || 0);
}

/** How people of the page language type an amount: "25,50". */
function sampleAmount(currency) {
  const { digits } = currencyFormat(currency);
  return (25.5).toLocaleString(ui.language, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function storesText(problem) {
  const names = (problem.stores ?? []).map((store) => store.name).filter(Boolean);
  return names.length ? ui.t("result.wrong_store", { stores: names.join(", ") }) : ui.t("result.wrong_store_only");
}

/**
 * The words for a refusal: what the till operator reads on the red screen. `currency`: the one
 * the offer's amounts are counted in (the validate answer's).
 */
function refusal(error, currency) {
  if (error instanceof OfflineError) return ui.t("result.unchecked");
  if (!(error instanceof ApiError)) return ui.t("result.error", { detail: String(error) });
  const problem = error.problem;
  switch (error.code) {
    case "already_redeemed":
      return problem.store_name
        ? ui.t("result.already", { time: clock(problem.redeemed_at), store: problem.store_name })
        : ui.t("result.already_here", { time: clock(problem.redeemed_at) });
    case "expired":
      return ui.t("result.expired", { date: formatDateTime(ui.language, new Date(problem.expired_at)) });
    case "not_yet_valid":
      return ui.t("result.not_yet", { date: formatDateTime(ui.language, new Date(problem.valid_from)) });
    case "invalid_code":
      return ui.t("result.invalid");
    case "invalid_member_code":
      return ui.t("result.invalid_member");
    case "wrong_store":
      return storesText(problem);
    case "below_minimum":
      return ui.t("result.below_minimum", { amount: money(problem.min_order_total, currency) });
    case "limit_reached":
      return ui.t(problem.limit === "customer" ? "result.limit_customer" : "result.limit");
    case "too_many_attempts":
      return ui.t("result.throttled", { seconds: problem.retry_after ?? "" });
    case "forbidden":
      return ui.t("result.forbidden");
    case "already_voided":
      return ui.t("result.already_voided");
    case "void_not_allowed":
      return ui.t("result.void_not_allowed");
    case "service_unavailable":
      return ui.t("result.unavailable");
    default:
      return ui.t("result.error", { detail: problem.detail || error.message });
  }
}

function offerText(offer) {
  return `${discountText(ui.t, ui.language, offer.discount)} · ${offer.campaign.name}`;
}

function masked(code) {
  return `…${code.slice(-4)}`;
}

function refuse(error, code, what, currency) {
  if (error instanceof ApiError && error.status === 401) {
    signedOut("login.expired");
    return;
  }
  const text = refusal(error, currency);
  showResult(error instanceof OfflineError ? "wait" : "bad", text, what || "");
  feedback(false);
  shift.remember({ at: new Date().toISOString(), ok: false, what: what || masked(code), outcome: text });
}

async function finish(attempt) {
  if (state.sending) {
    setStatus("scan.still_sending");
    return;
  }
  state.busy = true;
  state.sending = true;
  let redemption = null;
  let failure = null;
  try {
    redemption = await redeem(api, attempt, () => showResult("wait", ui.t("result.retrying"), attempt.what));
  } catch (error) {
    failure = error;
  } finally {
    state.sending = false;
  }
  if (failure instanceof OfflineError) {
    showResult("wait", ui.t("result.pending"), attempt.what);
  } else if (failure) {
    refuse(failure, attempt.code, attempt.what, attempt.currency);
  } else {
    const text = ui.t("result.redeemed", { discount: discountText(ui.t, ui.language, redemption.discount) });
    showResult("ok", text, attempt.what);
    feedback(true);
    shift.remember({
      at: redemption.redeemed_at,
      ok: true,
      what: attempt.what,
      outcome: text,
      redemptionId: redemption.id,
    });
  }
}

/** The order total field, shown (empty) only for an offer with a minimum order. */
function showOrder(offer) {
  const needed = offer.min_order_total != null;
  const input = $("order-total");
  $("offer-order").hidden = !needed;
  $("offer-minimum").textContent = needed
    ? ui.t("offer.minimum", { amount: money(offer.min_order_total, offer.currency) })
    : "";
  input.value = "";
  input.removeAttribute("aria-invalid");
  $("order-error").textContent = "";
}

/** The typed order total in minor units, or null after saying at the field why it is refused. */
function typedTotal(offer) {
  const input = $("order-total");
  const total = minorUnits(input.value, offer.currency);
  let problem = "";
  if (total === null) {
    problem = ui.t("offer.total_missing", { example: sampleAmount(offer.currency) });
  } else if (total < offer.min_order_total) {
    problem = ui.t("offer.total_below", { amount: money(offer.min_order_total, offer.currency) });
  }
  $("order-error").textContent = problem;
  input.setAttribute("aria-invalid", String(Boolean(problem)));
  if (!problem) return total;
  input.focus();
  return null;
}

function showOffer(offer, code, entry) {
  $("offer-discount").textContent = discountText(ui.t, ui.language, offer.discount);
  $("offer-campaign").textContent = offer.campaign.name;
  $("offer-until").textContent = ui.t("offer.until", {
    date: formatDateTime(ui.language, new Date(offer.expires_at)),
  });
  showOrder(offer);
  const needsTotal = offer.min_order_total != null;
  const sheet = $("offer");
  sheet.showModal();
  $(needsTotal ? "order-total" : "offer-redeem").focus();
  $("offer-form").onsubmit = (event) => {
    event.preventDefault();
    const orderTotal = needsTotal ? typedTotal(offer) : null;
    if (needsTotal && orderTotal === null) return;
    closeOffer();
    finish({ ...newAttempt(code, entry, orderTotal), what: offerText(offer), currency: offer.currency });
  };
  $("offer-cancel").onclick = () => {
    closeOffer();
    state.busy = false;
    state.handling = null;
    setStatus("scan.hint");
  };
}

/** The member's open coupons; a tap on one redeems it like a validated coupon. */
function showMember(answer) {
  renderMember(answer, ui, (coupon) => {
    closeOffer();
    if (coupon.min_order_total != null) showOffer(coupon, coupon.redeem_code, "scan");
    else finish({ ...newAttempt(coupon.redeem_code, "scan"), what: offerText(coupon) });
  });
  $("member").showModal();
  $("member-close").focus();
}

function closeMember() {
  closeOffer();
  state.busy = false;
  state.handling = null;
  setStatus("scan.hint");
}

/**
 * Handle a read or a typed code. Answers whether it was taken: a code that arrives while another
 * is being handled is not (the one being handled, still in view, counts as taken).
 */
function check(code, entry) {
  if (!code) return false;
  if (state.busy) return code === state.handling;
  const pending = pendingRedemption();
  if (pending) {
    // An unanswered redemption goes first: it holds the only stored Idempotency-Key.
    finish(pending);
    return false;
  }
  state.busy = true;
  state.handling = code;
  verify(code, entry);
  return true;
}

async function verify(code, entry) {
  setStatus("scan.checking");
  try {
    if (!navigator.onLine) throw new OfflineError(new Error("navigator.onLine is false"));
    if (isMemberCard(code, entry)) {
      showMember(await lookupMember(api, code, entry));
      return;
    }
    const offer = await validate(api, code, entry);
    // An offer with a minimum order waits for the total, even where the store redeems at once.
    if (state.me.store.auto_redeem && offer.min_order_total == null) {
      await finish({ ...newAttempt(code, entry), what: offerText(offer) });
    } else {
      showOffer(offer, code, entry);
    }
  } catch (error) {
    refuse(error, code);
  }
}

// --- camera ---------------------------------------------------------------------------------

async function startCamera() {
  if (state.scanner || state.cameraStarting) return;
  const generation = ++state.cameraGeneration;
  state.cameraStarting = true;
  setStatus("scan.starting");
  try {
    const scanner = await startScanner($("video"), (value) => check(value, "scan"));
    if (generation !== state.cameraGeneration) {
      scanner.stop();
      return;
    }
    state.scanner = scanner;
    setStatus("scan.hint");
    $("torch").hidden = !scanner.torch;
  } catch (error) {
    console.warn("camera", error);
    if (generation === state.cameraGeneration) setStatus("scan.no_camera");
  } finally {
    if (generation === state.cameraGeneration) state.cameraStarting = false;
  }
}

function stopCamera() {
  state.cameraGeneration += 1;
  state.cameraStarting = false;
  state.scanner?.stop();
  state.scanner = null;
}

async function toggleTorch() {
  const torch = $("torch");
  const on = torch.getAttribute("aria-pressed") !== "true";
  try {
    await state.scanner?.torch?.(on);
    torch.setAttribute("aria-pressed", String(on));
  } catch (error) {
    console.warn("torch", error);
  }
}

// --- session --------------------------------------------------------------------------------

async function signedIn() {
  const current = session();
  try {
    state.me = await api.get("/api/auth/staff/me");
    localStorage.setItem(SESSION, JSON.stringify({ ...current, me: state.me }));
  } catch (error) {
    // Opened without a connection: the last known account and store will do until it is back.
    if (!(error instanceof OfflineError) || !current.me) throw error;
    state.me = current.me;
  }
  $("who").textContent = `${state.me.username} · ${state.me.store.name}`;
  showView("scan");
  await startCamera();
  const pending = pendingRedemption();
  if (pending) await finish(pending);
}

/** Back to the sign-in form, with the catalogue message `messageKey` if given. A redemption
 * still unanswered stays pending and is sent once someone signs in. */
function signedOut(messageKey) {
  stopCamera();
  localStorage.removeItem(SESSION);
  state.me = null;
  state.busy = false;
  state.handling = null;
  $("who").textContent = "";
  closeOffer();
  clearTimeout(state.resultTimer);
  if ($("result").open) $("result").close();
  showView("login");
  $("login-error").textContent = messageKey ? ui.t(messageKey) : "";
}

async function login(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("login-error");
  error.textContent = "";
  try {
    const answer = await api.post("/api/auth/staff/login", {
      username: form.username.value.trim(),
      password: form.password.value,
    });
    localStorage.setItem(SESSION, JSON.stringify({ token: answer.token, expires_at: answer.expires_at }));
    form.reset();
    await signedIn();
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 429) {
      error.textContent = ui.t("login.throttled", { seconds: failure.problem.retry_after ?? "" });
    } else if (failure instanceof ApiError && failure.status === 401) {
      error.textContent = ui.t("login.failed");
    } else {
      error.textContent = refusal(failure);
    }
  }
}

async function logout() {
  try {
    await api.post("/api/auth/staff/logout");
  } catch {
    // The token expires on its own; the device forgets it either way.
  }
  shift.forget();
  signedOut(null);
}

async function onVoid(event) {
  const button = event.target.closest("button.void");
  if (!button) return;
  const question = ui.t("shift.void_confirm", { discount: button.dataset.what, time: button.dataset.time });
  if (!window.confirm(question)) return;
  const error = $("shift-error");
  error.textContent = "";
  try {
    const redemptionId = Number(button.dataset.redemptionId);
    await voidRedemption(api, redemptionId);
    shift.markVoided(redemptionId);
  } catch (failure) {
    error.textContent = ui.t("shift.void_failed", { detail: refusal(failure) });
  }
  shift.renderShift(ui, Boolean(state.me?.can_void));
}

function wire() {
  $("login-form").addEventListener("submit", login);
  $("manual-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("manual-code");
    if (check(input.value.trim(), "manual")) input.value = "";
    else if (state.busy) setStatus("scan.busy");
  });
  $("result-next").addEventListener("click", closeResult);
  // Escape closes a dialog: an answer as "next customer", the offer as "cancel".
  $("result").addEventListener("cancel", (event) => {
    event.preventDefault();
    closeResult();
  });
  $("offer").addEventListener("cancel", (event) => {
    event.preventDefault();
    $("offer-cancel").click();
  });
  $("member-close").addEventListener("click", closeMember);
  $("member").addEventListener("cancel", (event) => {
    event.preventDefault();
    closeMember();
  });
  $("trouble-retry").addEventListener("click", resume);
  $("torch").addEventListener("click", toggleTorch);
  $("tab-scan").addEventListener("click", () => {
    showView("scan");
    startCamera();
  });
  $("tab-shift").addEventListener("click", () => {
    stopCamera();
    shift.renderShift(ui, Boolean(state.me?.can_void));
    showView("shift");
    $("shift-title").focus();
  });
  $("logout").addEventListener("click", logout);
  $("shift-list").addEventListener("click", onVoid);
  // Browsers start audio only after a gesture: the first tap unlocks the result sounds.
  document.addEventListener(
    "pointerdown",
    () => {
      state.audio ??= new AudioContext();
    },
    { once: true },
  );
  const showConnection = () => ($("offline").hidden = navigator.onLine);
  window.addEventListener("offline", showConnection);
  window.addEventListener("online", () => {
    showConnection();
    const pending = pendingRedemption();
    if (pending && state.me) finish(pending);
  });
  showConnection();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/staff/sw.js", { scope: "/staff/" }).catch((error) => {
      console.warn("service worker", error);
    });
  }
}

/** Open the scanner for the stored session, or say why it cannot be opened. */
async function resume() {
  if (!session()) {
    signedOut(localStorage.getItem(SESSION) ? "login.expired" : null);
    return;
  }
  try {
    await signedIn();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signedOut("login.expired");
    } else {
      $("trouble-text").textContent = refusal(error);
      showView("trouble");
      $("trouble-retry").focus();
    }
  }
}

function start() {
  wire();
  resume();
}

start();
