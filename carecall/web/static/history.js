// The history page: local times, and dates searched in the browser's time zone.
import { localizeTimes } from "./live.js";

const zone = document.getElementById("tz");
if (zone && !zone.value) zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone ?? "";
localizeTimes();
