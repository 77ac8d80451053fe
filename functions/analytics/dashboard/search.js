// Finding a patient from any page: a name prefix (case and accents aside) or an exact email.

import { allItems, enc } from "./api.js";
import { h, patientLink, table } from "./dom.js";
import { say } from "./page.js";

const MAX_PAGES = 5;
const PATIENT_ID = /^[A-Za-z0-9._-]{1,100}$/;

export async function searchView(root, [term = ""]) {
  root.append(h("h2", { id: "view-title" }, "Find a patient"));
  const wanted = term.trim();
  if (!wanted) {
    root.append(h("p", {}, "Type a name (or its beginning) or an email in the search box."));
    return;
  }
  const { items, complete } = await allItems("patients", { search: wanted, limit: 50 }, MAX_PAGES);
  const caption = `Patients matching “${wanted}”`;
  if (!items.length) {
    root.append(h("p", {}, `No patient's name starts with “${wanted}”, and no email is it.`));
    if (PATIENT_ID.test(wanted)) {
      root.append(
        h("p", {}, h("a", { href: `#/patient/${enc(wanted)}` }, `Open patient id ${wanted}`)),
      );
    }
  } else {
    root.append(
      table(
        caption,
        ["Patient", "Email"],
        items.map((patient) => [
          patientLink(patient.id, patient.display_name),
          patient.email || "",
        ]),
      ),
    );
  }
  if (!complete)
    root.append(h("p", { class: "muted" }, "More patients match: type more of the name."));
  const count = `${items.length}${complete ? "" : "+"}`;
  say(`Found ${count} ${items.length === 1 && complete ? "patient" : "patients"} for “${wanted}”.`);
}
