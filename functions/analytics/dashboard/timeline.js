// What happened to a patient: the system events about it (domain events from other systems,
// timeouts of stale rules), newest first, each with what the service did with it — rules
// that moved the patient or refused to, reminder emails sent, skipped or failed.

import { ApiError, api, enc } from "./api.js";
import { formatMoment, h } from "./dom.js";

const EVENTS_SHOWN = 50;
const EMAIL_WORDS = { sent: "Email sent", skipped: "Email skipped", failed: "Email failed" };

/** One result of an event, in words a coordinator reads. */
export function describeResult(result) {
  const detail = result.subject || result.detail;
  if (result.action === "send_email" || (EMAIL_WORDS[result.outcome] && !result.journey_key)) {
    const words = EMAIL_WORDS[result.outcome] || `Email ${result.outcome}`;
    return detail ? `${words}: ${detail}` : words;
  }
  if (result.outcome === "moved") {
    return `Moved to ${result.to_stage} in ${result.journey_key}`;
  }
  const what = result.action || result.step || "rule";
  const where = result.journey_key ? ` in ${result.journey_key}` : "";
  return `${what}${where}: ${result.outcome}${detail ? ` (${detail})` : ""}`;
}

const eventTitle = (type) => type.replaceAll("_", " ").toLowerCase();

export async function eventsTimeline(patient) {
  const who = patient.display_name || patient.id;
  const section = h(
    "section",
    { class: "card timeline", "aria-labelledby": "timeline-title" },
    h("h3", { id: "timeline-title" }, "What happened"),
  );
  let page;
  try {
    page = await api(`patients/${enc(patient.id)}/events`, { query: { limit: EVENTS_SHOWN } });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    section.append(h("p", {}, `The events could not be read: ${error.message}`));
    return section;
  }
  if (!page.items.length) {
    section.append(h("p", { class: "muted" }, "No event about this patient yet."));
    return section;
  }
  section.append(
    h(
      "ol",
      { class: "events", "aria-label": `Events about ${who}, newest first` },
      page.items.map((event) =>
        h(
          "li",
          { class: `event event-${event.status}` },
          h(
            "p",
            { class: "event-head" },
            formatMoment(event.received_at),
            " ",
            h("strong", {}, eventTitle(event.event_type)),
            h(
              "span",
              { class: "muted" },
              ` · ${event.status} · from ${event.sender || event.source}`,
            ),
          ),
          event.results.length
            ? h(
                "ul",
                { class: "results" },
                event.results.map((r) => h("li", {}, describeResult(r))),
              )
            : "",
        ),
      ),
    ),
  );
  if (page.next_cursor) section.append(h("p", { class: "muted" }, "Older events not shown."));
  return section;
}
