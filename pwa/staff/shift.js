// The shift view: the last scans of this device (kept in localStorage, newest first) with time,
// offer and result, and a void button for redemptions where the account may void.

import { translatePage } from "/shared/i18n.js";

const SHIFT = "tessera.staff.shift";
const KEEP = 100;

export function entries() {
  try {
    return JSON.parse(localStorage.getItem(SHIFT) || "[]");
  } catch {
    return [];
  }
}

function save(list) {
  localStorage.setItem(SHIFT, JSON.stringify(list.slice(0, KEEP)));
}

/** @param {{ at: string, ok: boolean, what: string, outcome: string, redemptionId?: number }} entry */
export function remember(entry) {
  save([entry, ...entries()]);
}

export function markVoided(redemptionId) {
  save(entries().map((entry) => (entry.redemptionId === redemptionId ? { ...entry, voided: true } : entry)));
}

export function forget() {
  localStorage.removeItem(SHIFT);
}

export function renderShift(ui, canVoid) {
  const list = document.getElementById("shift-list");
  const template = document.getElementById("shift-item");
  const items = entries().map((entry) => {
    const node = template.content.firstElementChild.cloneNode(true);
    translatePage(node, ui.t);
    node.classList.toggle("refused", !entry.ok);
    node.classList.toggle("voided", Boolean(entry.voided));
    const time = new Intl.DateTimeFormat(ui.language, { timeStyle: "short" }).format(new Date(entry.at));
    node.querySelector(".when").textContent = time;
    node.querySelector(".what").textContent = entry.what;
    node.querySelector(".outcome").textContent = entry.voided ? ui.t("shift.voided") : entry.outcome;
    const button = node.querySelector(".void");
    button.hidden = !(canVoid && entry.ok && entry.redemptionId && !entry.voided);
    button.dataset.redemptionId = String(entry.redemptionId || "");
    button.dataset.time = time;
    button.dataset.what = entry.what;
    return node;
  });
  list.replaceChildren(...items);
  document.getElementById("shift-empty").hidden = items.length > 0;
}
