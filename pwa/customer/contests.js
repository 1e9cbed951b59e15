// Contests in the wallet: enter the code printed under a cap or on a label, see the answer at
// once (points and place, or win / lose) and, for points contests, the leaderboard.

import { ApiError, OfflineError } from "/shared/api.js";

const $ = (id) => document.getElementById(id);
const BOARD_SIZE = 10;

/**
 * @param {{ api: object, ui: { language: string, t: Function }, explain: (error: unknown) => string }} options
 */
export function createContests({ api, ui, explain }) {
  let contests = [];
  let board = null;
  let answer = null; // [kind, text] of the last answer, redrawn when the language changes
  let pending = null; // an entry whose answer never came: retried with the same key

  function chosen() {
    const id = Number($("contest-choice").value);
    return contests.find((contest) => contest.id === id) || null;
  }

  function drawChoices() {
    const select = $("contest-choice");
    const keep = select.value;
    select.replaceChildren(...contests.map((contest) => new Option(contest.name, String(contest.id))));
    if (contests.some((contest) => String(contest.id) === keep)) select.value = keep;
    $("contests").hidden = contests.length === 0;
    const contest = chosen();
    $("contest-kind").textContent = contest ? ui.t(`contest.kind_${contest.kind}`) : "";
  }

  function drawAnswer() {
    const element = $("contest-answer");
    element.hidden = !answer;
    element.className = `answer ${answer ? answer[0] : ""}`;
    element.textContent = answer ? answer[1]() : "";
  }

  function drawBoard() {
    const contest = chosen();
    const shown = Boolean(board && contest && contest.kind === "points" && board.contest_id === contest.id);
    $("contest-board").hidden = !shown;
    if (!shown) return;
    const mine = board.me?.participant_id;
    $("contest-me").textContent = board.me
      ? ui.t("contest.me", { id: board.me.participant_id, rank: board.me.rank, points: board.me.points })
      : "";
    $("leaders").replaceChildren(
      ...board.leaders.map((leader) => {
        const item = document.createElement("li");
        item.classList.toggle("mine", leader.participant_id === mine);
        const you = leader.participant_id === mine ? ` ${ui.t("contest.you")}` : "";
        item.textContent = ui.t("contest.leader", {
          rank: leader.rank,
          id: leader.participant_id,
          points: leader.points,
        }) + you;
        return item;
      }),
    );
  }

  function draw() {
    drawChoices();
    drawAnswer();
    drawBoard();
  }

  async function loadBoard() {
    const contest = chosen();
    if (!contest || contest.kind !== "points") {
      board = null;
      return;
    }
    board = await api.get(`/api/contests/${contest.id}/leaderboard?limit=${BOARD_SIZE}`);
  }

  async function refresh() {
    try {
      const page = await api.get("/api/contests?status=running");
      contests = page.items;
      drawChoices();
      await loadBoard();
    } catch (error) {
      if (!(error instanceof OfflineError)) console.warn("contests", error);
    }
    draw();
  }

  function said(entry) {
    if (entry.result === "win") return () => ui.t("contest.win", { prize: entry.prize.name });
    if (entry.result === "lose") return () => ui.t("contest.lose");
    return () =>
      ui.t("contest.counted", {
        points: entry.points,
        product: entry.product || ui.t("contest.a_code"),
        total: entry.total_points,
        rank: entry.rank,
        participants: entry.participants,
      });
  }

  function refusal(error) {
    if (error instanceof OfflineError) return () => ui.t("error.offline");
    if (!(error instanceof ApiError)) return () => explain(error);
    const words = {
      invalid_code: "contest.invalid",
      code_already_entered: "contest.already",
      contest_not_open: "contest.closed",
      marketing_consent_required: "contest.consent",
      too_many_attempts: "error.throttled",
    };
    if (error.code === "entry_limit_reached") {
      return () => ui.t(error.problem.limit === "day" ? "contest.limit_day" : "contest.limit_total");
    }
    if (words[error.code]) return () => ui.t(words[error.code]);
    return () => explain(error);
  }

  async function submit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const contest = chosen();
    const code = form.code.value.trim();
    if (!contest) return;
    if (!code) {
      answer = ["error", () => ui.t("contest.need_code")];
      drawAnswer();
      form.code.focus();
      return;
    }
    const again = pending && pending.contest === contest.id && pending.code === code;
    const key = again ? pending.key : crypto.randomUUID();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const entry = await api.post(`/api/contests/${contest.id}/entries`, { code }, { "Idempotency-Key": key });
      pending = null;
      answer = [entry.result, said(entry)];
      form.code.value = "";
      await loadBoard().catch(() => {});
    } catch (error) {
      pending = error instanceof OfflineError ? { contest: contest.id, code, key } : null;
      answer = ["error", refusal(error)];
    } finally {
      button.disabled = false;
    }
    draw();
  }

  async function onChoice() {
    answer = null;
    await loadBoard().catch(() => {});
    draw();
  }

  function reset() {
    contests = [];
    board = null;
    answer = null;
    pending = null;
    draw();
  }

  $("contest-form").addEventListener("submit", submit);
  $("contest-choice").addEventListener("change", onChoice);
  return { refresh, draw, reset };
}
