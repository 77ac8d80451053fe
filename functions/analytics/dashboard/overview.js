// The overview staff keep open all day: every journey with patients in progress, overdue
// patients first (past a stale rule, by how far and what the rule does), names before ids;
// journeys nobody is in collapse to one line. Also the "stuck patients" report.

import { allItems, api } from "./api.js";
import { badge, formatDuration, formatMoment, h, patientLink, since, table } from "./dom.js";
import { journeyTemplates, say, standingNow } from "./page.js";

const PATIENTS_PER_STAGE = 20;
const HOUR_MS = 3600000;

/** The stale rule a stay is furthest past (the largest threshold it exceeds), and by how
 * much; null while the stay is within every rule. */
export function overdueBy(rules, enteredAt, now = Date.now()) {
  const stayMs = now - new Date(enteredAt).getTime();
  let worst = null;
  for (const rule of rules) {
    const pastMs = stayMs - rule.max_hours * HOUR_MS;
    if (pastMs > 0 && (!worst || rule.max_hours > worst.rule.max_hours)) worst = { rule, pastMs };
  }
  return worst;
}

/** Patients past a stale rule now, per the analytics of one journey (each counted once:
 * the stage's most crowded rule, its shortest threshold). */
export function overdueCount(analytics) {
  return analytics.stages.reduce(
    (sum, stage) => sum + Math.max(0, ...stage.stale_rules.map((r) => r.past_threshold_now)),
    0,
  );
}

function overdueFlag(overdue) {
  if (!overdue) return "";
  const { rule, pastMs } = overdue;
  return h(
    "span",
    { class: "overdue" },
    h("strong", {}, "Overdue"),
    ` ${formatDuration(pastMs)} past ${rule.max_hours} h · ${rule.action}`,
  );
}

const inProgress = (analytics) => analytics.current.active + analytics.current.blocked;

export async function activeJourneysView(root) {
  root.append(h("h2", { id: "view-title" }, "Active journeys"));
  const templates = await journeyTemplates();
  if (!templates.length) {
    root.append(h("p", {}, "This organization has no journeys with stages yet."));
    return;
  }
  const overviews = await Promise.all(templates.map((t) => standingNow(t.key)));
  const journeys = templates.map((template, index) => ({
    template,
    analytics: overviews[index],
    overdue: overdueCount(overviews[index]),
  }));
  const sum = (count) => journeys.reduce((total, j) => total + count(j), 0);
  root.append(
    h(
      "dl",
      { class: "totals" },
      h(
        "div",
        {},
        h("dt", {}, "Patients in active journeys"),
        h(
          "dd",
          {},
          sum((j) => inProgress(j.analytics)),
        ),
      ),
      h(
        "div",
        {},
        h("dt", {}, "Blocked, action required"),
        h(
          "dd",
          {},
          sum((j) => j.analytics.current.blocked),
        ),
      ),
      h(
        "div",
        {},
        h("dt", {}, "Overdue, past a stale rule"),
        h(
          "dd",
          {},
          sum((j) => j.overdue),
        ),
      ),
      h("div", {}, h("dt", {}, "Journeys with stages"), h("dd", {}, templates.length)),
    ),
  );
  const busy = journeys.filter((j) => inProgress(j.analytics));
  const quiet = journeys.filter((j) => !inProgress(j.analytics));
  busy.sort((a, b) => b.overdue - a.overdue); // stable: the templates' order among equals
  const cards = await Promise.all(busy.map((journey, index) => journeyCard(journey, index)));
  root.append(h("div", { class: "journey-grid" }, cards));
  if (quiet.length) {
    root.append(
      h(
        "section",
        { class: "quiet", "aria-labelledby": "quiet-title" },
        h("h3", { id: "quiet-title" }, "Journeys with nobody in progress"),
        h(
          "ul",
          { class: "quiet-list" },
          quiet.map(({ template, analytics }) =>
            h(
              "li",
              {},
              h("span", { class: "quiet-key" }, template.key),
              template.is_active ? "" : " (inactive)",
              h("span", { class: "muted" }, ` · ${analytics.current.enrolled} enrolled now`),
            ),
          ),
        ),
      ),
    );
  }
  say(`Loaded ${templates.length} journeys.`);
}

async function journeyCard({ template, analytics, overdue }, index) {
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
      overdue ? h("span", { class: "overdue-count" }, ` · ${overdue} overdue`) : "",
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
  const now = Date.now();
  const members = pages.flatMap((page, i) =>
    page.items.map((member) => ({
      member,
      stage: watched[i],
      overdue: overdueBy(watched[i].stale_rules, member.entered_at, now),
    })),
  );
  // Overdue first, the furthest past first; then the longest in their stage.
  members.sort(
    (a, b) =>
      (b.overdue ? b.overdue.pastMs : -1) - (a.overdue ? a.overdue.pastMs : -1) ||
      new Date(a.member.entered_at) - new Date(b.member.entered_at),
  );
  const rows = members.map(({ member, stage, overdue: late }) => [
    patientLink(member.patient_id, member.display_name, {
      "data-focus-key": `${template.key}/${member.patient_id}`,
    }),
    badge(member.stage, stage.kind),
    since(member.entered_at),
    overdueFlag(late),
  ]);
  section.append(
    rows.length
      ? table(
          `Patients in progress in ${template.key}`,
          ["Patient", "Stage", "In stage for", "Overdue"],
          rows,
        )
      : h("p", { class: "muted" }, "No patient is in progress in this journey."),
  );
  if (pages.some((page) => page.next_cursor)) {
    section.append(
      h("p", { class: "muted" }, `Showing the ${PATIENTS_PER_STAGE} longest in each stage.`),
    );
  }
  return section;
}

export async function stuckView(root) {
  root.append(h("h2", { id: "view-title" }, "Stuck patients"));
  const templates = await journeyTemplates();
  const overviews = await Promise.all(templates.map((t) => standingNow(t.key)));
  const now = Date.now();
  let shown = 0;
  for (const analytics of overviews) {
    for (const stage of analytics.stages) {
      for (const rule of stage.stale_rules) {
        if (!rule.past_threshold_now) continue;
        const { items } = await allItems(
          "patients",
          { journey_key: analytics.journey_key, stage: stage.stage, limit: 200 },
          5,
        );
        const cutoff = now - rule.max_hours * HOUR_MS;
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
                patientLink(member.patient_id, member.display_name),
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
