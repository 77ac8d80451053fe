// The funnel view: a journey's entries per stage over a period, as a chart (one bar per
// stage, in the definition's order, labelled with its main conversion and median time in
// the stage; plain SVG, no library) and a table.

import { api, enc } from "./api.js";
import { badge, formatHours, h, percent, s, table } from "./dom.js";
import { journeyTemplates, say } from "./page.js";

const WIDTH = 1000;
const LABEL_WIDTH = 220;
const BAR_AREA = 320;
const ROW = 40;
const BAR = 24;
const TOP = 8;

function mainConversion(stage) {
  const best = [...stage.conversions].sort((a, b) => b.count - a.count)[0];
  return best && best.count ? `${percent(best.rate)} → ${best.to_stage}` : "no moves on yet";
}

function medianText(time) {
  return time.stays ? ` · median ${formatHours(time.median_hours)}` : "";
}

export function funnelChart(analytics, titleId) {
  const stages = analytics.stages.filter((stage) => stage.in_definition || stage.entries);
  const most = Math.max(1, ...stages.map((stage) => stage.entries));
  const height = TOP * 2 + stages.length * ROW;
  const described = `${titleId}-desc`;
  const summary = stages
    .map((stage) => `${stage.stage}: ${stage.entries} entries, ${mainConversion(stage)}`)
    .join("; ");
  return s(
    "svg",
    {
      class: "funnel",
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: "img",
      "aria-labelledby": `${titleId} ${described}`,
      preserveAspectRatio: "xMinYMin meet",
    },
    s("desc", { id: described }, summary),
    stages.map((stage, index) => {
      const y = TOP + index * ROW;
      const width = Math.max(2, (stage.entries / most) * BAR_AREA);
      return s(
        "g",
        { class: `funnel-row kind-${stage.kind}` },
        s("text", { x: LABEL_WIDTH - 10, y: y + BAR / 2 + 5, "text-anchor": "end" }, stage.stage),
        s("rect", { x: LABEL_WIDTH, y, width, height: BAR, rx: 3 }),
        s(
          "text",
          { x: LABEL_WIDTH + width + 8, y: y + BAR / 2 + 5, class: "funnel-figures" },
          `${stage.entries} in · ${mainConversion(stage)}${medianText(stage.time_in_stage)}`,
        ),
      );
    }),
  );
}

export async function funnelView(root, [key, from, to]) {
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
        `Read ${analytics.reads.log_items} log entries and ${analytics.reads.enrollment_items} ` +
          `enrollments in ${analytics.reads.queries} queries.`,
      ),
    ),
  );
  say(`Loaded the funnel of ${chosen}.`);
}

function stayTime(time, quantile) {
  if (!time.stays) return "no stays";
  return formatHours(time[quantile]);
}
