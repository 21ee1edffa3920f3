// Työkyky offline: registers the service worker (/sw.js) and, on the
// offline page, lists the pages the device keeps. Everything else works
// without this file.
(function () {
  "use strict";

  // ---- The offline queue ----
  // Progress events and answers that could not be sent (no network) wait
  // in IndexedDB, each with an idempotency key and the device's sequence
  // number, and go to POST /api/v1/sync when the network returns (the
  // online event, each page load, the "Send now" button); the server
  // accepts each key once. An answer the server reports as changed
  // elsewhere meanwhile is shown beside the learner's for them to choose.
  var line = document.getElementById("verkkotila");
  var lineText = line && line.querySelector(".net-text");
  var sendNow = line && line.querySelector(".net-send");
  var say = function (key, n) {
    if (!line) return;
    var text = key ? line.getAttribute("data-" + key).replace("{n}", n) : "";
    line.classList.toggle("quiet", !text);
    if (lineText.textContent !== text) lineText.textContent = text;
  };
  var dbp = null;
  function db() {
    if (!dbp) {
      dbp = new Promise(function (resolve, reject) {
        var req = indexedDB.open("tyokyky-offline", 1);
        req.onupgradeneeded = function () {
          var d = req.result;
          d.createObjectStore("queue", { keyPath: "key" });
          d.createObjectStore("conflicts", { keyPath: "task" });
          d.createObjectStore("meta");
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbp;
  }
  function tx(store, mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(store, mode), out;
        var r = fn(t.objectStore(store));
        if (r) r.onsuccess = function () { out = r.result; };
        t.oncomplete = function () { resolve(out); };
        t.onerror = t.onabort = function () { reject(t.error); };
      });
    });
  }
  function randomKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  function device() {
    return tx("meta", "readonly", function (s) { return s.get("device"); }).then(function (id) {
      if (id) return id;
      id = "device-" + randomKey();
      return tx("meta", "readwrite", function (s) { return s.put(id, "device"); }).then(function () { return id; });
    });
  }
  var counter = 0;
  // enqueue keeps what fetch could not send; app.js calls it and gets an
  // answer 202 "queued" back.
  function enqueue(url, body) {
    var item = { key: randomKey(), seq: Date.now() * 1000 + (counter++ % 1000) };
    var m = /^\/api\/v1\/progress\/([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(url), a = /^\/api\/v1\/tasks\/([^/]+)\/answer$/.exec(url);
    if (m) {
      item.type = "progress"; item.module = m[1]; item.section = m[2]; item.event = body;
    } else if (a) {
      var form = document.querySelector('form[data-autosave="' + url + '"]');
      item.type = "answer"; item.task = decodeURIComponent(a[1]); item.text = body.text;
      item.base = form && form.getAttribute("data-base") || null;
    } else {
      return Promise.reject(new Error("not queued: " + url));
    }
    return tx("queue", "readwrite", function (s) { return s.put(item); }).then(function () {
      status();
      // Background Sync, where the browser has it: the worker sends the
      // queue when the network returns, even with no page of the site open.
      if ("serviceWorker" in navigator) {
        navigator.serviceWorker.ready.then(function (r) { if (r.sync) return r.sync.register("tk-queue"); }).catch(function () {});
      }
      return new Response(JSON.stringify({ queued: true }), { status: 202, headers: { "Content-Type": "application/json" } });
    });
  }
  function queued() { return tx("queue", "readonly", function (s) { return s.getAll(); }); }
  var flushing = false, sentSome = false;
  function status() {
    return queued().then(function (items) {
      var n = items.length;
      if (sendNow) sendNow.hidden = !(n && navigator.onLine && !flushing && csrf());
      if (!navigator.onLine) say("offline");
      else if (flushing) say("syncing", n);
      else if (n && !csrf()) say("signin");
      else if (n) say("queued", n);
      else if (sentSome) say("synced");
      return n;
    }).catch(function () {});
  }
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta && meta.getAttribute("content");
  }
  function flush() {
    if (flushing || !navigator.onLine || !csrf()) return Promise.resolve(status());
    return Promise.all([queued(), device()]).then(function (r) {
      var items = r[0], dev = r[1];
      if (!items.length) return status();
      items.sort(function (x, y) { return x.seq - y.seq; });
      items = items.slice(0, 500);
      flushing = true;
      status();
      return fetch("/api/v1/sync", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ device: dev, items: items })
      }).then(function (res) {
        if (!res.ok) throw new Error(String(res.status));
        return res.json();
      }).then(function (out) {
        var byKey = {};
        items.forEach(function (it) { byKey[it.key] = it; });
        return Promise.all(out.results.map(function (x) {
          var it = byKey[x.key];
          var drop = tx("queue", "readwrite", function (s) { return s["delete"](x.key); });
          if (x.status !== "conflict" || !it || !x.server) return drop;
          return drop.then(function () {
            return tx("conflicts", "readwrite", function (s) { return s.put({ task: it.task, mine: it.text, server: x.server }); });
          });
        }));
      }).then(function () {
        flushing = false;
        sentSome = true;
        showConflicts();
        return status();
      }, function () {
        flushing = false;
        return status();
      });
    }).catch(function () { flushing = false; });
  }
  // A conflict is shown above the task's answer field: both texts and a
  // choice; the choice goes through the queue like any answer.
  function showConflicts() {
    var forms = document.querySelectorAll("form[data-autosave]");
    if (!forms.length || !line) return;
    tx("conflicts", "readonly", function (s) { return s.getAll(); }).then(function (list) {
      list.forEach(function (c) {
        var form = document.querySelector('form[data-autosave="/api/v1/tasks/' + c.task + '/answer"]');
        if (!form || form.previousElementSibling && form.previousElementSibling.classList.contains("answer-conflict")) return;
        var area = form.querySelector("textarea");
        var box = document.createElement("section");
        box.className = "answer-conflict";
        box.setAttribute("aria-labelledby", area.id + "-ristiriita");
        var h = document.createElement("h3");
        h.id = area.id + "-ristiriita";
        h.textContent = line.getAttribute("data-conflict-title");
        var help = document.createElement("p");
        help.textContent = line.getAttribute("data-conflict-help");
        var part = function (key, text) {
          var p = document.createElement("p");
          p.textContent = line.getAttribute("data-conflict-" + key);
          var q = document.createElement("blockquote");
          q.lang = "fi";
          q.textContent = text;
          return [p, q];
        };
        var keepServer = document.createElement("button");
        keepServer.type = "button";
        keepServer.className = "button";
        keepServer.textContent = line.getAttribute("data-conflict-keep-server");
        var keepMine = document.createElement("button");
        keepMine.type = "button";
        keepMine.className = "button";
        keepMine.textContent = line.getAttribute("data-conflict-keep-mine");
        var resolve = function (text) {
          form.setAttribute("data-base", c.server.updated_at);
          area.value = text;
          box.remove();
          area.focus();
          return tx("conflicts", "readwrite", function (s) { return s["delete"](c.task); });
        };
        keepServer.addEventListener("click", function () { resolve(c.server.text); });
        keepMine.addEventListener("click", function () {
          resolve(c.mine).then(function () { return enqueue("/api/v1/tasks/" + c.task + "/answer", { text: c.mine }); }).then(flush);
        });
        box.append.apply(box, [h, help].concat(part("server", c.server.text), part("mine", c.mine), [keepServer, keepMine]));
        form.before(box);
      });
    }).catch(function () {});
  }
  if ("indexedDB" in window) {
    window.tkOffline = { enqueue: enqueue, flush: flush };
    window.addEventListener("online", function () { say("online"); flush(); });
    window.addEventListener("offline", function () { status(); });
    if (sendNow) sendNow.addEventListener("click", function () { flush(); });
    // Signing out: what waits is sent first, then the queue and the
    // conflicts (the learner's texts) leave the device with the session
    // (the worker removes the personal pages as the form goes).
    document.addEventListener("submit", function (e) {
      var f = e.target;
      if (!f.matches || !f.matches('form[action="/kirjaudu-ulos"]') || f.getAttribute("data-flushed")) return;
      // Offline the sign-out cannot reach the server: the queue stays (the
      // worker answers with the offline page, which says it needs a
      // connection).
      if (!navigator.onLine) return;
      e.preventDefault();
      var go = function () {
        f.setAttribute("data-flushed", "1");
        Promise.all([tx("queue", "readwrite", function (s) { return s.clear(); }), tx("conflicts", "readwrite", function (s) { return s.clear(); }),
          tx("meta", "readwrite", function (s) { return s["delete"]("csrf"); })])
          .catch(function () {}).then(function () { f.submit(); });
      };
      flush().then(go, go);
    });
    // The worker's Background Sync sends with this session's token.
    if (csrf()) tx("meta", "readwrite", function (s) { return s.put(csrf(), "csrf"); }).catch(function () {});
    flush();
    showConflicts();
    setInterval(function () { if (navigator.onLine) flush(); }, 30000);
  }

  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});

  // "Tallenna osio laitteelle" on a module page: the worker fetches the
  // module into its own cache and reports progress here; media files only
  // when the box (with their size) is ticked.
  var box = document.querySelector(".offline-save[data-module]");
  if (box && "caches" in window) {
    var slug = box.getAttribute("data-module");
    var saveButton = document.getElementById("laitteelle-tallenna");
    var removeButton = document.getElementById("laitteelle-poista");
    var bar = document.getElementById("laitteelle-edistyminen");
    var state = document.getElementById("laitteelle-tila");
    var mediaRow = box.querySelector(".offline-media");
    var mediaBox = document.getElementById("laitteelle-media");
    var lang = document.documentElement.lang || "fi";
    var fill = function (key, vals) {
      return box.getAttribute("data-" + key).replace(/\{(\w+)\}/g, function (m, k) { return vals && k in vals ? vals[k] : m; });
    };
    var size = function (bytes) {
      var mb = bytes / 1e6;
      return fill("unit", { n: mb.toLocaleString(lang, { maximumFractionDigits: mb < 10 ? 1 : 0, minimumFractionDigits: 0 }) });
    };
    var when = function (iso) {
      return new Date(iso).toLocaleString(lang, { day: "numeric", month: "numeric", year: "numeric", hour: "numeric", minute: "2-digit" });
    };
    var show = function (rec, extra) {
      saveButton.hidden = false;
      removeButton.hidden = !rec;
      var text = rec ? fill("saved", { size: size(rec.bytes), date: when(rec.saved_at) }) + (rec.with_media ? " " + box.getAttribute("data-media-saved") : "")
        : box.getAttribute("data-not-saved");
      state.textContent = extra ? extra + " " + text : text;
      box.setAttribute("data-revision", rec ? rec.revision : "");
    };
    var worker = function () { return navigator.serviceWorker.ready.then(function (r) { return r.active; }); };
    navigator.serviceWorker.addEventListener("message", function (e) {
      var d = e.data || {};
      if (d.module !== slug) return;
      if (d.type === "progress") {
        bar.hidden = false;
        bar.max = d.total;
        bar.value = d.done;
        state.textContent = fill("saving", { done: d.done, total: d.total, size: size(d.bytes) });
      } else if (d.type === "saved") {
        bar.hidden = true;
        saveButton.disabled = false;
        show(d.record);
      } else if (d.type === "failed") {
        bar.hidden = true;
        saveButton.disabled = false;
        state.textContent = box.getAttribute("data-failed");
      } else if (d.type === "removed") {
        show(null, box.getAttribute("data-removed"));
        saveButton.focus();
      } else if (d.type === "status") {
        if (!d.saved) show(null);
        else show(d.record, d.updated ? box.getAttribute("data-updated") : d.outdated ? box.getAttribute("data-outdated") : "");
      }
    });
    saveButton.addEventListener("click", function () {
      saveButton.disabled = true;
      state.textContent = fill("saving", { done: 0, total: "…", size: size(0) });
      worker().then(function (w) { w.postMessage({ type: "save", module: slug, media: mediaBox.checked }); });
    });
    removeButton.addEventListener("click", function () {
      worker().then(function (w) { w.postMessage({ type: "remove", module: slug }); });
    });
    // The media's size, from the module's list (online only).
    fetch("/api/v1/offline/" + slug).then(function (r) { return r.ok ? r.json() : null; }).then(function (list) {
      if (!list || !list.media.length) return;
      mediaRow.querySelector("label").textContent = fill("with-media", { size: size(list.media_bytes) });
      mediaRow.hidden = false;
    }).catch(function () {});
    box.hidden = false;
    worker().then(function (w) { w.postMessage({ type: "status", module: slug }); });
  }

  var ONLINE_ONLY = /^\/(tentti|tili|todistus|todistukset|yllapito|studio|raportit|kirjaudu|kirjaudu-ulos|rekisteroidy|salasana|sahkoposti|viestit)(\/|$)/;

  // The offline page: shown at /offline, and by the worker in place of a
  // page that is not on the device (or needs the server).
  var list = document.getElementById("offline-list");
  if (!list || !("caches" in window)) return;
  if (location.pathname !== "/offline") {
    var missing = document.getElementById("offline-missing");
    if (ONLINE_ONLY.test(location.pathname)) missing.textContent = missing.getAttribute("data-online-only");
    missing.hidden = false;
  }
  var suffix = / – [^–]*$/;
  caches.keys().then(function (keys) {
    var names = keys.filter(function (k) { return k.indexOf("tk-module-") === 0 || k === "tk-personal" || k === "tk-pages"; });
    return Promise.all(names.map(function (name) {
      return caches.open(name).then(function (c) {
        return c.keys().then(function (reqs) {
          return Promise.all(reqs.map(function (r) {
            return c.match(r).then(function (res) {
              var type = res && res.headers.get("Content-Type") || "";
              if (type.indexOf("text/html") !== 0) return null;
              return res.text().then(function (html) {
                var doc = new DOMParser().parseFromString(html, "text/html");
                return { url: r.url, title: (doc.title || r.url).replace(suffix, "") };
              });
            });
          }));
        });
      });
    }));
  }).then(function (groups) {
    var seen = {}, pages = [];
    groups.forEach(function (g) {
      g.forEach(function (p) {
        if (!p) return;
        var u = new URL(p.url);
        if (u.origin !== location.origin || u.pathname === "/offline" || seen[u.pathname + u.search]) return;
        seen[u.pathname + u.search] = true;
        pages.push({ href: u.pathname + u.search, title: p.title });
      });
    });
    pages.sort(function (a, b) { return a.href < b.href ? -1 : a.href > b.href ? 1 : 0; });
    pages.forEach(function (p) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = p.href;
      a.textContent = p.title;
      li.append(a);
      list.append(li);
    });
    document.getElementById("offline-empty").hidden = pages.length > 0;
    list.hidden = pages.length === 0;
  }).catch(function () {});
})();
