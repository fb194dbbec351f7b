// TrustDesk portal: the little script there is. Everything works without it.
(function () {
  "use strict";

  // Forms that stop something ask first, saying what will stop.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // The inbox refreshes its list when the server says a request changed (server-sent
  // events from the MSP node's stream); a burst of events costs one refresh.
  var live = document.getElementById("inbox-live");
  if (live && window.EventSource && window.DOMParser) {
    var events = new EventSource(live.getAttribute("data-events"));
    var pending = null;
    var polling = false;
    var showLive = function () {
      var note = document.querySelector("#inbox-live .live-note");
      if (note) note.hidden = polling;
    };
    var refresh = function () {
      pending = null;
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          return response.ok ? response.text() : Promise.reject(response.status);
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("inbox-live");
          var current = document.getElementById("inbox-live");
          if (!fresh || !current) return; // signed out meanwhile: leave the page as it is
          current.innerHTML = fresh.innerHTML;
          current.setAttribute("data-refreshed", String(Date.now()));
          showLive();
        })
        .catch(function () { /* the next event or a reload tries again */ });
    };
    var soon = function () {
      if (pending === null) pending = window.setTimeout(refresh, 250);
    };
    events.addEventListener("request.changed", soon);
    events.addEventListener("trust.deactivated", soon);
    var opened = false;
    events.addEventListener("open", function () {
      // The stream ends now and then and the browser reconnects: catch up on what
      // happened in between.
      if (opened) soon();
      opened = true;
      showLive();
    });
    events.addEventListener("error", function () {
      // Refused (the node serves as many streams as it can: 503) the browser gives up
      // for good: refresh the list every half minute instead.
      if (events.readyState !== EventSource.CLOSED || polling) return;
      polling = true;
      showLive();
      live.setAttribute("data-polling", "30");
      window.setInterval(refresh, 30000);
    });
  }

  // The calendar form's live preview: ask the server as the admin types.
  var form = document.getElementById("calendar-form");
  if (!form) return;
  var out = document.getElementById("preview-out");
  var timer = null;
  var asked = 0;
  function ask() {
    var mine = ++asked;
    var body = new FormData(form);
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": body.get("csrf_token"), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (answer) {
      if (mine !== asked) return; // a later keystroke already asked again
      out.classList.toggle("bad", !answer.ok);
      if (answer.ok) {
        out.innerHTML = "";
        out.append("Due ");
        var strong = document.createElement("strong");
        strong.textContent = answer.data.due_text;
        out.append(strong);
      } else {
        var errors = answer.data.errors || {};
        var first = Object.keys(errors)[0];
        out.textContent = first ? "Cannot preview: " + errors[first].join(" ") : "Cannot preview.";
      }
    }).catch(function () {
      if (mine === asked) out.textContent = "Preview unavailable; use the Preview button.";
    });
  }
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 300);
  });
  ask();
})();
