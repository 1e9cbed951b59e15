// The coupon wallet: a card per usable coupon (QR, code, live countdown, wallet buttons) and a
// history of redeemed, expired and withdrawn ones. Text goes in with textContent only.

import { discountText, formatDateTime, relativeTime, translatePage } from "/shared/i18n.js";

const DAY_MS = 24 * 3600 * 1000;

/** The status at `now`: the server's word for redeemed/revoked, the clock's for the rest, so
 * a card turns "expired" on time even offline. */
export function statusAt(coupon, now) {
  if (coupon.status === "redeemed" || coupon.status === "revoked") return coupon.status;
  if (now >= Date.parse(coupon.expires_at)) return "expired";
  if (now < Date.parse(coupon.valid_from)) return "scheduled";
  return "active";
}

export function isOpen(coupon, now) {
  const status = statusAt(coupon, now);
  return status === "active" || status === "scheduled";
}

export function svgDataUrl(svg) {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

function countdown(coupon, ui, now) {
  const status = statusAt(coupon, now);
  if (status === "scheduled") {
    return ui.t("card.starts", { relative: relativeTime(ui.language, Date.parse(coupon.valid_from), now) });
  }
  if (status === "expired") return ui.t("card.expired");
  return ui.t("card.expires", { relative: relativeTime(ui.language, Date.parse(coupon.expires_at), now) });
}

function card(coupon, svg, ui, now) {
  const template = document.getElementById("card-template");
  const node = template.content.firstElementChild.cloneNode(true);
  translatePage(node, ui.t);
  node.id = `coupon-${coupon.id}`;
  node.dataset.couponId = String(coupon.id);
  node.dataset.status = statusAt(coupon, now);
  const title = node.querySelector(".title");
  title.id = `coupon-${coupon.id}-title`;
  title.textContent = coupon.campaign.name;
  node.querySelector("article").setAttribute("aria-labelledby", title.id);
  node.querySelector(".discount").textContent = discountText(ui.t, ui.language, coupon.discount);
  const description = node.querySelector(".description");
  description.textContent = coupon.campaign.description || "";
  description.hidden = !coupon.campaign.description;
  const qr = node.querySelector(".qr");
  qr.alt = ui.t("card.qr_alt", { code: coupon.code_display });
  if (svg) qr.src = svgDataUrl(svg);
  node.querySelector(".code-value").textContent = coupon.code_display;
  const time = node.querySelector("time");
  time.dateTime = coupon.expires_at;
  time.title = formatDateTime(ui.language, new Date(coupon.expires_at));
  time.textContent = countdown(coupon, ui, now);
  node.querySelector(".expiry").classList.toggle("soon", Date.parse(coupon.expires_at) - now < DAY_MS);
  node.querySelector(".add-apple").hidden = !coupon.apple_pass_url;
  node.querySelector(".add-google").hidden = !coupon.google_wallet_url;
  return node;
}

function outcome(coupon, ui, now) {
  const status = statusAt(coupon, now);
  if (status === "redeemed") {
    return ui.t("history.redeemed", { date: formatDateTime(ui.language, new Date(coupon.redeemed_at)) });
  }
  if (status === "revoked") return ui.t("history.revoked");
  return ui.t("history.expired", { date: formatDateTime(ui.language, new Date(coupon.expires_at)) });
}

function pastItem(coupon, ui, now) {
  const node = document.getElementById("history-template").content.firstElementChild.cloneNode(true);
  node.id = `past-${coupon.id}`;
  node.dataset.status = statusAt(coupon, now);
  node.querySelector(".title").textContent = coupon.campaign.name;
  node.querySelector(".discount").textContent = discountText(ui.t, ui.language, coupon.discount);
  node.querySelector(".outcome").textContent = outcome(coupon, ui, now);
  return node;
}

function endedAt(coupon) {
  return Date.parse(coupon.redeemed_at || coupon.expires_at);
}

/** Draw both lists from scratch (a handful of coupons: simpler and cheap). */
export function renderWallet(coupons, qrCodes, ui, now) {
  const open = coupons.filter((coupon) => isOpen(coupon, now));
  open.sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
  const past = coupons.filter((coupon) => !isOpen(coupon, now));
  past.sort((a, b) => endedAt(b) - endedAt(a));

  const list = document.getElementById("coupons");
  list.replaceChildren(...open.map((coupon) => card(coupon, qrCodes.get(coupon.id), ui, now)));
  document.getElementById("wallet-empty").hidden = open.length > 0;
  const history = document.getElementById("history");
  history.replaceChildren(...past.map((coupon) => pastItem(coupon, ui, now)));
  document.getElementById("history-empty").hidden = past.length > 0;
}

/** Refresh each card's countdown; true when a card changed state and the lists need redrawing. */
export function tick(coupons, ui, now) {
  let moved = false;
  for (const coupon of coupons) {
    const node = document.getElementById(`coupon-${coupon.id}`);
    if (!node) continue;
    if (node.dataset.status !== statusAt(coupon, now)) moved = true;
    const time = node.querySelector("time");
    const text = countdown(coupon, ui, now);
    if (time.textContent !== text) time.textContent = text;
    node.querySelector(".expiry").classList.toggle("soon", Date.parse(coupon.expires_at) - now < DAY_MS);
  }
  return moved;
}

/** Open a signed pass: Safari on iOS offers "Add to Wallet"; elsewhere the file is saved. */
export async function openApplePass(api, url, filename) {
  const pass = await api.blob(url);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(pass);
  if (!/iPhone|iPad|iPod/.test(navigator.userAgent)) link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

/** Go to Google's "save to wallet" page for the link the server signed. */
export async function openGoogleSaveLink(api, url) {
  const { save_url: saveUrl } = await api.get(url);
  window.location.assign(saveUrl);
}
