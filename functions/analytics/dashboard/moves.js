// "Move to…" on the patient view: the moves the version the patient is pinned to allows,
// a reason where the contract asks for one (leaving a locked stage, overriding a guard), the
// stage the page showed sent as expected_stage, and a refusal (409) explained in words.

import { ApiError, api, enc, roles } from "./api.js";
import { h, nextStages } from "./dom.js";
import { alertError, clearAlert, say } from "./page.js";

// A refusal because the patient is no longer where the page showed them.
const MOVED_MEANWHILE = /expected the patient in|meanwhile|someone else/;

/** Why a move was refused, in words; the service's own message follows in brackets. */
export function explainRefusal(error, { stage, target, version }) {
  if (!(error instanceof ApiError)) return error.message;
  const said = error.said || error.message;
  const because = (words) => `Not moved: ${words} (the service said: ${said})`;
  if (error.status === 403) return because("only an admin can override a guard.");
  if (error.status !== 409) return because("the request was refused.");
  if (MOVED_MEANWHILE.test(said)) {
    return because(
      "someone else moved this patient meanwhile; the page now shows where they stand. " +
        "Check, then choose again.",
    );
  }
  if (said.includes("needs the patient to have had")) {
    return because(
      `${target} can be entered only after certain events, which this patient has not had. ` +
        "An admin can override the guard, with a reason.",
    );
  }
  if (said.includes("does not allow")) {
    return because(`version ${version} of this journey has no move from ${stage} to ${target}.`);
  }
  if (said.includes("locked stage")) {
    return because(`${stage} is a locked stage: leaving it needs a reason.`);
  }
  if (said.includes("retired")) return because("this journey is retired and takes no one new.");
  if (said.includes("re-entry") || said.includes("episode")) {
    return because("the journey does not let this patient start another episode now.");
  }
  return because("the journey's rules refuse this move.");
}

const requiredEvents = (spec, stage) => (spec.guards || {})[stage]?.requires_events || [];

export function moveControl(patient, enrollment, spec, index, { onMoved }) {
  const key = enrollment.journey_key;
  const stage = enrollment.stage;
  const version = enrollment.definition_version;
  const targets = nextStages(spec, stage);
  const who = patient.display_name || patient.id;
  if (!targets.length) {
    return h("p", { class: "muted" }, `Version ${version} allows no move from ${stage}.`);
  }
  const locked = (spec.locked_stages || []).includes(stage);
  const admin = roles().includes("admin");
  const formId = `move-${index}`;
  const select = h(
    "select",
    { id: `${formId}-to`, name: "status", required: true, "aria-describedby": `${formId}-guard` },
    targets.map((target) => {
      const needs = requiredEvents(spec, target);
      return h(
        "option",
        { value: target },
        needs.length ? `${target} (needs ${needs.join(", ")})` : target,
      );
    }),
  );
  const guardNote = h("p", { id: `${formId}-guard`, class: "hint", "aria-live": "polite" });
  const override = h("input", { id: `${formId}-override`, name: "override", type: "checkbox" });
  const overrideRow = h(
    "div",
    { class: "check", hidden: true },
    override,
    h(
      "label",
      { for: `${formId}-override` },
      "Override the guard (admin): move without those events",
    ),
  );
  const reasonLabel = h("label", { for: `${formId}-reason` });
  const reason = h("textarea", {
    id: `${formId}-reason`,
    name: "reason",
    rows: 3,
    maxlength: 1000,
    "aria-describedby": `${formId}-hint`,
  });
  const reasonNeeded = () => locked || (override.checked && !overrideRow.hidden);
  function update() {
    const needs = requiredEvents(spec, select.value);
    guardNote.textContent = needs.length
      ? `${select.value} needs ${needs.join(", ")} first; without them the move is refused` +
        (admin ? " unless you override the guard." : " (an admin can override it).")
      : "";
    overrideRow.hidden = !(needs.length && admin);
    reasonLabel.textContent = reasonNeeded() ? "Reason (required)" : "Reason (optional)";
    reason.required = reasonNeeded();
  }
  select.addEventListener("change", update);
  override.addEventListener("change", update);
  const form = h(
    "form",
    { id: formId, class: "review", hidden: true, novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, `Move ${who} out of ${stage} (version ${version})`),
      h("label", { for: select.id }, "Move to"),
      select,
      guardNote,
      overrideRow,
      reasonLabel,
      reason,
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
  update();
  const opener = h(
    "button",
    { type: "button", "aria-expanded": "false", "aria-controls": formId },
    "Move to…",
  );
  function toggle(open) {
    form.hidden = !open;
    opener.setAttribute("aria-expanded", String(open));
    if (open) select.focus();
    else opener.focus();
  }
  opener.addEventListener("click", () => toggle(form.hidden));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const target = select.value;
    const why = reason.value.trim();
    if (reasonNeeded() && !why) {
      const what = locked ? "to move a patient out of a locked stage" : "to override a guard";
      alertError(new Error(`A reason is required ${what}.`));
      reason.setAttribute("aria-invalid", "true");
      reason.focus();
      return;
    }
    clearAlert();
    const body = { key, status: target, expected_stage: stage };
    if (why) body.reason = why;
    if (!overrideRow.hidden && override.checked) body.override_guard = true;
    try {
      await api(`patients/${enc(patient.id)}/journey`, { method: "PATCH", body });
    } catch (error) {
      alertError(new Error(explainRefusal(error, { stage, target, version })));
      // Show where the patient stands now; any other refusal keeps the form as it was.
      if (error instanceof ApiError && MOVED_MEANWHILE.test(error.said)) await onMoved();
      return;
    }
    await onMoved();
    say(`Moved ${patient.id} from ${stage} to ${target} in ${key}.`);
  });
  return h("div", { class: "move" }, opener, form);
}
