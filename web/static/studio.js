// The studio's editor: a live preview rendered by the server's own
// pipeline (debounced), an autosaved draft, and a toolbar that inserts the
// course's blocks. Without this script the form's buttons do the same.
(function () {
  "use strict";
  var form = document.getElementById("studio-form");
  if (!form) { return; }
  var text = document.getElementById("text");
  var status = document.getElementById("studio-status");
  var rendered = document.getElementById("studio-rendered");
  var problems = document.getElementById("studio-problems");
  var path = form.getAttribute("data-path");
  var csrf = form.querySelector("input[name=csrf]").value;
  var baseRev = parseInt(form.querySelector("input[name=base_rev]").value, 10) || 0;
  var previewTimer = null, saveTimer = null, seq = 0;

  function call(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    });
  }

  function say(msg) { status.textContent = msg; }

  function showProblems(list) {
    problems.textContent = "";
    if (!list.length) {
      var ok = document.createElement("p");
      ok.textContent = form.getAttribute("data-msg-noproblems");
      problems.appendChild(ok);
      return;
    }
    var h = document.createElement("h3");
    h.textContent = form.getAttribute("data-msg-problems");
    var ul = document.createElement("ul");
    ul.className = "problems";
    list.forEach(function (p) {
      var li = document.createElement("li");
      li.textContent = p.file + ":" + p.line + ":" + p.col + ": " + p.message;
      ul.appendChild(li);
    });
    problems.appendChild(h);
    problems.appendChild(ul);
  }

  function preview() {
    var mine = ++seq;
    call("POST", "/api/v1/studio/preview", { path: path, text: text.value }).then(function (out) {
      if (mine !== seq) { return; } // a newer preview is on its way
      // The server's sanitized rendering: exactly what learners get.
      rendered.innerHTML = out.html;
      showProblems(out.problems || []);
    }).catch(function () { say(form.getAttribute("data-msg-failed")); });
  }

  function saveDraft() {
    call("PUT", "/api/v1/studio/drafts/" + path, { text: text.value, base_rev: baseRev }).then(function () {
      say(form.getAttribute("data-msg-saved"));
    }).catch(function () { say(form.getAttribute("data-msg-failed")); });
  }

  text.addEventListener("input", function () {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 400);
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, 3000);
  });

  var toolbar = form.querySelector(".studio-toolbar");
  toolbar.hidden = false;
  // One tab stop for the toolbar; arrows move between its buttons.
  var buttons = Array.prototype.slice.call(toolbar.querySelectorAll("button"));
  buttons.forEach(function (b, i) { b.tabIndex = i === 0 ? 0 : -1; });
  toolbar.addEventListener("keydown", function (e) {
    var i = buttons.indexOf(document.activeElement);
    if (i < 0) { return; }
    var next = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : e.key === "Home" ? 0 : e.key === "End" ? buttons.length - 1 : null;
    if (next === null) { return; }
    e.preventDefault();
    next = (next + buttons.length) % buttons.length;
    buttons[i].tabIndex = -1;
    buttons[next].tabIndex = 0;
    buttons[next].focus();
  });
  // A figure: the image is stored, and its block goes where the cursor is.
  var figure = document.getElementById("studio-figure");
  if (figure) {
    figure.addEventListener("submit", function (e) {
      e.preventDefault();
      var at = text.selectionStart, end = text.selectionEnd;
      fetch("/api/v1/studio/figures", {
        method: "POST", credentials: "same-origin", body: new FormData(figure),
        headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
      }).then(function (r) {
        return r.json().then(function (out) {
          if (!r.ok) { throw new Error(out.detail || String(r.status)); }
          return out;
        });
      }).then(function (out) {
        text.focus();
        text.setRangeText(out.block, at, end, "end");
        text.dispatchEvent(new Event("input"));
        figure.reset();
        say(form.getAttribute("data-msg-figure"));
      }).catch(function (err) { say(form.getAttribute("data-msg-failed") + " " + err.message); });
    });
  }

  toolbar.addEventListener("click", function (e) {
    var b = e.target.closest("button[data-snippet]");
    if (!b) { return; }
    var snippet = b.getAttribute("data-snippet");
    text.focus();
    text.setRangeText(snippet, text.selectionStart, text.selectionEnd, "end");
    text.dispatchEvent(new Event("input"));
  });
})();
