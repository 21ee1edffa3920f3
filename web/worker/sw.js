// Työkyky's service worker (served at /sw.js; the line before this one,
// self.TK_SHELL, names the app shell's fingerprinted assets and the
// version). Plain JavaScript, same origin, no inline code.
//
// What it keeps, one cache each:
//   tk-shell-<version>  the app shell: static assets and the offline page;
//   tk-pages            public pages the browser has shown (network first,
//                       this copy when the network is away);
//   tk-personal         pages answered as private (signed in: they carry
//                       the learner's name and progress), removed when the
//                       learner signs out;
//   tk-module-<slug>    a module saved with "Tallenna osio laitteelle".
"use strict";

var SHELL = "tk-shell-" + self.TK_SHELL.version;
var PAGES = "tk-pages";
var PERSONAL = "tk-personal";
var MODULE = "tk-module-";

// Pages that need the server: the exam, certificates, the account, signing
// in and the administrators' and authors' tools. Never kept; offline they
// get the offline page, which says they need a connection.
var ONLINE_ONLY = /^\/(tentti|tili|todistus|todistukset|yllapito|studio|raportit|kirjaudu|kirjaudu-ulos|rekisteroidy|salasana|sahkoposti|viestit)(\/|$)/;

function offlineRequest() {
  // Without the cookie: the shell's offline page is the public one.
  return new Request("/offline", { credentials: "omit" });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (c) {
    return c.addAll(self.TK_SHELL.assets.concat([offlineRequest()]));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) {
      return k.indexOf("tk-shell-") === 0 && k !== SHELL;
    }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function isPrivate(res) {
  return /private|no-store/.test(res.headers.get("Cache-Control") || "");
}

// keep stores a page the network answered, in the public or the personal
// cache as the server marked it (and out of the other one).
function keep(req, res) {
  if (!res.ok || res.type !== "basic" || res.redirected) return Promise.resolve();
  var into = isPrivate(res) ? PERSONAL : PAGES, other = into === PAGES ? PERSONAL : PAGES;
  var copy = res.clone();
  return Promise.all([
    caches.open(into).then(function (c) { return c.put(req.url, copy); }),
    caches.open(other).then(function (c) { return c.delete(req.url); })
  ]);
}

// cached finds a page: a saved module's copy first (kept up to date by its
// revision), then the personal and the public copies.
function cached(url) {
  return caches.keys().then(function (keys) {
    var order = keys.filter(function (k) { return k.indexOf(MODULE) === 0; }).concat([PERSONAL, PAGES, SHELL]);
    return order.reduce(function (p, name) {
      return p.then(function (found) {
        if (found) return found;
        return caches.open(name).then(function (c) { return c.match(url, { ignoreVary: true }); });
      });
    }, Promise.resolve(undefined));
  });
}

function offlinePage() {
  return caches.open(SHELL).then(function (c) { return c.match("/offline"); }).then(function (r) {
    return r || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  });
}

function page(event, path) {
  var req = event.request;
  return fetch(req).then(function (res) {
    if (!ONLINE_ONLY.test(path)) event.waitUntil(keep(req, res));
    return res;
  }).catch(function () {
    if (ONLINE_ONLY.test(path)) return offlinePage();
    return cached(req.url).then(function (r) { return r || offlinePage(); });
  });
}

function asset(req) {
  return caches.match(req).then(function (r) { return r || fetch(req); });
}

self.addEventListener("fetch", function (event) {
  var req = event.request;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin || req.method !== "GET") return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(asset(req));
  } else if (req.mode === "navigate") {
    event.respondWith(page(event, url.pathname));
  }
});
