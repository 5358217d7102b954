// The portal's behaviour in the browser: the once-only token dialog and copying to the clipboard.
// Loaded as a file (the Content-Security-Policy allows no inline script).
"use strict";

document.documentElement.classList.add("js");

const SECRET_DIALOG = "dialog[data-once-secret]";

// Show every secret dialog as a modal: the rest of the page is inert until OK.
function openSecretDialogs() {
  for (const dialog of document.querySelectorAll(SECRET_DIALOG)) {
    if (dialog.matches(":modal")) continue;
    if (dialog.open) dialog.close();
    dialog.showModal();
  }
}

document.addEventListener("DOMContentLoaded", openSecretDialogs);
document.addEventListener("htmx:after:swap", openSecretDialogs);

// Escape must not silently throw the secret away; only OK closes the dialog.
document.addEventListener("cancel", (event) => {
  if (event.target.matches(SECRET_DIALOG)) event.preventDefault();
}, true);
document.addEventListener("close", (event) => {
  const dialog = event.target;
  if (dialog.matches(SECRET_DIALOG) && dialog.isConnected && !dialog.dataset.acknowledged) {
    dialog.showModal();
  }
}, true);

document.addEventListener("click", (event) => {
  const ok = event.target.closest("[data-dialog-ok]");
  if (ok) {
    event.preventDefault();
    const dialog = ok.closest("dialog");
    dialog.dataset.acknowledged = "true";
    dialog.close();
    dialog.remove();  // the secret leaves the page, and with it any way back to it
    return;
  }
  const copy = event.target.closest("button[data-copy]");
  if (copy) copyField(copy);
});

// A message the server sent in an HX-Trigger header (an answer with nothing to swap) joins the
// page's message region, which announces it to screen readers.
document.addEventListener("portal:notice", (event) => {
  const region = document.getElementById("messages");
  const message = document.createElement("p");
  message.className = `message ${event.detail.kind}`;
  message.textContent = event.detail.message;
  region.replaceChildren(message);
});

// Leaving the page with the dialog open would lose the secret: ask first, and never keep it in
// the back/forward cache.
window.addEventListener("beforeunload", (event) => {
  if (document.querySelector(SECRET_DIALOG)) event.preventDefault();
});
window.addEventListener("pagehide", () => {
  for (const dialog of document.querySelectorAll(SECRET_DIALOG)) dialog.remove();
});

async function copyField(button) {
  const field = document.getElementById(button.dataset.copy);
  const status = button.closest("dialog, body").querySelector("[data-copy-status]");
  const what = document.querySelector(`label[for="${field.id}"]`)?.textContent.trim() || "The value";
  try {
    if (!window.isSecureContext || !navigator.clipboard) throw new Error("no clipboard here");
    await navigator.clipboard.writeText(field.value);
    const label = button.dataset.label ??= button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 2000);
    if (status) status.textContent = `Copied: ${what}.`;
  } catch {
    // Plain HTTP on a LAN address is not a secure context: select the value for a manual copy.
    field.focus();
    field.select();
    if (status) status.textContent = `${what} is selected: press Ctrl+C (⌘C on a Mac) to copy it.`;
  }
}
