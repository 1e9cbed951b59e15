// The member card: the QR code a till scans to see the customer's open coupons, the member
// number for typing, and the buttons that put the card into Apple Wallet or Google Wallet.

import { svgDataUrl } from "./wallet.js";

/** The customer's card from the server: `{member_code, code_display, qr_payload, qr_svg, …}`. */
export function fetchCard(api) {
  return api.get("/api/me/card");
}

/** Show `card` (or, without one yet, say when it will appear). */
export function renderCard(card, ui) {
  const qr = document.getElementById("member-qr");
  document.getElementById("member-missing").hidden = Boolean(card);
  for (const id of ["member-apple", "member-google"]) document.getElementById(id).hidden = !card;
  qr.closest("figure").hidden = !card;
  document.querySelector("#member-card .code").hidden = !card;
  if (!card) return;
  qr.src = svgDataUrl(card.qr_svg);
  qr.alt = ui.t("member.qr_alt", { code: card.code_display });
  document.getElementById("member-number").textContent = card.code_display;
}
