// Signing in on a device without a token (a new phone, a cleared browser): the e-mail address or
// phone number the customer registered with, then the one-time code sent there. Each step's form
// comes from its template, so only the step shown is in the page.

import { ApiError, OfflineError } from "/shared/api.js";
import { translatePage } from "/shared/i18n.js";

const CODE_DIGITS = 6;

/** `{email}` or `{phone}` for what the person typed, or null when it is neither. */
export function contactOf(text) {
  const typed = text.trim();
  if (typed.includes("@")) {
    return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(typed) ? { email: typed.toLowerCase() } : null;
  }
  const phone = typed.replace(/[\s().-]/g, "");
  return /^\+?[0-9]{6,15}$/.test(phone) ? { phone } : null;
}

/**
 * The sign-in view. `onSignedIn(token)` runs with the new token; `onCancel()` goes back to
 * registration; `explain(error)` words any other failure; `announce(text)` tells news.
 */
export function signInFlow({ api, ui, explain, announce, onSignedIn, onCancel }) {
  const step = document.getElementById("sign-in-step");
  // What the code step shows: where the code went and for how long it is valid.
  let sent = null;

  function mount(templateId) {
    const form = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
    translatePage(form, ui.t);
    step.replaceChildren(form);
    return form;
  }

  function failure(error) {
    if (error instanceof ApiError && error.status === 429) {
      const minutes = Math.max(1, Math.ceil(Number(error.problem.retry_after || 60) / 60));
      if (minutes > 90) return ui.t("signin.throttled_hours", { hours: Math.ceil(minutes / 60) });
      return ui.t("signin.throttled", { minutes });
    }
    if (error instanceof ApiError && error.code === "invalid_sign_in_code") return ui.t("signin.wrong_code");
    if (error instanceof ApiError && error.fields.includes("phone")) return ui.t("form.bad_phone");
    if (error instanceof OfflineError) return ui.t("error.offline");
    return explain(error);
  }

  async function busy(button, label, work) {
    const idle = button.textContent;
    button.disabled = true;
    button.textContent = label;
    try {
      await work();
    } finally {
      button.disabled = false;
      button.textContent = idle;
    }
  }

  async function askForCode(contact) {
    const answer = await api.post("/api/auth/customer/code", { ...contact, locale: ui.language });
    sent = { contact, shown: contact.email || contact.phone, minutes: Math.round(answer.expires_in_seconds / 60) };
  }

  function showContactStep(prefill = "") {
    sent = null;
    const form = mount("sign-in-contact-template");
    const input = form.querySelector("input");
    const error = form.querySelector(".error");
    input.value = prefill;
    form.querySelector(".back").addEventListener("click", onCancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const contact = contactOf(input.value);
      if (!contact) {
        error.textContent = ui.t("signin.bad_contact");
        input.focus();
        return;
      }
      error.textContent = "";
      await busy(form.querySelector("button[type=submit]"), ui.t("signin.sending"), async () => {
        try {
          await askForCode(contact);
        } catch (failed) {
          error.textContent = failure(failed);
          return;
        }
        showCodeStep();
      });
    });
    input.focus();
  }

  function describeSent(form) {
    form.querySelector(".sent").textContent = ui.t("signin.sent", { contact: sent.shown, minutes: sent.minutes });
  }

  function showCodeStep() {
    const form = mount("sign-in-code-template");
    const input = form.querySelector("input");
    const error = form.querySelector(".error");
    describeSent(form);
    form.querySelector(".change").addEventListener("click", () => showContactStep(sent.shown));
    form.querySelector(".resend").addEventListener("click", async (event) => {
      error.textContent = "";
      await busy(event.currentTarget, ui.t("signin.sending"), async () => {
        try {
          await askForCode(sent.contact);
          announce(ui.t("signin.resent"));
        } catch (failed) {
          error.textContent = failure(failed);
        }
      });
      input.focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const code = input.value.replace(/[\s-]/g, "");
      if (!new RegExp(`^[0-9]{${CODE_DIGITS}}$`).test(code)) {
        error.textContent = ui.t("signin.bad_code");
        input.focus();
        return;
      }
      error.textContent = "";
      await busy(form.querySelector("button[type=submit]"), ui.t("signin.checking"), async () => {
        let signedIn;
        try {
          signedIn = await api.post("/api/auth/customer/login", { ...sent.contact, code });
        } catch (failed) {
          error.textContent = failure(failed);
          input.select();
          input.focus();
          return;
        }
        step.replaceChildren();
        await onSignedIn(signedIn.token);
      });
    });
    input.focus();
  }

  return {
    open() {
      showContactStep();
    },
    close() {
      sent = null;
      step.replaceChildren();
    },
    /** Words put in by code (not by `data-i18n`) follow a change of language. */
    translate() {
      const form = step.querySelector(".sign-in-code");
      if (form && sent) describeSent(form);
    },
  };
}
