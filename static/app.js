// The portal's behaviour in the browser: the once-only token dialog and copying to the clipboard,
// local times, and the message region (what an action did, or why it failed).
// Loaded as a file (the Content-Security-Policy allows no inline script).
"use strict";

document.documentElement.classList.add("js");

const SECRET_DIALOG = "dialog[data-once-secret]";
// Copying one of these keeps the token (copying the account id alone does not).
const KEEPS_THE_SECRET = ["new-token", "new-headers"];

// Asks for the password before an action (sudo mode); Cancel or Escape takes it away.
const CONFIRM_DIALOG = "dialog[data-confirm-password]";
// Asks how long a rotated token keeps working; Cancel or Escape takes it away, and the focus goes back to the
// row of the token it names: its Rotate, or its Delete when the token was rotated meanwhile.
const ROTATE_DIALOG = "dialog[data-rotate]";

// Show every secret dialog (and password confirmation, and rotation) as a modal: the rest of the page is inert
// until it is answered.
function openSecretDialogs() {
  for (const dialog of document.querySelectorAll(`${SECRET_DIALOG}, ${CONFIRM_DIALOG}, ${ROTATE_DIALOG}`)) {
    if (dialog.matches(":modal")) continue;
    if (dialog.open) dialog.close();
    dialog.showModal();
  }
}

// Both values as one ready-to-use snippet, in the format the reader's program wants (the server
// renders the chooser and names the formats; these write them).
const SNIPPETS = {
  headers: (account, token) => `X-Account-Id: ${account}\nX-Auth-Token: ${token}`,
  env: (account, token) => `PORTAL_ACCOUNT_ID=${account}\nPORTAL_AUTH_TOKEN=${token}`,
  curl: (account, token, api) =>
    `curl -H 'X-Account-Id: ${account}' \\\n     -H 'X-Auth-Token: ${token}' \\\n     ${api}`,
};

document.addEventListener("change", (event) => {
  if (event.target.id !== "snippet-format") return;
  const format = event.target;
  const dialog = format.closest("dialog");
  const textarea = dialog.querySelector("#new-headers");
  dialog.querySelector(".snippet label span").textContent = format.selectedOptions[0].textContent;
  textarea.value = SNIPPETS[format.value](dialog.querySelector("#new-account-id").value,
    dialog.querySelector("#new-token").value, new URL(document.body.dataset.api, location.href).href);
  textarea.rows = textarea.value.split("\n").length;
});

document.addEventListener("DOMContentLoaded", openSecretDialogs);
document.addEventListener("htmx:after:swap", openSecretDialogs);

// Times arrive in UTC (what shows without JavaScript); show them in the viewer's time zone, with
// "3 minutes ago" while that says more than a date, and the exact UTC time on hover.
const LOCAL_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [["minute", 6e4, 60], ["hour", 36e5, 24], ["day", 864e5, 7]];

function relative(moment) {
  const ms = moment - Date.now();
  if (Math.abs(ms) < 6e4) return RELATIVE.format(0, "second");  // "now"
  for (const [unit, size, below] of UNITS) {
    const count = Math.round(ms / size);  // the unit is chosen after rounding: never "60 minutes ago"
    if (Math.abs(count) < below) return RELATIVE.format(count, unit);
  }
  return "";  // a week or more away: the date says it better
}

function localizeTimes() {
  for (const time of document.querySelectorAll("time[datetime]")) {
    const moment = new Date(time.dateTime);
    if (Number.isNaN(moment.getTime())) continue;
    time.title = moment.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    const ago = relative(moment);
    time.textContent = LOCAL_TIME.format(moment) + (ago ? ` (${ago})` : "");
  }
}

document.addEventListener("DOMContentLoaded", localizeTimes);
document.addEventListener("htmx:after:swap", localizeTimes);
setInterval(localizeTimes, 60_000);

// Escape must not silently throw the secret away; only OK closes the dialog.
document.addEventListener("cancel", (event) => {
  if (event.target.matches(SECRET_DIALOG)) event.preventDefault();
}, true);
document.addEventListener("close", (event) => {
  const dialog = event.target;
  if (dialog.matches(SECRET_DIALOG) && dialog.isConnected && !dialog.dataset.acknowledged) {
    dialog.showModal();
  }
  if (dialog.matches(CONFIRM_DIALOG)) {
    dialog.remove();  // the action is not taken; a new ask brings a new one
    if (asking?.matches("[data-undo-on-cancel]")) asking.reset();  // a role select shows the role held again
  }
  // Not when an answer took its place (the new secret, or the form again with a refusal): that one is open now.
  if (dialog.matches(ROTATE_DIALOG) && dialog.isConnected) {
    dialog.remove();
    const row = document.getElementById(`token-${dialog.dataset.rotate}`);
    focusFirst(row?.querySelector(`#rotate-${dialog.dataset.rotate}`), row?.querySelector("button[hx-delete]"));
  }
}, true);

document.addEventListener("click", (event) => {
  const ok = event.target.closest("[data-dialog-ok]");
  if (ok) {
    event.preventDefault();
    const dialog = ok.closest("dialog");
    const kept = dialog.dataset.copied || dialog.querySelector("#new-stored")?.checked;
    if (!kept && !dialog.dataset.warned) {
      // Ask once more before the secret is gone for good.
      dialog.dataset.warned = "true";
      say(dialog, "Nothing was copied yet, and the token cannot be shown again. Copy it, or press OK again "
        + "to close the dialog and discard it.", "warning");
      return;
    }
    dialog.dataset.acknowledged = "true";
    dialog.close();
    dialog.remove();  // the secret leaves the page, and with it any way back to it
    // Focus goes on to the new token's row (its Delete; newest first, it is on top), not back to <body>.
    focusFirst(document.querySelector("#token-rows > tr button[hx-delete]"));
    return;
  }
  event.target.closest("[data-dialog-cancel]")?.closest("dialog").close();
  const copy = event.target.closest("button[data-copy]");
  if (copy) copyField(copy);
  // Each message can be dismissed (they stay until then, or until the next one replaces them).
  event.target.closest("#messages .dismiss")?.closest(".message").remove();
});

// The page's message region (it announces to screen readers) shows what an action did or why it failed.
function notify(kind, text) {
  const message = document.getElementById("message-template").content.firstElementChild.cloneNode(true);
  message.classList.add(kind);
  message.prepend(text);
  document.getElementById("messages")?.replaceChildren(message);
}

// A message the server sent in an HX-Trigger header (an answer with nothing to swap).
document.addEventListener("portal:notice", (event) => notify(event.detail.kind, event.detail.message));

// The portal answers its failures with a message for this region and nothing else to swap. Any other
// failing answer (a proxy's error page, say) is never swapped into the page: a message (the server's
// words, on <body>) says what happened.
const failures = () => JSON.parse(document.body.dataset.failures);

document.addEventListener("htmx:before:swap", (event) => {
  const { response, hx } = event.detail.ctx;
  if (response?.status >= 400 && !hx?.reswap && !hx?.retarget) {
    event.preventDefault();
    const said = failures();
    notify("error", said[response.status] ?? said.other.replace("{status}", response.status));
  }
});
document.addEventListener("htmx:error", (event) => {
  if (!event.detail.ctx?.response) notify("error", failures().unreachable);  // no answer at all
});

// While a request is in flight its control says so (the CSS shows a spinner on it). The form it came from is
// kept: should the portal ask for the password first, Cancel may put that form back as it was.
let asking = null;
document.addEventListener("htmx:before:request", (event) => {
  event.detail.ctx.sourceElement?.setAttribute("aria-busy", "true");
  asking = event.detail.ctx.sourceElement?.closest("form") ?? null;
});
document.addEventListener("htmx:finally:request", (event) => {
  event.detail.ctx.sourceElement?.removeAttribute("aria-busy");
});

// Focus the first of these still in the page and enabled (the only owner's Remove is not): the Generate
// button, else <main>, when none is.
function focusFirst(...candidates) {
  const target = candidates.find((element) => element?.isConnected && !element.disabled)
    ?? document.querySelector("#generate-form button[type=submit]") ?? document.getElementById("main");
  target?.focus();
}

// A row deleted in place takes its focused Delete button along (focus would drop to <body>): focus moves to
// the next row's Delete, else the previous row's.
let leaving = null;
document.addEventListener("htmx:before:request", (event) => {
  const source = event.detail.ctx.sourceElement;
  const row = source?.matches("[hx-delete]") ? source.closest("tr") : null;
  if (row) leaving = { row, next: row.nextElementSibling, previous: row.previousElementSibling };
});
function focusAfterRemoval() {
  if (!leaving || leaving.row.isConnected) return;
  const { next, previous } = leaving;
  leaving = null;
  focusFirst(next?.querySelector("button[hx-delete]"), previous?.querySelector("button[hx-delete]"));
}
document.addEventListener("htmx:after:swap", focusAfterRemoval);
document.addEventListener("htmx:finally:request", focusAfterRemoval);

// A notice dismissed in place takes its focused Dismiss button along: focus moves to the next notice's
// Dismiss, else the previous one's, else to <main> (the banner is gone with its last notice).
let dismissing = null;
document.addEventListener("htmx:before:request", (event) => {
  const notice = event.detail.ctx.sourceElement?.closest(".notice-item");
  if (notice) dismissing = { notice, others: [notice.nextElementSibling, notice.previousElementSibling] };
});
document.addEventListener("htmx:after:swap", () => {
  if (!dismissing || dismissing.notice.isConnected) return;
  const other = dismissing.others.find((element) => element?.isConnected && element.matches(".notice-item"));
  dismissing = null;
  (other?.querySelector("button") ?? document.getElementById("main"))?.focus();
});

// Leaving the page with the dialog open would lose the secret: ask first, and never keep it in
// the back/forward cache.
window.addEventListener("beforeunload", (event) => {
  if (document.querySelector(SECRET_DIALOG)) event.preventDefault();
});
window.addEventListener("pagehide", () => {
  for (const dialog of document.querySelectorAll(SECRET_DIALOG)) dialog.remove();
});

// Tell the reader (and screen readers, through the live region) what happened.
function say(container, text, kind = "ok") {
  const status = container.querySelector("[data-copy-status]");
  if (!status) return;
  status.dataset.kind = kind;
  status.textContent = text;
}

async function copyField(button) {
  const field = document.getElementById(button.dataset.copy);
  const container = button.closest("dialog, body");
  const what = document.querySelector(`label[for="${field.id}"]`)?.textContent.trim() || "The value";
  try {
    if (!window.isSecureContext || !navigator.clipboard) throw new Error("no clipboard here");
    await navigator.clipboard.writeText(field.value);
    const label = button.dataset.label ??= button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 2000);
    if (container.matches("dialog") && KEEPS_THE_SECRET.includes(field.id)) container.dataset.copied = "true";
    say(container, `Copied: ${what}.`);
  } catch {
    // Plain HTTP on a LAN address is not a secure context: select the value for a manual copy.
    field.focus();
    field.select();
    say(container, `${what} is selected: press Ctrl+C (⌘C on a Mac) to copy it.`, "warning");
  }
}

// A manual copy (Ctrl+C) of the token or the snippet counts as copied too.
document.addEventListener("copy", () => {
  const field = document.activeElement;
  if (KEEPS_THE_SECRET.includes(field?.id)) field.closest(SECRET_DIALOG)?.setAttribute("data-copied", "true");
});
