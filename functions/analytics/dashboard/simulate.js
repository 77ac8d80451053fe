// The Simulate view: rehearse a journey (a version, or a pasted draft) with its rules on a
// synthetic cohort, and compare it with the version live today. Nothing is written.

import { api, enc } from "./api.js";
import { badge, formatHours, h, percent, table } from "./dom.js";
import { funnelChart } from "./funnel.js";

const field = (id, label, input) =>
  h("div", { class: "field" }, h("label", { for: id }, label), input);

function simulateForm(templates, chosen, onRun, alertError) {
  const form = h(
    "form",
    { class: "simulate-form", "aria-label": "Simulate a journey" },
    h(
      "div",
      { class: "fields" },
      field(
        "sim-journey",
        "Journey",
        h(
          "select",
          { id: "sim-journey", name: "journey" },
          templates.map((t) => h("option", { value: t.key, selected: t.key === chosen }, t.key)),
        ),
      ),
      field(
        "sim-version",
        "Version (blank: current)",
        h("input", { id: "sim-version", name: "version", type: "number", min: 1 }),
      ),
      field(
        "sim-size",
        "Cohort size",
        h("input", {
          id: "sim-size",
          name: "size",
          type: "number",
          min: 1,
          max: 10000,
          value: 1000,
          required: true,
        }),
      ),
      field(
        "sim-days",
        "Days (blank: the journey's duration)",
        h("input", { id: "sim-days", name: "days", type: "number", min: 1, max: 730 }),
      ),
      field(
        "sim-seed",
        "Seed",
        h("input", { id: "sim-seed", name: "seed", type: "number", min: 0, value: 0 }),
      ),
      h(
        "label",
        { class: "check" },
        h("input", { id: "sim-compare", name: "compare", type: "checkbox", checked: true }),
        " Compare with the current version",
      ),
    ),
    field(
      "sim-draft",
      "Draft journey_spec (JSON, optional: replaces the version)",
      h("textarea", { id: "sim-draft", name: "draft", rows: 5, spellcheck: "false" }),
    ),
    h("button", { type: "submit" }, "Run simulation"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = form.elements;
    const body = { cohort_size: Number(values.size.value), seed: Number(values.seed.value || 0) };
    if (values.days.value) body.days = Number(values.days.value);
    if (values.compare.checked) body.compare_with = "current";
    const draft = values.draft.value.trim();
    if (draft) {
      try {
        body.draft_spec = JSON.parse(draft);
      } catch (error) {
        values.draft.setAttribute("aria-invalid", "true");
        values.draft.focus();
        alertError(new Error(`The draft is not JSON: ${error.message}`));
        return;
      }
    } else if (values.version.value) {
      body.version = Number(values.version.value);
    }
    values.draft.removeAttribute("aria-invalid");
    onRun(values.journey.value, body);
  });
  return form;
}

const signed = (value) =>
  value === null || value === undefined ? "-" : `${value > 0 ? "+" : ""}${value}`;

function stageTable(result) {
  return table(
    `Simulated stages of ${result.journey_key}`,
    ["Stage", "Entries", "At the end", "Median time", "p90 time", "Moved on to"],
    result.stages.map((stage) => [
      badge(stage.stage, stage.kind),
      String(stage.entries),
      String(stage.in_stage_at_end),
      stage.time_in_stage.stays ? formatHours(stage.time_in_stage.median_hours) : "no stays",
      stage.time_in_stage.stays ? formatHours(stage.time_in_stage.p90_hours) : "no stays",
      stage.conversions
        .filter((c) => c.count)
        .map((c) => `${c.to_stage} ${percent(c.rate)} (${c.count})`)
        .join(", ") || "none",
    ]),
  );
}

function comparisonTable(result) {
  const count = (value) => (value === null || value === undefined ? "-" : String(value));
  const hours = (value) => (value === null || value === undefined ? "-" : formatHours(value));
  const pair = (change, format) => `${format(change.run)} (${format(change.compared)})`;
  return table(
    `This run next to version ${result.compared_version} (live)`,
    ["Stage", "Entries (live)", "Change", "At the end (live)", "Change", "Median (live)"],
    Object.entries(result.diff).map(([stage, d]) => [
      stage,
      pair(d.entries, count),
      signed(d.entries.change),
      pair(d.final, count),
      signed(d.final.change),
      pair(d.median_hours, hours),
    ]),
  );
}

function summary(result) {
  const busiest = (perDay) => Math.max(0, ...perDay);
  const refused = result.refused.reduce((sum, r) => sum + r.count, 0);
  return [
    h(
      "dl",
      { class: "totals" },
      h("div", {}, h("dt", {}, "Patients enrolled"), h("dd", {}, result.enrolled)),
      h("div", {}, h("dt", {}, "Moves refused"), h("dd", {}, refused)),
      h("div", {}, h("dt", {}, "Stale timeouts"), h("dd", {}, result.timeouts.total)),
      h("div", {}, h("dt", {}, "Emails"), h("dd", {}, result.emails.total)),
      h(
        "div",
        {},
        h("dt", {}, "Emails on the busiest day"),
        h("dd", {}, busiest(result.emails.per_day)),
      ),
    ),
    result.refused.length
      ? table(
          "Refused moves",
          ["From", "To", "Why", "Count"],
          result.refused.map((r) => [
            r.from_stage || "(enrollment)",
            r.to_stage,
            r.why,
            String(r.count),
          ]),
        )
      : h("p", {}, "No move was refused."),
    table(
      "Rules",
      ["Rule", "Fired", "Moved", "Refused", "Emails"],
      result.rules.map((rule) => [
        rule.name,
        String(rule.fired),
        String(rule.moved),
        String(rule.refused),
        String(rule.emails),
      ]),
    ),
  ];
}

export async function simulateView(root, [key], ui) {
  const { journeyTemplates, say, alertError, clearAlert } = ui;
  root.append(h("h2", { id: "view-title" }, "Simulate"));
  root.append(
    h(
      "p",
      { class: "muted" },
      "Runs the journey's timeline through its stage machine and rules on synthetic patients, " +
        "on a virtual clock. Nothing is written, sent or published.",
    ),
  );
  const templates = await journeyTemplates();
  if (!templates.length) {
    root.append(h("p", {}, "This organization has no journeys with stages yet."));
    return;
  }
  const results = h("div", { class: "simulation", "aria-live": "polite" });
  const run = async (journey, body) => {
    say(`Simulating ${body.cohort_size} patients in ${journey}…`);
    clearAlert();
    results.replaceChildren();
    const result = await api(`journeys/${enc(journey)}/simulate`, { method: "POST", body });
    const titleId = "simulation-title";
    const days = `${result.days} days`;
    const version = result.version ? `version ${result.version}` : "draft";
    const section = h(
      "section",
      { class: "card", "aria-labelledby": titleId },
      h("h3", { id: titleId }, `${journey} (${version}): ${result.enrolled} patients over ${days}`),
    );
    const stages = result.stages.map((stage) => ({ ...stage, in_definition: true }));
    const scroll = (child) => h("div", { class: "scroll" }, child);
    const tables = [scroll(stageTable(result))];
    if (result.diff) tables.push(scroll(comparisonTable(result)));
    section.append(
      funnelChart({ stages }, titleId),
      h("div", { class: "side-by-side" }, tables),
      ...summary(result),
    );
    results.append(section);
    say(`Simulated ${result.enrolled} patients in ${journey}.`);
  };
  const onRun = (journey, body) =>
    run(journey, body).catch((error) => {
      say("");
      alertError(error);
    });
  const form = simulateForm(templates, key || templates[0].key, onRun, alertError);
  root.append(form, results);
  say("Choose a journey and run a simulation.");
}
