// The staff dashboard: the overview (overdue first, refreshed every minute), finding a
// patient, a patient's journeys (move, edit, what happened), a journey's funnel, stuck
// patients and simulations. Every figure comes from the public API. This file holds the
// session, the routes and the refresh; each view lives in a module of its own.

import { ApiError, claims, signIn, signOut, token } from "./api.js";
import { h } from "./dom.js";
import { funnelView } from "./funnel.js";
import { activeJourneysView, stuckView } from "./overview.js";
import { $, alertError, clearAlert, forgetReads, journeyTemplates, say } from "./page.js";
import { patientView } from "./patient.js";
import { searchView } from "./search.js";
import { setUpHostedSignIn } from "./signin.js";
import { simulateView } from "./simulate.js";

const REFRESH_MS = 60000;

// -- the session ------------------------------------------------------------------------------

function showSignedIn(signedIn) {
  $("sign-in").hidden = signedIn;
  $("view").hidden = !signedIn;
  $("views-nav").hidden = !signedIn;
  $("search-form").hidden = !signedIn;
  $("session").hidden = !signedIn;
  if (signedIn) {
    const who = claims();
    const org = who["custom:org_id"] || "?";
    $("session-who").textContent = `Organization ${org} · ${who.sub || "signed in"}`;
  }
}

// -- routing ----------------------------------------------------------------------------------

const VIEWS = {
  "": activeJourneysView,
  search: searchView,
  patient: patientView,
  funnel: funnelView,
  stuck: stuckView,
  simulate: (root, args) =>
    simulateView(root, args, { journeyTemplates, say, alertError, clearAlert }),
};
// Views that keep themselves current while the tab is open.
const LIVE = new Set([""]);

function currentRoute() {
  const [name = "", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { name: name in VIEWS ? name : "", args: rest.map(decodeURIComponent) };
}

function markCurrentLink(name) {
  for (const link of $("views-nav").querySelectorAll("a")) {
    const target = link.getAttribute("href").replace(/^#\/?/, "");
    if (target === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Renders overlap when staff click on before a view has loaded: only the latest one's page
// and words stand.
let renders = 0;
let standingStatus = "";

/** Draw the current view. ``quiet``: a refresh; the new page replaces the old one only once
 * it is complete, at the same scroll position and with the same element focused. */
async function render({ quiet = false } = {}) {
  if (!token()) {
    showSignedIn(false);
    return;
  }
  showSignedIn(true);
  const { name, args } = currentRoute();
  markCurrentLink(name);
  const root = $("view");
  const fresh = h("div", { class: "view", "aria-busy": "true" });
  const generation = ++renders;
  if (!quiet) {
    root.replaceChildren(fresh);
    $("updated").hidden = true;
    standingStatus = "Loading…";
    say(standingStatus);
  }
  try {
    await VIEWS[name](fresh, args, { rerender: () => render({ quiet: true }) });
    if (generation !== renders) {
      say(standingStatus); // an older view finished late: its page and words are not shown
      return;
    }
    if (quiet) swapKeepingPlace(root, fresh);
    standingStatus = $("status").textContent;
    markUpdated(LIVE.has(name));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut();
      showSignedIn(false);
      alertError(new Error("The API refused the token (expired or not valid): sign in again."));
      say("");
      return;
    }
    alertError(error);
    say("");
  } finally {
    fresh.removeAttribute("aria-busy");
  }
}

function swapKeepingPlace(root, fresh) {
  const { scrollX, scrollY } = window;
  const focused = document.activeElement;
  const focusKey = focused && (focused.dataset.focusKey || (root.contains(focused) && focused.id));
  root.replaceChildren(fresh);
  if (focusKey) {
    const again =
      fresh.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`) ||
      fresh.querySelector(`#${CSS.escape(focusKey)}`);
    if (again) again.focus({ preventScroll: true });
  }
  window.scrollTo(scrollX, scrollY);
}

// -- live: the overview refreshes itself every minute while the tab is visible ---------------

let updatedAt = 0;

function markUpdated(live) {
  updatedAt = Date.now();
  const note = $("updated");
  note.hidden = !live;
  note.textContent = `Updated ${new Date(updatedAt).toLocaleTimeString()}; refreshes every minute.`;
}

function refreshIfDue() {
  if (!token() || !LIVE.has(currentRoute().name)) return;
  if (document.visibilityState !== "visible") {
    $("updated").textContent =
      `Updated ${new Date(updatedAt).toLocaleTimeString()}; paused while this tab is hidden.`;
    return;
  }
  if (Date.now() - updatedAt >= REFRESH_MS - 1000) render({ quiet: true });
}

// -- start ------------------------------------------------------------------------------------

function start() {
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) {
      alertError(new Error("Paste a token to sign in."));
      $("token").focus();
      return;
    }
    clearAlert();
    signIn(value);
    $("token").value = "";
    await render();
    if (token()) $("view").focus();
  });
  $("sign-out").addEventListener("click", () => {
    signOut();
    forgetReads();
    say("Signed out.");
    render();
    $("token").focus();
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const term = $("search-term").value.trim();
    if (term) location.hash = `#/search/${encodeURIComponent(term)}`;
  });
  window.addEventListener("hashchange", () => {
    if (!location.hash.startsWith("#/") && location.hash !== "") return; // the skip link
    clearAlert();
    render().then(() => {
      const title = document.getElementById("view-title");
      if (title) {
        title.setAttribute("tabindex", "-1");
        title.focus();
      }
    });
  });
  setInterval(refreshIfDue, REFRESH_MS);
  document.addEventListener("visibilitychange", refreshIfDue);
  setUpHostedSignIn().catch(alertError).finally(render);
}

start();
