// The funnel chart: one bar per stage (entries in the period), in the definition's order,
// labelled with its main conversion and median time in the stage. Plain SVG, no library.

import { formatHours, percent, s } from "./dom.js";

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
