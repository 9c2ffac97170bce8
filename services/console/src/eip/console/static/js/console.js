// The console's page behaviour, loaded by every page (no inline script anywhere: the CSP
// forbids it). Three jobs:
// - live: the page's one EventSource (its URL in [data-live]); "fragment" events replace an
//   element's content with HTML the server rendered, chart events go to charts.js as DOM
//   events, "logout" sends the browser to the login page;
// - errors: an htmx request answered 4xx/5xx carries the platform's error body; its message is
//   shown in the form's [data-error] region (or the page's) instead of being swapped in;
// - secrets: forms marked data-secret-form are emptied of their key and secret after every
//   request, so a secret stays in the page no longer than its request.
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
  const region = errorRegion(event.detail.elt);
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

const live = document.querySelector("[data-live]");
if (live) follow(live.dataset.live);
