// Building the page: elements from text only (never HTML strings), badges, durations.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") element.textContent = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** h("a", {href: "#/"}, "text", child): an HTML element. */
export function h(tag, attributes = {}, ...children) {
  return fill(document.createElement(tag), attributes, children);
}

/** s("rect", {x: 0}): an SVG element. */
export function s(tag, attributes = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attributes, children);
}

/** A stage name that may wrap after its underscores (never inside a word). */
export function breakable(name) {
  const fragment = document.createDocumentFragment();
  name.split("_").forEach((part, index, parts) => {
    fragment.append(part + (index < parts.length - 1 ? "_" : ""));
    if (index < parts.length - 1) fragment.append(document.createElement("wbr"));
  });
  return fragment;
}

const KIND_LABELS = {
  active: "in progress",
  blocked: "blocked",
  completed: "completed",
  cancelled: "cancelled",
};

/** A stage badge; its kind is said in words too, not by colour alone. */
export function badge(stage, kind = "active") {
  return h(
    "span",
    { class: `badge badge-${kind}`, title: KIND_LABELS[kind] },
    stage,
    h("span", { class: "visually-hidden" }, ` (${KIND_LABELS[kind]})`),
  );
}

/**
 * The kind of a stage, as journeys_core/domain/analytics.py reads it: cancelled (name has
 * CANCEL), blocked (locked or BLOCKED…), completed (final), otherwise active.
 */
export function stageKind(spec, stage) {
  const name = stage.toUpperCase();
  if (name.includes("CANCEL")) return "cancelled";
  if ((spec.locked_stages || []).includes(stage) || name.startsWith("BLOCKED")) return "blocked";
  const transitions = spec.transitions;
  const final = transitions
    ? (spec.stages || []).includes(stage) && !(transitions[stage] || []).length
    : name.startsWith("COMPLET");
  return final ? "completed" : "active";
}

/** Where a patient in `stage` may go next, in the definition's order. */
export function nextStages(spec, stage) {
  const stages = spec.stages || [];
  if (!spec.transitions) return stages.filter((other) => other !== stage);
  const allowed = new Set(spec.transitions[stage] || []);
  return stages.filter((other) => allowed.has(other));
}

export function formatDuration(milliseconds) {
  const minutes = Math.max(0, Math.floor(milliseconds / 60000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function formatHours(hours) {
  if (hours === null || hours === undefined) return "not known yet";
  return formatDuration(hours * 3600000);
}

export function since(isoMoment) {
  return formatDuration(Date.now() - new Date(isoMoment).getTime());
}

export function formatMoment(isoMoment) {
  const moment = new Date(isoMoment);
  return h("time", { datetime: isoMoment }, moment.toLocaleString());
}

export function percent(rate) {
  return `${Math.round(rate * 1000) / 10}%`;
}

export function table(caption, headers, rows) {
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col" }, title)))),
    h(
      "tbody",
      {},
      rows.map((cells) =>
        h(
          "tr",
          {},
          cells.map((cell, index) =>
            index === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell),
          ),
        ),
      ),
    ),
  );
}

/** A patient as staff know them: the name, with the id as secondary text (or the id alone). */
export function patientLink(patientId, displayName, attributes = {}) {
  const link = h(
    "a",
    { href: `#/patient/${encodeURIComponent(patientId)}`, ...attributes },
    displayName || patientId,
  );
  if (!displayName) return link;
  return h("span", { class: "person" }, link, h("span", { class: "secondary" }, patientId));
}
