// Quarry's web UI: progressive enhancement only. Every page works without this script; with it,
// copy buttons work, and the blueprint form is checked as you type (through the registry's own
// validation, so a message is the one `scaffold` prints) and adds or removes the fields that
// your answers make apply. Secret fields are never replaced, so what you typed stays in them.
"use strict";

function enableCopyButtons() {
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    const target = document.getElementById(button.dataset.copy);
    if (!target || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(target.innerText);
        button.textContent = "Copied";
      } catch (error) {
        button.textContent = "Select and copy";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }
}

function fieldElement(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

function showProblem(element, message) {
  const slot = element.querySelector("[data-error-for]");
  if (slot) slot.textContent = message || "";
  element.classList.toggle("invalid", Boolean(message));
}

function enableLiveCheck() {
  const form = document.getElementById("stack-form");
  if (!form || !form.dataset.check) return;
  const fields = document.getElementById("fields");
  const general = document.getElementById("general-problems");
  const status = document.getElementById("check-status");
  let timer = null;
  let sent = 0;

  async function check() {
    const number = ++sent;
    status.textContent = "Checking…";
    let answer;
    try {
      const response = await fetch(form.dataset.check, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "Accept": "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) {
        status.textContent = response.status === 403
          ? "This page is out of date: reload it."
          : "Could not check the answers (" + response.status + ").";
        return;
      }
      answer = await response.json();
    } catch (error) {
      status.textContent = "Could not reach the registry to check the answers.";
      return;
    }
    if (number !== sent) return; // a newer check is on its way
    const wanted = new Set(answer.fields.map((field) => field.name));
    for (const element of Array.from(fields.children)) {
      if (!wanted.has(element.dataset.field)) element.remove();
    }
    let previous = null;
    for (const field of answer.fields) {
      let element = fields.querySelector(`[data-field="${CSS.escape(field.name)}"]`);
      if (!element) element = fieldElement(field.html);
      const place = previous ? previous.nextElementSibling : fields.firstElementChild;
      if (place !== element) fields.insertBefore(element, place);
      showProblem(element, answer.errors[field.name]);
      previous = element;
    }
    general.replaceChildren(...answer.general.map((text) => {
      const paragraph = document.createElement("p");
      paragraph.textContent = text;
      return paragraph;
    }));
    const problems = Object.keys(answer.errors).length + answer.general.length;
    status.textContent = answer.valid
      ? "All answers are valid."
      : problems + (problems === 1 ? " problem" : " problems") + " to fix.";
    form.dataset.checked = String(number);
  }

  form.addEventListener("change", () => { clearTimeout(timer); check(); });
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 500);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  enableCopyButtons();
  enableLiveCheck();
});
