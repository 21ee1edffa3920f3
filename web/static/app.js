// Työkyky – progressive enhancement. Everything works without this file:
// forms save answers and mark pages read, players have native controls and
// captions. With it, progress (time on page, scroll, reaching the end,
// played media) is recorded, answers are saved as you type, and players
// get an interactive transcript, speed control and resuming.
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

  // The header's menu folds behind a button on narrow screens (the CSS
  // shows the button only with this script and below 40rem).
  // A table's scroll region is a Tab stop only while the table is wider
  // than the screen (the page without this script keeps them all
  // focusable, so that keyboard users can always scroll them).
  var tableRegions = document.querySelectorAll(".table-wrap[role='region']");
  function fitRegions() {
    tableRegions.forEach(function (r) {
      if (r.scrollWidth > r.clientWidth + 1) r.setAttribute("tabindex", "0");
      else if (r !== document.activeElement) r.removeAttribute("tabindex");
    });
  }
  if (tableRegions.length) {
    fitRegions();
    if ("ResizeObserver" in window) {
      // Also when the text is enlarged without resizing the window.
      var watch = new ResizeObserver(fitRegions);
      tableRegions.forEach(function (r) { watch.observe(r); });
    } else {
      window.addEventListener("resize", fitRegions);
    }
  }

  var menuButton = document.querySelector(".menu-toggle");
  if (menuButton) {
    document.documentElement.classList.add("js-menu");
    menuButton.addEventListener("click", function () {
      menuButton.setAttribute("aria-expanded", menuButton.getAttribute("aria-expanded") === "true" ? "false" : "true");
    });
  }
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


  // Media players: speed, an interactive transcript (a cue button seeks,
  // the current cue is marked and followed), resuming, recovery when the
  // media store is away, and (signed in) the played ranges as progress.
  var article0 = document.querySelector("article[data-progress]");
  var states = {};
  if (article0) {
    (article0.getAttribute("data-media-state") || "").split(" ").forEach(function (pair) {
      var m = /^([a-z0-9-]+)=([0-9.]+)\/([0-9.]+)$/.exec(pair);
      if (m) states[m[1]] = { position: parseFloat(m[2]), watched: parseFloat(m[3]) };
    });
  }
  function clock(t) {
    t = Math.floor(t);
    var s = t % 60, m = Math.floor(t / 60) % 60, h = Math.floor(t / 3600);
    return (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }
  var players = [];
  document.querySelectorAll(".media-player[data-media]").forEach(function (box) {
    var el = box.querySelector("video, audio");
    if (!el) return;
    var id = box.getAttribute("data-media");
    var status = box.querySelector(".player-status");
    var tools = box.querySelector(".player-tools");
    if (tools) tools.hidden = false;
    var speed = box.querySelector(".player-speed");
    if (speed) speed.addEventListener("change", function () { el.playbackRate = parseFloat(speed.value) || 1; });

    // Resume where the learner stopped.
    var st = states[id];
    var resume = box.querySelector(".player-resume");
    var dur = parseFloat(box.getAttribute("data-duration")) || 0;
    if (st && resume && st.position > 5 && (!dur || st.position < dur - 3)) {
      resume.hidden = false;
      resume.querySelector("span").textContent = clock(st.position);
      resume.querySelector("button").addEventListener("click", function () {
        el.currentTime = st.position;
        el.play();
        resume.hidden = true;
      });
    }

    // The transcript.
    var cues = Array.prototype.slice.call(box.querySelectorAll(".cue"));
    var list = box.querySelector(".cues");
    var follow = box.querySelector(".cue-follow");
    var opts = box.querySelector(".cue-options");
    if (opts) opts.hidden = false;
    var current = null;
    cues.forEach(function (b) {
      b.addEventListener("click", function () {
        el.currentTime = parseFloat(b.getAttribute("data-start"));
        el.play();
      });
    });
    function mark() {
      var t = el.currentTime, found = null;
      for (var i = 0; i < cues.length; i++) {
        if (t >= parseFloat(cues[i].getAttribute("data-start")) && t < parseFloat(cues[i].getAttribute("data-end")) + 0.35) { found = cues[i]; break; }
      }
      if (found === current) return;
      if (current) { current.classList.remove("current"); current.removeAttribute("aria-current"); }
      current = found;
      if (!found) return;
      found.classList.add("current");
      found.setAttribute("aria-current", "true");
      // Scroll the list, never the page, and not while the learner is in it.
      if (follow && follow.checked && list && !list.contains(document.activeElement)) {
        var top = found.offsetTop - list.offsetTop;
        if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - found.offsetHeight) {
          list.scrollTop = top - list.clientHeight / 3;
        }
      }
    }

    // Played ranges, in seconds, since the page was opened.
    var ranges = [], cur = null, lastT = null;
    el.addEventListener("timeupdate", function () {
      mark();
      var t = el.currentTime;
      if (!el.paused && lastT !== null && t >= lastT && t - lastT < 1.5 * (el.playbackRate || 1) + 0.5) {
        if (!cur) { cur = [lastT, t]; ranges.push(cur); } else cur[1] = t;
      } else {
        cur = null;
      }
      lastT = t;
    });
    el.addEventListener("seeking", function () { cur = null; lastT = el.currentTime; });
    var p = { id: id, el: el, box: box, ranges: ranges, dirty: false };
    el.addEventListener("timeupdate", function () { if (!el.paused) p.dirty = true; });
    players.push(p);

    // When loading fails, ask whether the store is away; retry until back.
    var retry = null;
    function failed() {
      var at = el.currentTime;
      fetch("/media/" + id + "/tila", { credentials: "same-origin" }).then(function (r) {
        status.textContent = r.status === 503 ? box.getAttribute("data-msg-storage") : box.getAttribute("data-msg-other");
        if (r.status !== 503 || retry) return;
        retry = setInterval(function () {
          fetch("/media/" + id + "/tila", { credentials: "same-origin" }).then(function (r2) {
            if (!r2.ok) return;
            clearInterval(retry);
            retry = null;
            status.textContent = box.getAttribute("data-msg-recovered");
            el.load();
            if (at > 0) el.addEventListener("loadedmetadata", function once() { el.currentTime = at; el.removeEventListener("loadedmetadata", once); });
          });
        }, 10000);
      }).catch(function () { status.textContent = box.getAttribute("data-msg-other"); });
    }
    el.addEventListener("error", failed);
    var source = el.querySelector("source");
    if (source) source.addEventListener("error", failed);
  });


  // The exam timer: the remaining time shown (not read out every second),
  // announced politely at 10, 5 and 1 minutes left; at the end the page
  // goes to the result (the server closes the attempt).
  var timer = document.getElementById("exam-timer");
  if (timer) {
    var endsAt = Date.now() + 1000 * parseInt(timer.getAttribute("data-remaining"), 10);
    var announce = document.getElementById("exam-announce");
    var said = {};
    var tick = function () {
      var left = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
      var m = Math.floor(left / 60), sec = left % 60;
      timer.textContent = m + ":" + (sec < 10 ? "0" : "") + sec;
      [10, 5, 1].forEach(function (mark) {
        if (left <= mark * 60 && left > mark * 60 - 30 && !said[mark]) {
          said[mark] = true;
          announce.textContent = timer.getAttribute("data-left-" + mark);
        }
      });
      if (left === 0) {
        announce.textContent = timer.getAttribute("data-ended");
        clearInterval(iv);
        setTimeout(function () { location.reload(); }, 3000);
      }
    };
    var iv = setInterval(tick, 1000);
    tick();
  }
  // The unit picker: a search field filters the unit list to the units
  // whose path contains every word typed (and to the chosen
  // organisation's units). Without this script the list is a plain
  // select grouped by organisation.
  var unitSearch = document.querySelector("[data-unit-search]");
  var unitList = document.getElementById("unit");
  if (unitSearch && unitList) {
    var query = document.getElementById("unit_search");
    var status = document.getElementById("unit_search-tila");
    var orgList = document.getElementById("organisation");
    var fold = function (s) { return s.toLocaleLowerCase(document.documentElement.lang || "fi"); };
    var firstMatch = null;
    var filterUnits = function (announce) {
      var words = fold(query.value).split(/\s+/).filter(Boolean);
      var orgChosen = orgList ? orgList.value : "";
      var count = 0;
      firstMatch = null;
      unitList.querySelectorAll("optgroup").forEach(function (g) {
        var inOrg = !orgChosen || !g.dataset.organisation || g.dataset.organisation === orgChosen;
        var shown = 0;
        g.querySelectorAll("option").forEach(function (o) {
          var text = fold(o.textContent + " " + g.label);
          var ok = inOrg && words.every(function (w) { return text.indexOf(w) >= 0; });
          // The chosen unit stays visible so that the choice is never
          // hidden from the person who made it.
          o.hidden = !ok && !o.selected;
          if (ok) { shown++; count++; if (!firstMatch) firstMatch = o; }
        });
        g.hidden = shown === 0 && !g.querySelector("option:checked");
      });
      if (!announce) return;
      var msg = count === 0 ? status.dataset.none : (count === 1 ? status.dataset.one : status.dataset.other);
      status.textContent = msg.replace("{n}", String(count));
    };
    unitSearch.hidden = false;
    var searchTimer = null;
    query.addEventListener("input", function () {
      filterUnits(false);
      // The count is announced once typing pauses, not on every key.
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { filterUnits(true); }, 400);
    });
    query.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === "ArrowDown") {
        // Enter must not send the form from the search field: it picks
        // the first matching unit and moves to the list.
        e.preventDefault();
        filterUnits(true);
        if (firstMatch && e.key === "Enter") unitList.value = firstMatch.value;
        unitList.focus();
      }
    });
    if (orgList) orgList.addEventListener("change", function () { filterUnits(false); });
    filterUnits(false);
  }


  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) return;
  var csrf = meta.getAttribute("content");

  // send puts progress and answers; without a network they wait on the
  // device (offline.js queues them and answers 202) and go later.
  function send(url, body, keepalive) {
    return fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).catch(function (err) {
      if (window.tkOffline && !/^\/api\/v1\/exam\//.test(url)) return window.tkOffline.enqueue(url, body);
      throw err;
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
    // The page is done: say so where the completion rule was shown.
    function showDone() {
      var box = document.getElementById("valmis");
      if (!box) return;
      var p = document.createElement("p");
      p.className = "done-mark";
      p.setAttribute("role", "status");
      p.textContent = "✓ " + (box.getAttribute("data-done-text") || "");
      box.replaceChildren(p);
    }

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


    // Videos and podcasts: what was played, every 15 s while playing and
    // when playback stops; the server unions the ranges.
    players.forEach(function (pl) {
      function report(keepalive) {
        if (!pl.dirty && !keepalive) return;
        pl.dirty = false;
        var rs = pl.ranges.filter(function (r) { return r[1] > r[0]; }).slice(-200).map(function (r) { return [Math.round(r[0] * 10) / 10, Math.round(r[1] * 10) / 10]; });
        send(url, { event: "played", media: pl.id, position: Math.round(pl.el.currentTime * 10) / 10, ranges: rs, duration: isFinite(pl.el.duration) ? pl.el.duration : 0 }, keepalive)
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (rec) {
            if (rec && rec.completed_at && !done) {
              done = true;
              showDone();
            }
          })
          .catch(function () {});
      }
      setInterval(function () { if (!pl.el.paused) report(false); }, 15000);
      pl.el.addEventListener("pause", function () { pl.dirty = true; report(false); });
      pl.el.addEventListener("ended", function () { pl.dirty = true; report(false); });
      document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden" && pl.dirty) report(true); });
    });

    // Reading to the end completes a page whose rule is "view"; so does
    // the "mark as read" button, which then sends the one event instead of
    // its form (the form is for browsers without this script).
    var seen = null;
    function complete() {
      if (done) return;
      done = true;
      if (seen) seen.disconnect();
      send(url, { event: "completed" }).then(function (r) {
        if (r.ok) showDone();
        else done = false;
      }).catch(function () { done = false; });
    }
    var markForm = document.querySelector("#valmis form[action$='/luettu']");
    if (markForm) {
      markForm.addEventListener("submit", function (e) {
        e.preventDefault();
        if (done) showDone();
        else complete();
      });
    }
    var end = document.querySelector(".pager") || document.querySelector("#valmis");
    if (completion === "view" && !done && end && "IntersectionObserver" in window) {
      seen = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (e.isIntersecting) complete();
        });
      });
      seen.observe(end);
    }
  }


  // The exam: each answer is saved as it changes (with a sequence number,
  // so a slow older save never overwrites a newer one); the form's own
  // buttons save everything without the script.
  var examForm = document.querySelector("form[data-exam]");
  if (examForm) {
    var attempt = examForm.getAttribute("data-exam");
    examForm.querySelectorAll("fieldset[data-item]").forEach(function (fs) {
      var item = fs.getAttribute("data-item"), type = fs.getAttribute("data-type");
      var state = fs.querySelector(".save-state");
      function answer() {
        var a = { seq: Date.now() };
        if (type === "single" || type === "multiple") {
          a.choices = Array.prototype.map.call(fs.querySelectorAll("input:checked"), function (i) { return i.value; });
        } else if (type === "truefalse") {
          var v = fs.querySelector("input:checked");
          if (v) a.value = v.value === "true";
        } else if (type === "matching") {
          a.matches = {};
          fs.querySelectorAll("select").forEach(function (sel) {
            if (sel.value) a.matches[sel.name.slice(("q-" + item + "-").length)] = sel.value;
          });
        }
        return a;
      }
      fs.addEventListener("change", function () {
        send("/api/v1/exam/attempts/" + attempt + "/answers/" + item, answer()).then(function (r) {
          if (r.status === 409) { location.href = "/tentti/" + attempt + "/tulos"; return; }
          if (!r.ok) throw new Error(String(r.status));
          state.textContent = examForm.getAttribute("data-saved");
        }).catch(function () {
          state.textContent = examForm.getAttribute("data-failed");
        });
      });
    });
  }

  // Answers are saved a moment after typing stops. Saves go one at a
  // time (a later text is never overtaken by an earlier one still on its
  // way), and the form's own submit waits for a save under way, so the
  // text sent last is the one kept.
  document.querySelectorAll("form[data-autosave]").forEach(function (form) {
    var area = form.querySelector("textarea");
    var status = form.querySelector(".save-status");
    var timer = null;
    var last = area.value;
    var busy = false, again = false, after = null;
    function settled() {
      busy = false;
      if (again) { again = false; save(); return; }
      if (after) { var f = after; after = null; f(); }
    }
    function save() {
      if (busy) { again = true; return; }
      if (area.value === last) { settled(); return; }
      busy = true;
      var text = area.value;
      status.textContent = form.getAttribute("data-saving");
      send(form.getAttribute("data-autosave"), { text: text }).then(function (r) {
        if (!r.ok) {
          var e = new Error(String(r.status));
          e.retryAfter = parseInt(r.headers.get("Retry-After") || "", 10);
          throw e;
        }
        last = text;
        status.textContent = form.getAttribute(r.status === 202 ? "data-queued" : "data-saved");
        settled();
      }).catch(function (e) {
        status.textContent = form.getAttribute("data-failed");
        // The text stays in the field; saving is tried again after the
        // wait the server asked for (a full disk, a restart), at most a
        // minute, unless typing starts a save sooner.
        var wait = e && e.retryAfter > 0 ? Math.min(e.retryAfter, 60) : 15;
        clearTimeout(timer);
        timer = setTimeout(save, wait * 1000);
        settled();
      });
    }
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(save, 1500);
    });
    area.addEventListener("blur", save);
    form.addEventListener("submit", function (ev) {
      clearTimeout(timer);
      if (!busy) return;
      // A save is on its way: send the form when it has arrived.
      ev.preventDefault();
      var by = ev.submitter;
      after = function () { if (form.requestSubmit) form.requestSubmit(by || null); else form.submit(); };
    });
  });

})();

// A form marked data-autopost sends itself as the page opens: the answer
// a learning platform waits for (LTI deep linking). Its button does the
// same without scripts.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autopost]");
  if (form) form.submit();
})();

// LTI Dynamic Registration: the page that says the tool is registered
// tells the platform that opened it to close it (the IMS message
// org.imsglobal.lti.close, to the opener or the framing page).
(function () {
  "use strict";
  if (!document.querySelector("[data-lti-close]")) return;
  var to = window.opener || (window.parent !== window ? window.parent : null);
  if (to) to.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
})();

// LTI postMessage storage (LTI Client Side postMessages, OIDC login with
// them): when a learning platform keeps data for the tool in the browser,
// the login page puts the launch's state and nonce there before going on
// to the platform, and the launch page, when the browser did not send the
// state cookie back, looks for them there and, if both are found, posts
// the launch again (from this origin, which the server requires). Messages
// go only to the platform's origin and are taken only from it.
(function () {
  "use strict";
  var el = document.querySelector("[data-lti-storage]");
  if (!el) return;
  var put = el.getAttribute("data-lti-storage") === "put";
  var go = function () { window.location.replace(el.getAttribute("data-next")); };
  var origin = el.getAttribute("data-origin");
  var name = el.getAttribute("data-target");
  var state = el.getAttribute("data-state");
  var nonce = el.getAttribute("data-nonce");
  var frame = window.parent;
  if (name && name !== "_parent") {
    try {
      frame = window.parent.frames[name];
    } catch (e) {
      frame = null;
    }
  }
  if (window.parent === window || !frame || !origin) {
    if (put) go(); // no platform around: on to it all the same
    return;
  }
  var waiting = {};
  var counter = 0;
  window.addEventListener("message", function (ev) {
    var d = ev.data;
    if (ev.origin !== origin || !d || typeof d !== "object" || typeof d.message_id !== "string") return;
    var w = waiting[d.message_id];
    if (!w || d.subject !== w.subject + ".response") return;
    delete waiting[d.message_id];
    if (d.error) w.reject(new Error(String(d.error.code || "error")));
    else w.resolve(d);
  });
  function send(subject, key, value) {
    return new Promise(function (resolve, reject) {
      var id = "tyokyky-" + Date.now().toString(36) + "-" + (counter++) + "-" + Math.random().toString(36).slice(2);
      waiting[id] = { subject: subject, resolve: resolve, reject: reject };
      var msg = { subject: subject, message_id: id, key: key };
      if (value !== undefined) msg.value = value;
      frame.postMessage(msg, origin);
      setTimeout(function () {
        if (waiting[id]) {
          delete waiting[id];
          reject(new Error("timeout"));
        }
      }, 3000);
    });
  }
  if (put) {
    // Whatever the storage answers, the login goes on: the cookie may
    // still come back.
    Promise.all([send("lti.put_data", "state_" + state, state), send("lti.put_data", "nonce_" + nonce, nonce)]).then(go, go);
    return;
  }
  var status = document.querySelector("[data-lti-storage-status]");
  if (status) status.textContent = status.getAttribute("data-checking");
  Promise.all([send("lti.get_data", "state_" + state), send("lti.get_data", "nonce_" + nonce)]).then(function (r) {
    if (r[0].value === state && r[1].value === nonce) {
      el.elements.lti_storage.value = "1";
      el.submit();
      return;
    }
    if (status) status.textContent = "";
  }, function () {
    if (status) status.textContent = "";
  });
})();
