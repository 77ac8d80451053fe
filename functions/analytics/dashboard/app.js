// The staff dashboard: active journeys, a patient's journeys (with "review block"), a
// journey's funnel, stuck patients and simulations. Every figure comes from the public API.

import { ApiError, allItems, api, claims, enc, signIn, signOut, token } from "./api.js";
import {
  badge,
  breakable,
  formatDuration,
  formatHours,
  formatMoment,
  h,
  nextStages,
  percent,
  since,
  stageKind,
  table,
} from "./dom.js";
import { funnelChart } from "./funnel.js";
import { setUpHostedSignIn } from "./signin.js";
import { simulateView } from "./simulate.js";

const $ = (id) => document.getElementById(id);
const PATIENTS_PER_STAGE = 20;

// -- status, errors and the session ---------------------------------------------------------

function say(message) {
  $("status").textContent = message;
}

function alertError(error) {
  const message = error instanceof Error ? error.message : String(error);
  $("alert").replaceChildren(h("p", {}, message));
}

function clearAlert() {
  $("alert").replaceChildren();
}

function showSignedIn(signedIn) {
  $("sign-in").hidden = signedIn;
  $("view").hidden = !signedIn;
  $("views-nav").hidden = !signedIn;
  $("session").hidden = !signedIn;
  if (signedIn) {
    const who = claims();
    const org = who["custom:org_id"] || "?";
    $("session-who").textContent = `Organization ${org} · ${who.sub || "signed in"}`;
  }
}

// -- cached reads (one page load) -------------------------------------------------------------

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

const journeyTemplates = () =>
  once("templates", async () => (await api("journey-templates")).items);
const journeySpec = (key) =>
  once(`spec:${key}`, async () => (await api(`journeys/${enc(key)}`)).journey_spec);
// An empty period reads no log: who stands where now, and who is past a stale rule.
const standingNow = (key) => {
  const now = new Date().toISOString();
  return api(`analytics/journeys/${enc(key)}`, { query: { from: now, to: now } });
};

// -- views ------------------------------------------------------------------------------------

async function activeJourneysView(root) {
  root.append(h("h2", { id: "view-title" }, "Active journeys"));
  const templates = await journeyTemplates();
  if (!templates.length) {
    root.append(h("p", {}, "This organization has no journeys with stages yet."));
    return;
  }
  const overviews = await Promise.all(templates.map((t) => standingNow(t.key)));
  const active = overviews.reduce((sum, a) => sum + a.current.active + a.current.blocked, 0);
  const blocked = overviews.reduce((sum, a) => sum + a.current.blocked, 0);
  root.append(
    h(
      "dl",
      { class: "totals" },
      h("div", {}, h("dt", {}, "Patients in active journeys"), h("dd", {}, active)),
      h("div", {}, h("dt", {}, "Blocked, action required"), h("dd", {}, blocked)),
      h("div", {}, h("dt", {}, "Journeys with stages"), h("dd", {}, templates.length)),
    ),
  );
  const grid = h("div", { class: "journey-grid" });
  for (const [index, analytics] of overviews.entries()) {
    grid.append(await journeyCard(templates[index], analytics, index));
  }
  root.append(grid);
  say(`Loaded ${templates.length} journeys.`);
}

async function journeyCard(template, analytics, index) {
  const headingId = `journey-${index}`;
  const section = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h(
      "h3",
      { id: headingId },
      template.key,
      template.is_active ? "" : " (inactive)",
      h("span", { class: "muted" }, ` · ${analytics.current.enrolled} enrolled now`),
    ),
    h(
      "ul",
      { class: "stage-counts", "aria-label": `Patients per stage now in ${template.key}` },
      analytics.stages
        .filter((stage) => stage.in_definition || stage.in_stage_now)
        .map((stage) =>
          h(
            "li",
            { class: stage.in_stage_now ? "" : "empty" },
            badge(stage.stage, stage.kind),
            h("span", { class: "count" }, String(stage.in_stage_now)),
          ),
        ),
    ),
  );
  const watched = analytics.stages.filter(
    (stage) => stage.in_stage_now && (stage.kind === "active" || stage.kind === "blocked"),
  );
  const pages = await Promise.all(
    watched.map((stage) =>
      api("patients", {
        query: { journey_key: template.key, stage: stage.stage, limit: PATIENTS_PER_STAGE },
      }),
    ),
  );
  const rows = pages.flatMap((page, i) =>
    page.items.map((member) => [
      h("a", { href: `#/patient/${enc(member.patient_id)}` }, member.patient_id),
      badge(member.stage, watched[i].kind),
      since(member.entered_at),
    ]),
  );
  const more = pages.some((page) => page.next_cursor);
  section.append(
    rows.length
      ? table(`Patients in progress in ${template.key}`, ["Patient", "Stage", "In stage for"], rows)
      : h("p", { class: "muted" }, "No patient is in progress in this journey."),
  );
  if (more) {
    section.append(
      h("p", { class: "muted" }, `Showing the ${PATIENTS_PER_STAGE} longest in each stage.`),
    );
  }
  return section;
}

function patientForm(root, patientId) {
  const form = h(
    "form",
    { class: "inline-form", role: "search", "aria-label": "Open a patient" },
    h("label", { for: "patient-id" }, "Patient id"),
    h("input", {
      id: "patient-id",
      name: "patient-id",
      value: patientId || "",
      required: true,
      pattern: "[A-Za-z0-9._\\-]{1,100}",
      autocomplete: "off",
    }),
    h("button", { type: "submit" }, "Open"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("patient-id").value.trim();
    if (id) location.hash = `#/patient/${enc(id)}`;
  });
  root.append(form);
}

async function patientView(root, [patientId]) {
  root.append(h("h2", { id: "view-title" }, "Patient"));
  patientForm(root, patientId);
  if (!patientId) return;
  let patient;
  try {
    patient = await api(`patients/${enc(patientId)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      root.append(h("p", {}, `No patient ${patientId} in this organization.`));
      return;
    }
    throw error;
  }
  root.append(
    h(
      "h3",
      { class: "patient-name" },
      patient.display_name || patient.id,
      patient.display_name ? h("span", { class: "muted" }, ` · ${patient.id}`) : "",
    ),
  );
  const keys = Object.keys(patient.enrollments);
  if (!keys.length) root.append(h("p", {}, "Not enrolled in any journey."));
  for (const [index, key] of keys.entries()) {
    root.append(await enrollmentSection(patient, key, index));
  }
  say(`Loaded patient ${patient.id}.`);
}

async function enrollmentSection(patient, key, index) {
  const enrollment = patient.enrollments[key];
  const [spec, history] = await Promise.all([
    journeySpec(key),
    allItems(`patients/${enc(patient.id)}/journeys/${enc(key)}/history`, { limit: 200 }),
  ]);
  const stage = enrollment.stage;
  const kind = stageKind(spec, stage);
  const visited = new Set(history.items.map((entry) => entry.to_stage));
  const headingId = `enrollment-${index}`;
  const section = h(
    "section",
    { class: `card enrollment kind-${kind}`, "aria-labelledby": headingId },
    h("h4", { id: headingId }, key),
    h(
      "p",
      { class: "standing" },
      "Stage ",
      badge(stage, kind),
      ` for ${since(enrollment.entered_at)} (since `,
      formatMoment(enrollment.entered_at),
      ")",
    ),
    h(
      "ol",
      { class: "progress", "aria-label": `Progress in ${key}` },
      (spec.stages || []).map((name) => {
        const state = name === stage ? "current" : visited.has(name) ? "visited" : "upcoming";
        const words = { current: "current stage", visited: "visited", upcoming: "not yet" }[state];
        return h(
          "li",
          {
            class: `step step-${state} kind-${stageKind(spec, name)}`,
            "aria-current": state === "current" ? "step" : false,
          },
          h("span", { class: "step-name" }, breakable(name)),
          h("span", { class: "visually-hidden" }, ` (${words})`),
        );
      }),
    ),
  );
  if (kind === "blocked") section.append(blockReview(patient, key, spec, stage, index));
  section.append(
    table(
      `Audit history of ${key}`,
      ["When", "From", "To", "By", "Reason"],
      history.items.map((entry) => [
        formatMoment(entry.changed_at),
        entry.from_stage || "(enrolled)",
        entry.to_stage,
        entry.actor,
        entry.reason || "",
      ]),
    ),
  );
  if (!history.complete) section.append(h("p", { class: "muted" }, "Older entries not shown."));
  return section;
}

function blockReview(patient, key, spec, stage, index) {
  const formId = `review-${index}`;
  const targets = nextStages(spec, stage);
  const form = h(
    "form",
    { id: formId, class: "review", hidden: true, novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, `Review block: move ${patient.id} out of ${stage}`),
      h("label", { for: `${formId}-to` }, "Move to"),
      h(
        "select",
        { id: `${formId}-to`, name: "status", required: true },
        targets.map((target) => h("option", { value: target }, target)),
      ),
      h("label", { for: `${formId}-reason` }, "Reason (required)"),
      h("textarea", {
        id: `${formId}-reason`,
        name: "reason",
        rows: 3,
        required: true,
        maxlength: 1000,
        "aria-describedby": `${formId}-hint`,
      }),
      h(
        "p",
        { id: `${formId}-hint`, class: "hint" },
        "Kept in the patient's audit history with your name.",
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit" }, "Move patient"),
        h("button", { type: "button", class: "secondary", onclick: () => toggle(false) }, "Cancel"),
      ),
    ),
  );
  const opener = h(
    "button",
    { type: "button", "aria-expanded": "false", "aria-controls": formId },
    "Review block",
  );
  function toggle(open) {
    form.hidden = !open;
    opener.setAttribute("aria-expanded", String(open));
    if (open) form.querySelector("select").focus();
    else opener.focus();
  }
  opener.addEventListener("click", () => toggle(form.hidden));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = form.elements.reason.value.trim();
    const status = form.elements.status.value;
    if (!reason) {
      alertError(new Error("A reason is required to move a patient out of a blocked stage."));
      form.elements.reason.setAttribute("aria-invalid", "true");
      form.elements.reason.focus();
      return;
    }
    clearAlert();
    try {
      await api(`patients/${enc(patient.id)}/journey`, {
        method: "PATCH",
        body: { key, status, reason, expected_stage: stage },
      });
    } catch (error) {
      alertError(error);
      return;
    }
    await render();
    say(`Moved ${patient.id} from ${stage} to ${status} in ${key}.`);
  });
  return h(
    "div",
    { class: "blocked-note", role: "group", "aria-label": `Blocked in ${key}` },
    h(
      "p",
      {},
      h("strong", {}, "Blocked: action required. "),
      `Only a person can move the patient out of ${stage}, with a reason.`,
    ),
    opener,
    form,
  );
}

async function funnelView(root, [key, from, to]) {
  root.append(h("h2", { id: "view-title" }, "Journey funnel"));
  const templates = await journeyTemplates();
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 30 * 86400000);
  const day = (moment) => moment.toISOString().slice(0, 10);
  const chosen = key || (templates[0] && templates[0].key);
  const form = h(
    "form",
    { class: "inline-form", "aria-label": "Choose a journey and a period" },
    h("label", { for: "funnel-journey" }, "Journey"),
    h(
      "select",
      { id: "funnel-journey", name: "journey" },
      templates.map((t) => h("option", { value: t.key, selected: t.key === chosen }, t.key)),
    ),
    h("label", { for: "funnel-from" }, "From (UTC)"),
    h("input", { id: "funnel-from", name: "from", type: "date", value: from || day(monthAgo) }),
    h("label", { for: "funnel-to" }, "To (UTC)"),
    h("input", { id: "funnel-to", name: "to", type: "date", value: to || day(today) }),
    h("button", { type: "submit" }, "Show funnel"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = form.elements;
    location.hash = `#/funnel/${enc(values.journey.value)}/${values.from.value}/${values.to.value}`;
  });
  root.append(form);
  if (!chosen) {
    root.append(h("p", {}, "This organization has no journeys with stages yet."));
    return;
  }
  const period = {
    from: `${from || day(monthAgo)}T00:00:00Z`,
    to: `${to || day(today)}T23:59:59.999999Z`,
  };
  const analytics = await api(`analytics/journeys/${enc(chosen)}`, { query: period });
  const titleId = "funnel-title";
  root.append(
    h(
      "section",
      { class: "card", "aria-labelledby": titleId },
      h(
        "h3",
        { id: titleId },
        `${chosen}: entries per stage, ${period.from.slice(0, 10)} to ${period.to.slice(0, 10)}`,
      ),
      funnelChart(analytics, titleId),
      h(
        "dl",
        { class: "totals" },
        ["enrolled", "completed", "cancelled", "blocked"].map((name) =>
          h(
            "div",
            {},
            h("dt", {}, `${name[0].toUpperCase()}${name.slice(1)} in the period`),
            h("dd", {}, analytics.totals[name]),
          ),
        ),
        h("div", {}, h("dt", {}, "Enrolled now"), h("dd", {}, analytics.current.enrolled)),
        h("div", {}, h("dt", {}, "Blocked now"), h("dd", {}, analytics.current.blocked)),
      ),
      table(
        `Stages of ${chosen} in the period`,
        [
          "Stage",
          "Now",
          "Entries",
          "Median time",
          "p90 time",
          "Moved on to",
          "Past a stale rule now",
        ],
        analytics.stages.map((stage) => [
          badge(stage.stage, stage.kind),
          String(stage.in_stage_now),
          String(stage.entries),
          stayTime(stage.time_in_stage, "median_hours"),
          stayTime(stage.time_in_stage, "p90_hours"),
          stage.conversions
            .filter((c) => c.count)
            .map((c) => `${c.to_stage} ${percent(c.rate)} (${c.count})`)
            .join(", ") || "none",
          stage.stale_rules
            .map((rule) => `${rule.past_threshold_now} over ${rule.max_hours} h`)
            .join(", ") || "no rule",
        ]),
      ),
      h(
        "p",
        { class: "muted" },
        `Read ${analytics.reads.log_items} daily and ${analytics.reads.enrollment_items} ` +
          `live rollup items in ${analytics.reads.queries} calls.`,
      ),
    ),
  );
  say(`Loaded the funnel of ${chosen}.`);
}

function stayTime(time, quantile) {
  if (!time.stays) return "no stays";
  return formatHours(time[quantile]);
}

async function stuckView(root) {
  root.append(h("h2", { id: "view-title" }, "Stuck patients"));
  const templates = await journeyTemplates();
  const overviews = await Promise.all(templates.map((t) => standingNow(t.key)));
  const now = Date.now();
  let shown = 0;
  for (const analytics of overviews) {
    for (const stage of analytics.stages) {
      for (const rule of stage.stale_rules) {
        if (!rule.past_threshold_now) continue;
        const { items } = await allItems("patients", {
          journey_key: analytics.journey_key,
          stage: stage.stage,
          limit: 200,
        }, 5);
        const cutoff = now - rule.max_hours * 3600000;
        const stuck = items.filter((m) => new Date(m.entered_at).getTime() < cutoff);
        const caption =
          `${analytics.journey_key}: ${stuck.length} in ${stage.stage} ` +
          `for over ${rule.max_hours} h (${rule.action})`;
        root.append(
          h(
            "section",
            { class: "card" },
            table(
              caption,
              ["Patient", "In stage for", "Since"],
              stuck.map((member) => [
                h("a", { href: `#/patient/${enc(member.patient_id)}` }, member.patient_id),
                formatDuration(now - new Date(member.entered_at).getTime()),
                formatMoment(member.entered_at),
              ]),
            ),
          ),
        );
        shown += 1;
      }
    }
  }
  if (!shown) root.append(h("p", {}, "No patient is past a stale rule's threshold."));
  say(`Checked the stale rules of ${templates.length} journeys.`);
}

// -- routing ----------------------------------------------------------------------------------

const VIEWS = {
  "": activeJourneysView,
  patient: patientView,
  funnel: funnelView,
  stuck: stuckView,
  simulate: (root, args) =>
    simulateView(root, args, { journeyTemplates, say, alertError, clearAlert }),
};

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

async function render() {
  if (!token()) {
    showSignedIn(false);
    return;
  }
  showSignedIn(true);
  const { name, args } = currentRoute();
  markCurrentLink(name);
  const root = $("view");
  const fresh = h("div", { class: "view", "aria-busy": "true" });
  root.replaceChildren(fresh);
  say("Loading…");
  try {
    await VIEWS[name](fresh, args);
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
    cache.clear();
    say("Signed out.");
    render();
    $("token").focus();
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
  setUpHostedSignIn().catch(alertError).finally(render);
}

start();
