// Työkyky offline: registers the service worker (/sw.js) and, on the
// offline page, lists the pages the device keeps. Everything else works
// without this file.
(function () {
  "use strict";
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
