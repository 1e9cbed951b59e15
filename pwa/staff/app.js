// The staff scanner: sign in, read a coupon with the camera (or type it), see the offer, redeem
// with one tap (or at once, as the store chooses), and get one unmistakable answer.

import { ApiError, OfflineError, createApi } from "/shared/api.js";
import { discountText, formatDateTime, languageSetting } from "/shared/i18n.js";
import { startScanner } from "./camera.js";
import * as shift from "./shift.js";
import { LANGUAGES, STRINGS } from "./strings.js";
import { newAttempt, pendingRedemption, redeem, validate, voidRedemption } from "./till.js";

const SESSION = "tessera.staff.session";
const GREEN_SCREEN_MS = 4000;

const $ = (id) => document.getElementById(id);
const state = { me: null, scanner: null, busy: false, sending: false, resultTimer: 0, audio: null };

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
  onChange: () => {
    if (!$("shift").hidden) shift.renderShift(ui, Boolean(state.me?.can_void));
  },
});

function setStatus(text) {
  $("scan-status").textContent = text;
}

function showView(name) {
  for (const view of ["login", "scan", "shift"]) $(view).hidden = view !== name;
  $("tabs").hidden = name === "login";
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
  result.hidden = false;
  $("result-next").focus();
  if (kind === "ok") state.resultTimer = setTimeout(closeResult, GREEN_SCREEN_MS);
}

function closeResult() {
  clearTimeout(state.resultTimer);
  $("result").hidden = true;
  state.busy = false;
  setStatus(ui.t("scan.hint"));
}

// --- answers --------------------------------------------------------------------------------

function clock(moment) {
  const date = new Date(moment);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay
    ? new Intl.DateTimeFormat(ui.language, { timeStyle: "short" }).format(date)
    : formatDateTime(ui.language, date);
}

/** The words for a refusal: what the till operator reads on the red screen. */
function refusal(error) {
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
    case "limit_reached":
      return ui.t("result.limit");
    case "too_many_attempts":
      return ui.t("result.throttled", { seconds: problem.retry_after ?? "" });
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

function refuse(error, code, what) {
  if (error instanceof ApiError && error.status === 401) {
    signedOut(ui.t("login.expired"));
    return;
  }
  const text = refusal(error);
  showResult(error instanceof OfflineError ? "wait" : "bad", text, what || "");
  feedback(false);
  shift.remember({ at: new Date().toISOString(), ok: false, what: what || masked(code), outcome: text });
}

async function finish(attempt) {
  if (state.sending) return; // one redemption on the wire at a time (the online event may race)
  state.busy = true;
  state.sending = true;
  try {
    const redemption = await redeem(api, attempt, () => showResult("wait", ui.t("result.retrying"), attempt.what));
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
  } catch (error) {
    if (error instanceof OfflineError) {
      showResult("wait", ui.t("result.pending"), attempt.what);
      return;
    }
    refuse(error, attempt.code, attempt.what);
  } finally {
    state.sending = false;
  }
}

function showOffer(offer, code, entry) {
  $("offer-discount").textContent = discountText(ui.t, ui.language, offer.discount);
  $("offer-campaign").textContent = offer.campaign.name;
  $("offer-until").textContent = ui.t("offer.until", {
    date: formatDateTime(ui.language, new Date(offer.expires_at)),
  });
  const sheet = $("offer");
  sheet.hidden = false;
  $("offer-redeem").focus();
  $("offer-redeem").onclick = () => {
    sheet.hidden = true;
    finish({ ...newAttempt(code, entry), what: offerText(offer) });
  };
  $("offer-cancel").onclick = () => {
    sheet.hidden = true;
    state.busy = false;
    setStatus(ui.t("scan.hint"));
  };
}

async function check(code, entry) {
  if (state.busy || !code) return;
  const pending = pendingRedemption();
  if (pending) {
    // An unanswered redemption goes first: it holds the only stored Idempotency-Key.
    await finish(pending);
    return;
  }
  state.busy = true;
  setStatus(ui.t("scan.checking"));
  try {
    if (!navigator.onLine) throw new OfflineError(new Error("navigator.onLine is false"));
    const offer = await validate(api, code, entry);
    if (state.me.store.auto_redeem) await finish({ ...newAttempt(code, entry), what: offerText(offer) });
    else showOffer(offer, code, entry);
  } catch (error) {
    refuse(error, code);
  }
}

// --- camera ---------------------------------------------------------------------------------

async function startCamera() {
  if (state.scanner) return;
  setStatus(ui.t("scan.starting"));
  try {
    state.scanner = await startScanner($("video"), (value) => check(value, "scan"));
    setStatus(ui.t("scan.hint"));
    const torch = $("torch");
    torch.hidden = !state.scanner.torch;
  } catch (error) {
    console.warn("camera", error);
    setStatus(ui.t("scan.no_camera"));
  }
}

function stopCamera() {
  state.scanner?.stop();
  state.scanner = null;
}

async function toggleTorch() {
  const torch = $("torch");
  const on = torch.getAttribute("aria-pressed") !== "true";
  await state.scanner?.torch?.(on);
  torch.setAttribute("aria-pressed", String(on));
  torch.textContent = ui.t(on ? "scan.torch_on" : "scan.torch_off");
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

function signedOut(message) {
  stopCamera();
  localStorage.removeItem(SESSION);
  state.me = null;
  state.busy = false;
  $("who").textContent = "";
  $("offer").hidden = true;
  $("result").hidden = true;
  showView("login");
  $("login-error").textContent = message || "";
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
  signedOut("");
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
    check(input.value.trim(), "manual");
    input.value = "";
  });
  $("result-next").addEventListener("click", closeResult);
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

async function start() {
  wire();
  if (!session()) {
    signedOut(localStorage.getItem(SESSION) ? ui.t("login.expired") : "");
    return;
  }
  try {
    await signedIn();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signedOut(ui.t("login.expired"));
    else setStatus(refusal(error));
  }
}

start();
