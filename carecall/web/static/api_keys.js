// The API keys page: its times shown like every other page's (local time), and a button that
// copies a new key, which is shown only once.
import { localizeTimes } from "./live.js";

localizeTimes();

const copy = document.getElementById("copy-key");
if (copy) {
  const key = document.getElementById("new-key");
  const result = document.getElementById("copy-result");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(key.value);
      result.textContent = "Copied to the clipboard.";
    } catch {
      // No clipboard (a plain http:// page that is not on this computer): select it instead.
      key.focus();
      key.select();
      result.textContent = "Selected: press Ctrl+C (⌘C on a Mac) to copy it.";
    }
  });
}
