// Brandstream portal enhancements. Every page works without this file; it adds the Create
// New Client dialog, copy buttons, confirmations and the organisation switcher's auto-submit.
"use strict";

document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open-dialog]");
  if (opener) {
    const dialog = document.getElementById(opener.dataset.openDialog);
    if (dialog && typeof dialog.showModal === "function") {
      event.preventDefault();
      dialog.showModal();
      const first = dialog.querySelector("input:not([type=hidden])");
      if (first) first.focus();
    }
    return;
  }
  const closer = event.target.closest("[data-close-dialog]");
  if (closer) {
    const dialog = closer.closest("dialog");
    if (dialog) {
      event.preventDefault();
      dialog.close();
    }
    return;
  }
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const field = document.getElementById(copy.dataset.copy);
    if (!field) return;
    const done = () => {
      const label = copy.textContent;
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, () => { field.select(); });
    } else {
      field.select();
      if (document.execCommand && document.execCommand("copy")) done();
    }
  }
});

document.addEventListener("submit", (event) => {
  const button = event.submitter || event.target.querySelector("[data-confirm]");
  const message = button && button.dataset ? button.dataset.confirm : null;
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});

// Document uploads show their progress; without JavaScript the form posts normally.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form[data-upload]") || event.defaultPrevented) return;
  event.preventDefault();
  const bar = form.querySelector("progress");
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.upload.addEventListener("progress", (progress) => {
    if (bar && progress.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round((progress.loaded / progress.total) * 100);
    }
  });
  request.addEventListener("load", () => {
    // The server answers with the kit page (after its redirect) or the page with the error.
    document.open();
    document.write(request.responseText);
    document.close();
    if (request.responseURL) history.replaceState(null, "", request.responseURL);
  });
  request.addEventListener("error", () => form.submit());
  request.send(new FormData(form));
});
