// Työkyky offline: registers the service worker (/sw.js) and, on the
// offline page, lists the pages the device keeps. Everything else works
// without this file.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});

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
