// Validate and redeem against the backend. A redemption keeps its Idempotency-Key until it has
// an answer: a lost response or a dropped connection is retried with the same key (the server
// then replays the first answer), and the attempt survives a reload in localStorage.

import { ApiError, OfflineError } from "/shared/api.js";

const PENDING = "tessera.staff.pending";
const RETRY_DELAYS_MS = [300, 700, 1500, 3000, 5000, 8000, 13000];

export function pendingRedemption() {
  try {
    return JSON.parse(localStorage.getItem(PENDING) || "null");
  } catch {
    return null;
  }
}

/** A redemption to send; `orderTotal` (minor units) is kept with it, so a retry sends the same body. */
export function newAttempt(code, entry, orderTotal = null) {
  return { key: crypto.randomUUID(), code, entry, orderTotal, startedAt: new Date().toISOString() };
}

function redemptionBody(attempt) {
  const body = { code: attempt.code, entry: attempt.entry };
  if (attempt.orderTotal != null) body.order_total = attempt.orderTotal;
  return body;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function validate(api, code, entry) {
  return api.post("/api/redemptions/validate", { code, entry });
}

/**
 * Whether an error is the server's final word on the attempt. Not final: the first request is
 * still being decided (409 request_in_progress), a timeout or a server fault (408, 5xx), and a
 * session that ended (401) — the attempt is sent again, with its key, after signing in.
 */
function isFinal(error) {
  if (!(error instanceof ApiError)) return false;
  if (error.code === "request_in_progress") return false;
  return error.status !== 401 && error.status !== 408 && error.status < 500;
}

/**
 * Send `attempt` until the server answers. `onRetry(n)` is told before each retry. Throws the
 * server's final ApiError (e.g. already redeemed) and forgets the attempt; throws a 401 ApiError,
 * or OfflineError once the retries are used up, keeping the attempt pending — `redeem` is called
 * again with it when the connection or the session is back.
 */
export async function redeem(api, attempt, onRetry = () => {}) {
  localStorage.setItem(PENDING, JSON.stringify(attempt));
  for (let tries = 0; ; tries += 1) {
    try {
      const redemption = await api.post("/api/redemptions", redemptionBody(attempt), {
        "Idempotency-Key": attempt.key,
      });
      localStorage.removeItem(PENDING);
      return redemption;
    } catch (error) {
      if (isFinal(error)) {
        localStorage.removeItem(PENDING);
        throw error;
      }
      if (error instanceof ApiError && error.status === 401) throw error;
      if (tries >= RETRY_DELAYS_MS.length) throw new OfflineError(error);
      onRetry(tries + 1);
      await sleep(RETRY_DELAYS_MS[tries]);
    }
  }
}

export function voidRedemption(api, redemptionId) {
  return api.post(`/api/redemptions/${redemptionId}/void`, undefined, { "Idempotency-Key": crypto.randomUUID() });
}
