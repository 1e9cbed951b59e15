// Member cards at the till: a scanned (or typed) member card is looked up instead of validated,
// and the sheet lists the member's open coupons, each redeemed with one tap through the normal
// redemption (its `redeem_code` makes the server record the medium "member_card").

import { discountText, formatDateTime, translatePage } from "/shared/i18n.js";

const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const MEMBER_LENGTH = 16;
const MEMBER_RESIDUE = 1;

/**
 * Whether `code` is a member card rather than a coupon: the card's QR payload (`TSM1:…`), or a
 * typed member number, whose check character completes it to another residue than a coupon
 * code's (the server's parser decides; this only picks the endpoint to ask).
 */
export function isMemberCard(code, entry) {
  const text = code.trim();
  if (/^tsm1:/i.test(text)) return true;
  if (entry !== "manual") return false;
  const typed = text.replace(/[\s.\-_]/g, "").toUpperCase();
  if (typed.length !== MEMBER_LENGTH) return false;
  let residue = 0;
  let weight = 1;
  for (const char of typed) {
    const value = ALPHABET.indexOf(char);
    if (value < 0) return false;
    residue = (residue + value * weight) % 31;
    weight = (weight * 8) % 31;
  }
  return residue === MEMBER_RESIDUE;
}

export function lookupMember(api, code, entry) {
  return api.post("/api/members/lookup", { code, entry });
}

/** Fill the member sheet with `answer`; `onRedeem(coupon)` runs when a coupon's button is tapped. */
export function renderMember(answer, ui, onRedeem) {
  const { display_name: name, card_ending: ending } = answer.member;
  document.getElementById("member-who").textContent = name
    ? ui.t("member.who", { name, ending })
    : ui.t("member.anonymous", { ending });
  const template = document.getElementById("member-coupon");
  const items = answer.coupons.map((coupon) => {
    const node = template.content.firstElementChild.cloneNode(true);
    translatePage(node, ui.t);
    const discount = discountText(ui.t, ui.language, coupon.discount);
    node.querySelector(".discount").textContent = discount;
    node.querySelector(".campaign").textContent = coupon.campaign.name;
    node.querySelector(".until").textContent = ui.t("offer.until", {
      date: formatDateTime(ui.language, new Date(coupon.expires_at)),
    });
    const button = node.querySelector("button");
    button.setAttribute("aria-label", ui.t("member.redeem", { offer: `${discount} · ${coupon.campaign.name}` }));
    button.addEventListener("click", () => onRedeem(coupon));
    return node;
  });
  document.getElementById("member-coupons").replaceChildren(...items);
  document.getElementById("member-empty").hidden = items.length > 0;
}
