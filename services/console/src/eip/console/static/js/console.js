// The console's page behaviour, loaded by every page (no inline script anywhere: the CSP
// forbids it). Its jobs:
// - live: the page's one EventSource (its URL in [data-live]); "fragment" events replace an
//   element's content with HTML the server rendered, chart events go to charts.js as DOM
//   events, "logout" sends the browser to the login page;
// - errors: an htmx request answered 4xx/5xx carries the platform's error body; its message is
//   shown in the form's [data-error] region (or the page's) instead of being swapped in;
// - secrets: forms marked data-secret-form are emptied of their key and secret after every
//   request, so a secret stays in the page no longer than its request;
// - idempotency: a form marked data-idempotent (the order ticket) gets a new idempotency key
//   once the service answered (2xx or 4xx: that order exists or was refused) — never after a
//   5xx or no answer, where sending the form again must not place a second order.
// - confirmation steps: a button marked data-dismiss="<id>" empties that element (the step).
import { stats } from "./stats.js";


function swapFragment(fragment) {
  const element = document.getElementById(fragment.id);
  if (!element) return;
  element.innerHTML = fragment.html;
  if (window.htmx) window.htmx.process(element);
  stats.fragments += 1;
}

function follow(url) {
  const source = new EventSource(url);
  source.addEventListener("open", () => {
    stats.connected = true;
    document.body.dataset.live = "open";
  });
  source.addEventListener("error", () => {
    stats.connected = false;
    document.body.dataset.live = "reconnecting";
  });
  source.addEventListener("fragment", (event) => swapFragment(JSON.parse(event.data)));
  for (const name of ["depth", "candles"]) {
    source.addEventListener(name, (event) => {
      document.dispatchEvent(new CustomEvent(`eip:${name}`, { detail: JSON.parse(event.data) }));
    });
  }
  source.addEventListener("logout", () => {
    source.close();
    window.location.assign("/login");
  });
  window.addEventListener("pagehide", () => source.close());
}

function describe(xhr) {
  try {
    const error = JSON.parse(xhr.responseText).error;
    let message = error.message;
    const details = error.details;
    if (Array.isArray(details)) {
      message += ": " + details.map((d) => `${d.field} ${d.problem}`).join("; ");
    } else if (details && details.details && details.details.not_allowed) {
      message += ` (${details.details.not_allowed})`;
    } else if (details && Array.isArray(details.details)) {
      // a service's own invalid_request, relayed: its fields and problems
      message += ": " + details.details.map((d) => `${d.field} ${d.problem}`).join("; ");
    } else if (details && details.details && details.details.denial) {
      // order management's risk refusal: its code names the check that refused
      message += ` (${details.details.denial.code})`;
    }
    return message;
  } catch {
    return `The console answered HTTP ${xhr.status}.`;
  }
}

function errorRegion(element) {
  const form = element.closest("form");
  return (form && form.querySelector("[data-error]")) || document.getElementById("page-error");
}

document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  if (xhr.status < 400) return;
  event.detail.shouldSwap = false;
  event.detail.isError = false;
  // beforeSwap fires on the swap's target; the form that sent the request is the config's elt
  const sender = (event.detail.requestConfig && event.detail.requestConfig.elt) || event.detail.elt;
  const region = errorRegion(sender);
  if (region) region.textContent = describe(xhr);
});

document.addEventListener("htmx:beforeRequest", (event) => {
  const region = errorRegion(event.detail.elt);
  if (region) region.textContent = "";
});

document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt.closest("form[data-secret-form]");
  if (!form) return;
  for (const input of form.querySelectorAll("input[name=secret], input[name=api_key], input[name=passphrase]")) {
    input.value = "";
  }
});

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // also outside secure contexts
  return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt.closest("form[data-idempotent]");
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  if (!form || status === 0 || status >= 500) return;
  form.querySelector("input[name=idempotency_key]").value = newKey();
});

// a confirmation step's "keep" button: the step goes, nothing was asked of any service
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-dismiss]");
  if (!button) return;
  const step = document.getElementById(button.dataset.dismiss);
  if (step) step.replaceChildren();
});

const live = document.querySelector("[data-live]");
if (live) follow(live.dataset.live);
