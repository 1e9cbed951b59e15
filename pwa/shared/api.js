// The Tessera HTTP API as the PWAs use it: bearer token, JSON bodies and RFC 9457 problems.

/** A problem-details answer (RFC 9457): `code` is stable, `detail` is for people. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code || "http_error";
    this.problem = problem;
  }

  /** The fields a refusal names: the `key` of each entry of the problem's `errors`. */
  get fields() {
    return (this.problem.errors || []).map((entry) => entry.key).filter(Boolean);
  }
}

/** The request never got an answer: no network, server unreachable, or the answer was lost. */
export class OfflineError extends Error {
  constructor(cause) {
    super("offline", { cause });
    this.name = "OfflineError";
  }
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText };
  }
}

/**
 * A client whose token is read at each call, so signing in or out needs no new client.
 * @param {{ token: () => (string | null), base?: string }} options
 */
export function createApi({ token, base = "" }) {
  async function send(method, path, { body, headers = {} } = {}) {
    const sent = { ...headers };
    const bearer = token();
    if (bearer) sent.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(base + path, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw new OfflineError(error);
    }
    if (!response.ok) throw new ApiError(response.status, await problemOf(response));
    return response;
  }

  async function json(method, path, options) {
    const response = await send(method, path, options);
    return response.status === 204 ? null : response.json();
  }

  return {
    get: (path) => json("GET", path),
    post: (path, body, headers) => json("POST", path, { body, headers }),
    patch: (path, body) => json("PATCH", path, { body }),
    delete: (path, body) => json("DELETE", path, { body }),
    text: async (path) => (await send("GET", path)).text(),
    blob: async (path) => (await send("GET", path)).blob(),
  };
}
