// Live dashboard pages: listens to tocsin's event stream, refreshes the parts of the page
// marked data-live from a fresh copy of the page, and announces a new critical incident.
// The server renders every page whole and escaped; this only swaps server-made parts in,
// so a page reads the same with or without it.
(() => {
  "use strict";
  const body = document.body;
  const watching = body.dataset.watch || "";
  if (!window.EventSource) {
    return;
  }
  // Overview refreshes on new mentions at most this often: it is the heaviest page.
  const MENTION_REFRESH_MS = 15000;

  let refreshing = false;
  let again = false;
  let lastMentionRefresh = 0;

  // A part someone is typing in or has focus inside stays as it is until the next change.
  const busy = (part) => {
    if (part.contains(document.activeElement) && document.activeElement !== body) {
      return true;
    }
    return Array.from(part.querySelectorAll("input, textarea, select")).some((field) => {
      if (field.type === "checkbox" || field.type === "radio") {
        return field.checked !== field.defaultChecked;
      }
      return field.type !== "hidden" && field.value !== field.defaultValue;
    });
  };

  const refresh = async () => {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (response.ok) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        for (const part of document.querySelectorAll("[data-live]")) {
          const replacement = fresh.querySelector(`[data-live="${part.dataset.live}"]`);
          if (replacement && !busy(part)) {
            part.replaceWith(document.adoptNode(replacement));
          }
        }
        body.dataset.refreshed = String((Number(body.dataset.refreshed) || 0) + 1);
      }
    } catch (error) {
      // The daemon restarting or the network gone: the next change tries again.
    } finally {
      refreshing = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  };

  const announce = (change) => {
    const incident = change.incident;
    const raised = change.kinds.includes("opened") || change.kinds.includes("level_changed");
    if (incident.level !== "critical" || !raised || incident.status === "resolved") {
      return;
    }
    const box = document.getElementById("announcements");
    if (!box || document.getElementById(`announce-${incident.id}`)) {
      return;
    }
    const item = document.createElement("p");
    item.className = "announce";
    item.id = `announce-${incident.id}`;
    const label = document.createElement("strong");
    label.textContent = `${box.dataset.label} #${incident.id}: `;
    const link = document.createElement("a");
    link.href = `/incidents/${incident.id}`;
    link.textContent = incident.title;
    item.append(label, link);
    box.append(item);
  };

  // Delivery attempts and notes change an incident's page, not the lists of incidents.
  const LIST_KINDS = ["opened", "level_changed", "acknowledged", "resolved", "reopened", "ack_expired", "mentions_attached", "assigned"];

  const concerns = (change) => {
    if (watching.startsWith("incident:")) {
      return String(change.incident.id) === watching.slice("incident:".length);
    }
    const listed = change.kinds.some((kind) => LIST_KINDS.includes(kind));
    return listed && (watching === "incidents" || watching === "overview");
  };

  const source = new EventSource("/api/v1/events");
  source.addEventListener("incident", (message) => {
    const change = JSON.parse(message.data);
    announce(change);
    if (concerns(change)) {
      refresh();
    }
  });
  source.addEventListener("mentions", () => {
    const now = Date.now();
    if (watching === "overview" && now - lastMentionRefresh >= MENTION_REFRESH_MS) {
      lastMentionRefresh = now;
      refresh();
    }
  });
  // A browser keeps at most six connections to one server; a stream left open by a page
  // the reader has left would hold one of them until the server next writes to it.
  window.addEventListener("pagehide", () => source.close());
  source.addEventListener("open", () => {
    body.dataset.stream = "connected";
  });
})();
