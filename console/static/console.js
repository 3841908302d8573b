// knit console: progressive enhancement only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Filters that apply on change: a select marked data-autosubmit submits
  // its form (the submit button stays for keyboard and no-script users).
  for (const el of document.querySelectorAll("select[data-autosubmit]")) {
    el.addEventListener("change", () => el.form && el.form.requestSubmit());
  }
  // Buttons that change things ask first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }
  // A form submits once: its button is disabled while the request runs.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", (e) => {
      if (e.defaultPrevented) return;
      for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = true;
    });
  }
});
