// The person form: "Add another caregiver" copies the last row (emptied, renumbered), so the
// escalation ladder can be longer than the rows the server rendered. Without a script the spare
// rows are still there.
const MAX_CAREGIVERS = 10;
const rows = document.getElementById("caregiver-rows");
const add = document.getElementById("add-caregiver");

function renumber(row, n) {
  row.dataset.row = String(n);
  for (const label of row.querySelectorAll("label")) {
    label.textContent = label.textContent.replace(/Caregiver \d+/, `Caregiver ${n}`);
    label.htmlFor = label.htmlFor.replace(/-\d+$/, `-${n}`);
  }
  for (const field of row.querySelectorAll("input, select")) {
    field.id = field.id.replace(/-\d+$/, `-${n}`);
  }
}

if (rows && add) {
  add.hidden = false;
  add.addEventListener("click", () => {
    const last = rows.lastElementChild;
    if (!last || rows.children.length >= MAX_CAREGIVERS) return;
    const row = last.cloneNode(true);
    for (const input of row.querySelectorAll("input")) input.value = "";
    // A new row starts without the copied row's refusal (if the server marked it).
    for (const note of row.querySelectorAll(".invalid-feedback")) note.remove();
    for (const field of row.querySelectorAll(".is-invalid")) {
      field.classList.remove("is-invalid");
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-describedby");
    }
    row.querySelector("select").selectedIndex = 0;
    renumber(row, rows.children.length + 1);
    rows.append(row);
    add.hidden = rows.children.length >= MAX_CAREGIVERS;
    row.querySelector("input").focus();
  });
  add.hidden = rows.children.length >= MAX_CAREGIVERS;
}
