// The public API, called with the signed-in token. The token lives in this tab's
// sessionStorage only: entered once, gone when the tab closes.

const TOKEN_KEY = "journeys.dashboard.token";
// This file is served at <base>/dashboard/api.js; the API lives at <base>/api/v1/.
const API_ROOT = new URL("../api/v1/", import.meta.url);

export class ApiError extends Error {
  /** ``said``: the API's own message, without the status. */
  constructor(status, message, said = message) {
    super(message);
    this.status = status;
    this.said = said;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim().replace(/^Bearer\s+/i, ""));
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The token's claims, for showing who is signed in (the API checks the token, not this). */
export function claims() {
  const value = token();
  if (!value) return {};
  try {
    const payload = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

/** The signed-in person's roles (Cognito groups), for what the page offers them. */
export function roles() {
  const groups = claims()["cognito:groups"] || [];
  return Array.isArray(groups) ? groups : String(groups).replace(/[[\]]/g, "").split(/[ ,]+/);
}

export const enc = encodeURIComponent;

export async function api(path, { method = "GET", query, body } = {}) {
  const url = new URL(path, API_ROOT);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json", Authorization: `Bearer ${token() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.message) || response.statusText || "request failed";
    throw new ApiError(response.status, `${message} (HTTP ${response.status})`, message);
  }
  return data;
}

/** Every item of a paginated list ({items, next_cursor}), up to maxPages pages. */
export async function allItems(path, query = {}, maxPages = 10) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const data = await api(path, { query: { ...query, cursor } });
    items.push(...data.items);
    cursor = data.next_cursor;
    if (!cursor) return { items, complete: true };
  }
  return { items, complete: false };
}
