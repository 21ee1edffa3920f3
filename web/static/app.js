// Työkyky – progressive enhancement for signed-in learners. Everything
// works without this file: forms save answers and mark pages read. With it,
// progress (time on page, scroll, reaching the end) is recorded and answers
// are saved as you type.
(function () {
  "use strict";

  // Glossary terms: a link to the concept page; with this script, the
  // definition opens beside the term (Enter or click), Escape closes it and
  // returns to the term.
  var words = {
    fi: { more: "Lue lisää sanastosta", close: "Sulje" },
    sv: { more: "Läs mer i ordlistan", close: "Stäng" },
    en: { more: "More in the glossary", close: "Close" }
  };
  var ui = words[document.documentElement.lang] || words.fi;
  var open = null;
  function closeTip(returnFocus) {
    if (!open) return;
    var link = open.link;
    open.box.remove();
    link.setAttribute("aria-expanded", "false");
    open = null;
    if (returnFocus) link.focus();
  }
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.term[href^='/sanasto/']");
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    var same = open && open.link === link;
    closeTip(false);
    if (same) return;
    var id = link.getAttribute("href").slice("/sanasto/".length);
    fetch("/api/v1/glossary/" + encodeURIComponent(id), { headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (k) {
        var box = document.createElement("span");
        box.className = "term-popover";
        box.setAttribute("role", "dialog");
        box.setAttribute("aria-label", k.term);
        box.tabIndex = -1;
        var term = document.createElement("strong");
        term.textContent = k.term;
        term.lang = "fi";
        var def = document.createElement("span");
        def.className = "term-definition";
        def.lang = "fi";
        def.textContent = k.definition;
        var more = document.createElement("a");
        more.href = "/sanasto/" + k.id;
        more.textContent = ui.more;
        var close = document.createElement("button");
        close.type = "button";
        close.textContent = ui.close;
        close.addEventListener("click", function () { closeTip(true); });
        box.append(term, def, more, close);
        box.addEventListener("keydown", function (ev) { if (ev.key === "Escape") closeTip(true); });
        link.after(box);
        link.setAttribute("aria-expanded", "true");
        open = { link: link, box: box };
        box.focus();
      })
      .catch(function () { location.href = link.href; });
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeTip(true); });

  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) return;
  var csrf = meta.getAttribute("content");

  function send(url, body, keepalive) {
    return fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    });
  }

  // Progress on a section page.
  var article = document.querySelector("article[data-progress]");
  if (article) {
    var url = article.getAttribute("data-progress");
    var completion = article.getAttribute("data-completion");
    var done = article.getAttribute("data-done") === "1";
    var visibleSince = document.visibilityState === "visible" ? Date.now() : 0;
    var maxScroll = 0;

    function scrollShare() {
      var h = document.documentElement.scrollHeight - window.innerHeight;
      return h > 0 ? Math.min(1, Math.max(0, window.scrollY / h)) : 1;
    }
    function heartbeat(keepalive) {
      if (!visibleSince) return;
      var secs = Math.round((Date.now() - visibleSince) / 1000);
      visibleSince = document.visibilityState === "visible" ? Date.now() : 0;
      if (secs < 1) return;
      send(url, { event: "heartbeat", seconds: Math.min(secs, 30), scroll: Math.round(maxScroll * 100) / 100 || 0.01 }, keepalive);
    }

    send(url, { event: "opened" });
    // Continue where you left off: return to the saved position.
    if (/[?&]jatka=1/.test(location.search)) {
      var pos = parseFloat(article.getAttribute("data-scroll") || "0");
      if (pos > 0) {
        window.scrollTo(0, pos * (document.documentElement.scrollHeight - window.innerHeight));
      }
    }
    window.addEventListener("scroll", function () { maxScroll = Math.max(maxScroll, scrollShare()); }, { passive: true });
    setInterval(function () { if (document.visibilityState === "visible") heartbeat(false); }, 30000);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") heartbeat(true);
      else visibleSince = Date.now();
    });

    // Reading to the end completes a page whose rule is "view".
    var end = document.querySelector(".pager") || document.querySelector("#valmis");
    if (completion === "view" && !done && end && "IntersectionObserver" in window) {
      var seen = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (e.isIntersecting && !done) {
            done = true;
            seen.disconnect();
            send(url, { event: "completed" }).then(function (r) {
              if (r.ok) {
                var box = document.getElementById("valmis");
                if (box) {
                  var p = document.createElement("p");
                  p.className = "done-mark";
                  p.setAttribute("role", "status");
                  p.textContent = "✓ " + (box.getAttribute("data-done-text") || "");
                  box.replaceChildren(p);
                }
              }
            });
          }
        });
      });
      seen.observe(end);
    }
  }

  // Answers are saved a moment after typing stops.
  document.querySelectorAll("form[data-autosave]").forEach(function (form) {
    var area = form.querySelector("textarea");
    var status = form.querySelector(".save-status");
    var timer = null;
    var last = area.value;
    function save() {
      if (area.value === last) return;
      var text = area.value;
      status.textContent = form.getAttribute("data-saving");
      send(form.getAttribute("data-autosave"), { text: text }).then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        last = text;
        status.textContent = form.getAttribute("data-saved");
      }).catch(function () {
        status.textContent = form.getAttribute("data-failed");
      });
    }
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(save, 1500);
    });
    area.addEventListener("blur", save);
  });
})();
