// What every view shares: the status line, the alert, and the reads cached for one page load.

import { api, enc } from "./api.js";
import { h } from "./dom.js";

export const $ = (id) => document.getElementById(id);

export function say(message) {
  $("status").textContent = message;
}

export function alertError(error) {
  const message = error instanceof Error ? error.message : String(error);
  $("alert").replaceChildren(h("p", {}, message));
}

export function clearAlert() {
  $("alert").replaceChildren();
}

const cache = new Map();

/** The promise of one read per key; a failed read is forgotten, so it is tried again. */
function once(key, load) {
  if (!cache.has(key)) {
    const loading = load().catch((error) => {
      cache.delete(key);
      throw error;
    });
    cache.set(key, loading);
  }
  return cache.get(key);
}

export function forgetReads() {
  cache.clear();
}

export const journeyTemplates = () =>
  once("templates", async () => (await api("journey-templates")).items);

/** The spec of one saved version: the rules a patient pinned to it is moved by. */
export const pinnedSpec = (key, version) =>
  once(
    `spec:${key}:${version}`,
    async () => (await api(`journeys/${enc(key)}`, { query: { version } })).journey_spec,
  );

/** An empty period reads no log: who stands where now, and who is past a stale rule. */
export function standingNow(key) {
  const now = new Date().toISOString();
  return api(`analytics/journeys/${enc(key)}`, { query: { from: now, to: now } });
}
