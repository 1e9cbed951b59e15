// The marketer console: campaigns with their funnel per channel and medium, the daily series and
// the top stores, drawn from the analytics API; publish and CSV exports.

import { ApiError, OfflineError, createApi } from "/shared/api.js";
import { discountText, formatDateTime, languageSetting } from "/shared/i18n.js";
import { figure, table } from "./charts.js";
import { LANGUAGES, STRINGS } from "./strings.js";

const KEY = "tessera.console.key";
const $ = (id) => document.getElementById(id);
const api = createApi({ token: () => sessionStorage.getItem(KEY) });
const ui = languageSetting({
  select: $("language"),
  languages: LANGUAGES,
  catalogues: STRINGS,
  onChange: () => {
    if (sessionStorage.getItem(KEY)) route();
  },
});

let announceTimer = 0;
function announce(message) {
  $("announcer").textContent = message;
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => ($("announcer").textContent = ""), 8000);
}

const PUBLISH_POLL_MS = 500;

function counts(job) {
  return { issued: job.issued, eligible: job.eligible, already: job.already_had };
}

/** Publishing runs in the background: show its progress until the job is no longer running. */
async function followPublish(job) {
  while (job.status === "running") {
    $("announcer").textContent = ui.t("campaign.publishing", counts(job));
    await new Promise((resolve) => setTimeout(resolve, PUBLISH_POLL_MS));
    job = await api.get(job.progress_url);
  }
  return job;
}

function explain(error) {
  if (error instanceof OfflineError) return ui.t("error.offline");
  const detail = error instanceof ApiError ? error.problem.detail || error.message : String(error);
  return ui.t("error.generic", { detail });
}

const number = (value) => new Intl.NumberFormat(ui.language).format(value);
const percent = (rate) =>
  rate === null ? ui.t("none") : new Intl.NumberFormat(ui.language, { style: "percent", maximumFractionDigits: 1 }).format(rate);
const DURATION_UNITS = [
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];
function duration(seconds) {
  if (seconds === null) return ui.t("none");
  const [unit, size] = DURATION_UNITS.find(([, each]) => seconds >= each) || DURATION_UNITS.at(-1);
  const format = new Intl.NumberFormat(ui.language, { style: "unit", unit, unitDisplay: "long", maximumFractionDigits: 1 });
  return format.format(seconds / size);
}
function money(minor, currency) {
  const format = new Intl.NumberFormat(ui.language, { style: "currency", currency });
  return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
}

function show(view) {
  for (const name of ["login", "campaigns", "campaign"]) $(name).hidden = name !== view;
  const signedIn = view !== "login";
  $("logout").hidden = !signedIn;
  $("nav-campaigns").hidden = !signedIn;
}

async function allCampaigns() {
  const campaigns = [];
  let cursor = null;
  do {
    const page = await api.get(`/api/campaigns?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
    campaigns.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && campaigns.length < 2000);
  return campaigns;
}

/** How the campaign's coupons are issued: by publishing, or the trigger in words. */
function issuedBy(campaign, names) {
  const trigger = campaign.trigger;
  if (!trigger) return ui.t("trigger.publish");
  const watched = names.get(trigger.campaign_id) ?? `#${trigger.campaign_id}`;
  if (trigger.kind === "inactive_for") {
    const plural = new Intl.PluralRules(ui.language).select(trigger.days) === "one" ? "one" : "other";
    return ui.t(`trigger.inactive_for.${plural}`, { days: number(trigger.days) });
  }
  return ui.t(`trigger.${trigger.kind}`, { campaign: watched, hours: number(trigger.hours ?? 0) });
}

function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function showCampaigns() {
  const [campaigns, analytics] = await Promise.all([allCampaigns(), api.get("/api/analytics/campaigns")]);
  const figures = new Map(analytics.rows.map((row) => [Number(row.key), row]));
  const names = new Map(campaigns.map((campaign) => [campaign.id, campaign.name]));
  const rows = campaigns.map((campaign) => {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    const link = document.createElement("a");
    link.href = `#campaign-${campaign.id}`;
    link.textContent = campaign.name;
    name.append(link);
    const seen = figures.get(campaign.id);
    row.append(
      name,
      cell(ui.t(`status.${campaign.status}`)),
      cell(`${formatDateTime(ui.language, new Date(campaign.starts_at))} – ${formatDateTime(ui.language, new Date(campaign.ends_at))}`),
      cell(number(seen?.issued ?? 0), "num"),
      cell(number(seen?.saved_to_wallet ?? 0), "num"),
      cell(number(seen?.redeemed ?? 0), "num"),
      cell(percent(seen?.redemption_rate ?? null), "num"),
      cell(issuedBy(campaign, names)),
    );
    return row;
  });
  $("campaign-rows").replaceChildren(...rows);
  $("campaigns-empty").hidden = rows.length > 0;
  show("campaigns");
}

function kpi(label, value) {
  const box = document.createElement("div");
  const term = document.createElement("dt");
  term.textContent = label;
  const figure = document.createElement("dd");
  figure.textContent = value;
  box.append(term, figure);
  return box;
}

function totals(rows) {
  const sum = (field) => rows.reduce((total, row) => total + row[field], 0);
  return { issued: sum("issued"), saved: sum("saved_to_wallet"), redeemed: sum("redeemed"), revenue: sum("revenue") };
}

async function showCampaign(id) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const [campaign, channels, media, series, stores] = await Promise.all([
    api.get(`/api/campaigns/${id}`),
    api.get(`/api/analytics/channels?campaign_id=${id}`),
    api.get(`/api/analytics/channels?campaign_id=${id}&by=medium`),
    api.get(`/api/analytics/daily?campaign_id=${id}&tz=${encodeURIComponent(zone)}`),
    api.get(`/api/analytics/stores?campaign_id=${id}`),
  ]);
  const currency = channels.currency; // the one the server counts money in
  const watchedId = campaign.trigger?.campaign_id;
  const watched = watchedId ? await api.get(`/api/campaigns/${watchedId}`) : null;
  const names = new Map(watched ? [[watched.id, watched.name]] : []);
  $("campaign-title").textContent = campaign.name;
  $("campaign-facts").textContent = [
    discountText(ui.t, ui.language, campaign.discount),
    ui.t(`status.${campaign.status}`),
    `${formatDateTime(ui.language, new Date(campaign.starts_at))} – ${formatDateTime(ui.language, new Date(campaign.ends_at))}`,
  ].join(" · ");
  $("campaign-trigger").textContent = ui.t("campaign.issued_by", { trigger: issuedBy(campaign, names) });
  const publish = $("publish");
  publish.dataset.campaignId = String(id);
  publish.dataset.name = campaign.name;
  publish.dataset.triggered = campaign.trigger ? "true" : "";
  publish.dataset.i18n = campaign.trigger ? "campaign.switch_on" : "campaign.publish";
  publish.textContent = ui.t(publish.dataset.i18n);
  // Publishing a triggered campaign again changes nothing: it is on once published.
  publish.hidden = Boolean(campaign.trigger && campaign.published_at);
  $("export-redemptions").dataset.campaignId = String(id);
  $("export-channels").dataset.campaignId = String(id);

  const sum = totals(channels.rows);
  const median = channels.rows.length === 1 ? channels.rows[0].median_seconds_to_redeem : null;
  $("kpis").replaceChildren(
    kpi(ui.t("kpi.issued"), number(sum.issued)),
    kpi(ui.t("kpi.saved"), number(sum.saved)),
    kpi(ui.t("kpi.redeemed"), number(sum.redeemed)),
    kpi(ui.t("kpi.rate"), percent(sum.issued ? sum.redeemed / sum.issued : null)),
    ...(median !== null ? [kpi(ui.t("kpi.median"), duration(median))] : []),
    kpi(ui.t("kpi.revenue"), money(sum.revenue, currency)),
  );

  figure($("chart-channels"), $("table-channels"), {
    type: "bar",
    heading: ui.t("col.key"),
    labels: channels.rows.map((row) => row.key),
    series: [
      { label: ui.t("series.issued"), data: channels.rows.map((row) => row.issued) },
      { label: ui.t("series.saved"), data: channels.rows.map((row) => row.saved_to_wallet) },
      { label: ui.t("series.redeemed"), data: channels.rows.map((row) => row.redeemed) },
    ],
  });
  figure($("chart-media"), $("table-media"), {
    type: "bar",
    heading: ui.t("col.medium"),
    labels: media.rows.map((row) => row.key),
    series: [{ label: ui.t("series.redeemed"), data: media.rows.map((row) => row.redeemed) }],
  });
  figure($("chart-daily"), $("table-daily"), {
    type: "line",
    heading: ui.t("col.date"),
    labels: series.days.map((day) => day.date),
    series: [
      { label: ui.t("series.issued"), data: series.days.map((day) => day.issued) },
      { label: ui.t("series.redeemed"), data: series.days.map((day) => day.redeemed) },
    ],
  });
  const top = stores.rows.slice(0, 10);
  table($("table-stores"), ui.t("col.store"), top.map((row) => row.name), [
    { label: ui.t("col.redeemed"), data: top.map((row) => number(row.redeemed)) },
    { label: ui.t("col.revenue"), data: top.map((row) => money(row.revenue, currency)) },
  ]);
  show("campaign");
}

async function route() {
  const match = /^#campaign-(\d+)$/.exec(location.hash);
  try {
    if (match) await showCampaign(Number(match[1]));
    else await showCampaigns();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) signOut(ui.t("login.failed"));
    else announce(explain(error));
  }
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY);
  show("login");
  $("login-error").textContent = message;
}

async function download(path, filename) {
  const file = await api.blob(path);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(file);
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

function wire() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, event.currentTarget.key.value.trim());
    event.currentTarget.reset();
    $("login-error").textContent = "";
    await route();
  });
  $("logout").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  $("publish").addEventListener("click", async (event) => {
    const { campaignId, name, triggered } = event.currentTarget.dataset;
    if (!window.confirm(ui.t(triggered ? "campaign.switch_on_confirm" : "campaign.publish_confirm", { name }))) return;
    try {
      const job = await api.post(`/api/campaigns/${campaignId}/publish`, undefined, {
        "Idempotency-Key": crypto.randomUUID(),
      });
      if (triggered) {
        announce(ui.t("campaign.switched_on"));
      } else {
        const done = await followPublish(job);
        announce(ui.t(done.status === "done" ? "campaign.published" : "campaign.publish_stopped", counts(done)));
      }
      await route();
    } catch (error) {
      announce(explain(error));
    }
  });
  $("export-redemptions").addEventListener("click", (event) => {
    const id = event.currentTarget.dataset.campaignId;
    download(`/api/analytics/redemptions.csv?campaign_id=${id}`, `campaign-${id}-redemptions.csv`).catch((error) =>
      announce(explain(error)),
    );
  });
  $("export-channels").addEventListener("click", (event) => {
    const id = event.currentTarget.dataset.campaignId;
    download(`/api/analytics/channels.csv?campaign_id=${id}`, `campaign-${id}-channels.csv`).catch((error) =>
      announce(explain(error)),
    );
  });
}

wire();
if (sessionStorage.getItem(KEY)) route();
else show("login");
