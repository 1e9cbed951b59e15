// Message catalogues, language choice and the relative times ("in 2 days") every page shows.

/**
 * The first language the person prefers that we have, else the first we have.
 * @param {string[]} available e.g. ["en", "it"]
 * @param {readonly string[]} preferred navigator.languages, a stored choice first
 */
export function pickLanguage(available, preferred) {
  for (const tag of preferred) {
    const language = String(tag || "").slice(0, 2).toLowerCase();
    if (available.includes(language)) return language;
  }
  return available[0];
}

/**
 * `t(key, values)` for one language: `{name}` placeholders are filled from `values`; a key
 * missing in that language falls back to the first catalogue, then to the key itself.
 */
export function translator(catalogues, language) {
  const fallback = Object.values(catalogues)[0];
  const catalogue = catalogues[language] || fallback;
  return (key, values = {}) => {
    const template = catalogue[key] ?? fallback[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  };
}

const CHOSEN = "tessera.language";

/**
 * The page's language: the header's picker (remembered on the device) or else the browser's
 * preference. Returns `ui` = `{language, t}`, kept current; `onChange(ui)` runs after each switch.
 */
export function languageSetting({ select, languages, catalogues, onChange = () => {} }) {
  const ui = { language: "en", t: (key) => key };
  const apply = (language) => {
    ui.language = language;
    ui.t = translator(catalogues, language);
    document.documentElement.lang = language;
    document.title = ui.t("app.title");
    translatePage(document, ui.t);
    select.value = language;
    onChange(ui);
  };
  for (const [code, name] of Object.entries(languages)) select.append(new Option(name, code));
  select.addEventListener("change", () => {
    localStorage.setItem(CHOSEN, select.value);
    apply(select.value);
  });
  const stored = localStorage.getItem(CHOSEN);
  apply(pickLanguage(Object.keys(languages), stored ? [stored] : navigator.languages));
  return ui;
}

/** Fill every `[data-i18n]` element's text and `[data-i18n-label]` element's aria-label. */
export function translatePage(root, t) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nLabel));
  }
  for (const element of root.querySelectorAll("[data-i18n-placeholder]")) {
    element.setAttribute("placeholder", t(element.dataset.i18nPlaceholder));
  }
}

const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** "in 2 days", "in 5 minutes", "tra 2 giorni": the largest unit that fits at least once. */
export function relativeTime(language, target, now) {
  const seconds = Math.round((target - now) / 1000);
  const format = new Intl.RelativeTimeFormat(language, { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return format.format(Math.trunc(seconds / size), unit);
    }
  }
  return format.format(0, "second");
}

/** A date and time as people of `language` write it. */
export function formatDateTime(language, moment) {
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(moment);
}

/** A discount as people of `language` read it: "20% off", "5,00 € di sconto". */
export function discountText(t, language, discount) {
  if (discount.kind === "percent") return t("discount.percent", { value: discount.value });
  if (discount.kind === "amount") {
    const money = new Intl.NumberFormat(language, { style: "currency", currency: discount.currency || "EUR" });
    const digits = money.resolvedOptions().maximumFractionDigits;
    return t("discount.amount", { amount: money.format(discount.value / 10 ** digits) });
  }
  return t("discount.free_item");
}
