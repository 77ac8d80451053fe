// One patient: who they are (edit name and email), each journey they are in (the version
// they are pinned to, their episode, progress, "Move to…", the stage history) and, beside
// it, what happened to them (system events).

import { ApiError, allItems, api, enc } from "./api.js";
import { badge, breakable, formatMoment, h, since, stageKind, table } from "./dom.js";
import { moveControl } from "./moves.js";
import { alertError, clearAlert, pinnedSpec, say } from "./page.js";
import { eventsTimeline } from "./timeline.js";

function patientForm(root, patientId) {
  const form = h(
    "form",
    { class: "inline-form", "aria-label": "Open a patient by id" },
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
    const id = form.elements["patient-id"].value.trim();
    if (id) location.hash = `#/patient/${enc(id)}`;
  });
  root.append(form);
}

export async function patientView(root, [patientId], { rerender }) {
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
  root.append(profileCard(patient, rerender));
  const keys = Object.keys(patient.enrollments);
  const journeys = h("div", { class: "patient-journeys" });
  if (!keys.length) journeys.append(h("p", {}, "Not enrolled in any journey."));
  const [sections, timeline] = await Promise.all([
    Promise.all(keys.map((key, index) => enrollmentSection(patient, key, index, rerender))),
    eventsTimeline(patient),
  ]);
  journeys.append(...sections);
  root.append(h("div", { class: "patient-grid" }, journeys, timeline));
  say(`Loaded patient ${patient.id}.`);
}

function profileCard(patient, rerender) {
  const card = h(
    "section",
    { class: "card profile", "aria-labelledby": "patient-name" },
    h(
      "h3",
      { id: "patient-name", class: "patient-name" },
      patient.display_name || patient.id,
      patient.display_name ? h("span", { class: "secondary" }, ` · ${patient.id}`) : "",
    ),
    h(
      "dl",
      { class: "facts" },
      h("div", {}, h("dt", {}, "Email"), h("dd", {}, patient.email || "none on file")),
    ),
  );
  const form = h(
    "form",
    { id: "profile-form", class: "review", hidden: true, novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, "Edit profile"),
      h("label", { for: "profile-name" }, "Name"),
      h("input", {
        id: "profile-name",
        name: "name",
        value: patient.display_name || "",
        maxlength: 200,
        autocomplete: "off",
      }),
      h("label", { for: "profile-email" }, "Email"),
      h("input", {
        id: "profile-email",
        name: "email",
        type: "email",
        value: patient.email || "",
        maxlength: 254,
        autocomplete: "off",
      }),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit" }, "Save profile"),
        h("button", { type: "button", class: "secondary", onclick: () => toggle(false) }, "Cancel"),
      ),
    ),
  );
  const opener = h(
    "button",
    { type: "button", "aria-expanded": "false", "aria-controls": "profile-form" },
    "Edit profile",
  );
  function toggle(open) {
    form.hidden = !open;
    opener.setAttribute("aria-expanded", String(open));
    if (open) form.elements.name.focus();
    else opener.focus();
  }
  opener.addEventListener("click", () => toggle(form.hidden));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const email = form.elements.email.value.trim();
    clearAlert();
    try {
      await api(`patients/${enc(patient.id)}`, {
        method: "PUT",
        body: { display_name: name || null, email: email || null },
      });
    } catch (error) {
      alertError(error);
      return;
    }
    await rerender();
    say(`Saved the profile of ${patient.id}.`);
  });
  card.append(opener, form);
  return card;
}

function episodeText(enrollment) {
  const ended = enrollment.episodes_ended;
  const current = enrollment.ended_at
    ? `episode ${enrollment.episode} (ended ${new Date(enrollment.ended_at).toLocaleDateString()})`
    : `episode ${enrollment.episode}`;
  return `Version ${enrollment.definition_version} · ${current} · ${ended} ended`;
}

async function enrollmentSection(patient, key, index, rerender) {
  const enrollment = patient.enrollments[key];
  const [spec, history] = await Promise.all([
    pinnedSpec(key, enrollment.definition_version),
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
    h("p", { class: "pinned" }, episodeText(enrollment)),
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
  if (kind === "blocked") {
    section.append(
      h(
        "p",
        { class: "blocked-note" },
        h("strong", {}, "Blocked: action required. "),
        `Only a person can move the patient out of ${stage}, with a reason.`,
      ),
    );
  }
  section.append(moveControl(patient, enrollment, spec, index, { onMoved: rerender }));
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
