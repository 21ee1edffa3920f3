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
  var copy = res.clone(), again = res.clone();
  return Promise.all([
    caches.open(into).then(function (c) { return c.put(req.url, copy).then(function () { return trim(c); }); }),
    caches.has(other).then(function (has) { if (has) return caches.open(other).then(function (c) { return c.delete(req.url); }); }),
    // A saved module's copy follows what the learner sees online (a
    // signed-in view only into a module saved signed in, so that signing
    // out still removes every personal page).
    savedSlugs().then(function (slugs) {
      return Promise.all(slugs.map(function (s) {
        return meta(s).then(function (m) {
          if (!m || m.personal !== isPrivate(res)) return;
          return caches.open(MODULE + s).then(function (c) {
            return c.match(req.url).then(function (had) { if (had) return c.put(req.url, again.clone()); });
          });
        });
      }));
    }),
    checkAll()
  ]);
}

// Pages kept because they were opened (not saved modules) are capped: the
// oldest go first.
var KEEP_PAGES = 300;
function trim(c) {
  return c.keys().then(function (reqs) {
    return Promise.all(reqs.slice(0, Math.max(0, reqs.length - KEEP_PAGES)).map(function (q) { return c.delete(q); }));
  });
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

// ---- Saved modules ("Tallenna osio laitteelle") ----
//
// A module's cache holds its pages, figures, linked concepts, captions,
// transcripts and posters (the list and the revision come from
// /api/v1/offline/<module>), its audio and video files when asked, and
// under the list's own address what was saved: the list, the revision,
// the bytes, whether media came along and whether the pages were a
// signed-in learner's (then signing out removes the module).

var META = "/api/v1/offline/";

function meta(slug) {
  return caches.open(MODULE + slug).then(function (c) { return c.match(META + slug); })
    .then(function (r) { return r ? r.json() : null; });
}

function savedSlugs() {
  return caches.keys().then(function (keys) {
    return keys.filter(function (k) { return k.indexOf(MODULE) === 0; }).map(function (k) { return k.slice(MODULE.length); });
  });
}

// A media file or poster comes through this origin (?laitteelle=1).
function fetchURL(u) {
  return /^\/media\/[^/]+\/(tiedosto|kansikuva)$/.test(u) ? u + "?laitteelle=1" : u;
}

function fetchInto(cache, u, state) {
  return fetch(fetchURL(u), { credentials: "same-origin", cache: "no-store" }).then(function (res) {
    if (!res.ok) throw new Error(u + ": " + res.status);
    if (isPrivate(res)) state.personal = true;
    return res.blob().then(function (blob) {
      var headers = { "Content-Type": res.headers.get("Content-Type") || "application/octet-stream", "Content-Length": String(blob.size) };
      ["Cache-Control", "Date", "ETag"].forEach(function (h) { if (res.headers.get(h)) headers[h] = res.headers.get(h); });
      return cache.put(u, new Response(blob, { status: 200, headers: headers })).then(function () { state.bytes += blob.size; });
    });
  });
}

// save fetches everything a module needs into its cache, a few at a
// time, telling report how far it is; entries the new list no longer
// has are removed, and the record of what was saved is written last.
function save(slug, withMedia, report) {
  var cacheName = MODULE + slug;
  return fetch(META + slug, { cache: "no-store" }).then(function (r) {
    if (!r.ok) throw new Error("list: " + r.status);
    return r.json();
  }).then(function (list) {
    var urls = list.pages.concat(list.assets);
    if (withMedia) urls = urls.concat(list.media.map(function (m) { return m.url; }));
    var state = { bytes: 0, done: 0, total: urls.length, personal: false };
    return caches.open(cacheName).then(function (cache) {
      var next = 0;
      function worker() {
        if (next >= urls.length) return Promise.resolve();
        var u = urls[next++];
        return fetchInto(cache, u, state).then(function () {
          state.done++;
          report({ type: "progress", module: slug, done: state.done, total: state.total, bytes: state.bytes });
          return worker();
        });
      }
      var started = Date.now();
      return Promise.all([worker(), worker(), worker(), worker()]).then(function () {
        return cache.keys();
      }).then(function (reqs) {
        var want = {};
        urls.concat([META + slug]).forEach(function (u) { want[new URL(u, self.location.origin).href] = true; });
        return Promise.all(reqs.filter(function (q) { return !want[q.url]; }).map(function (q) { return cache.delete(q); }));
      }).then(function () {
        var record = { module: slug, title: list.title, revision: list.revision, pages: list.pages, with_media: !!withMedia,
          media_bytes: list.media_bytes, bytes: state.bytes, personal: state.personal, saved_at: new Date().toISOString(),
          seconds: (Date.now() - started) / 1000 };
        return cache.put(META + slug, new Response(JSON.stringify(record), { headers: { "Content-Type": "application/json" } }))
          .then(function () { return record; });
      });
    });
  });
}

// check compares a saved module with the published revision and saves
// it again when it is older ("updated"); offline it says what it knows.
function check(slug, report) {
  return meta(slug).then(function (m) {
    if (!m) return { type: "status", module: slug, saved: false };
    return fetch(META + slug, { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; }).catch(function () { return null; })
      .then(function (list) {
        if (!list || list.revision === m.revision) return { type: "status", module: slug, saved: true, record: m, offline: !list };
        report({ type: "status", module: slug, saved: true, record: m, outdated: true });
        return save(slug, m.with_media, report).then(function (rec) {
          return { type: "status", module: slug, saved: true, record: rec, updated: true };
        }).catch(function () { return { type: "status", module: slug, saved: true, record: m, outdated: true }; });
      });
  });
}

var lastCheck = 0;
function checkAll() {
  if (Date.now() - lastCheck < 10 * 60 * 1000) return Promise.resolve();
  lastCheck = Date.now();
  return savedSlugs().then(function (slugs) {
    return Promise.all(slugs.map(function (s) { return check(s, function () {}).catch(function () {}); }));
  });
}

// clearPersonal removes every page that carries personal data: the
// personal cache and the modules saved while signed in.
function clearPersonal() {
  return caches.delete(PERSONAL).then(savedSlugs).then(function (slugs) {
    return Promise.all(slugs.map(function (s) {
      return meta(s).then(function (m) { if (!m || m.personal) return caches.delete(MODULE + s); });
    }));
  });
}

self.addEventListener("message", function (event) {
  var d = event.data || {}, src = event.source;
  function report(msg) { if (src) src.postMessage(msg); }
  var slug = String(d.module || "");
  if (d.type !== "clear" && !/^[a-z0-9-]+$/.test(slug)) return;
  var work;
  if (d.type === "save") {
    work = save(slug, !!d.media, report).then(function (rec) {
      report({ type: "saved", module: slug, record: rec });
    }).catch(function () { report({ type: "failed", module: slug }); });
  } else if (d.type === "remove") {
    work = caches.delete(MODULE + slug).then(function () { report({ type: "removed", module: slug }); });
  } else if (d.type === "status") {
    work = check(slug, report).then(report);
  } else if (d.type === "clear") {
    work = clearPersonal();
  }
  if (work) event.waitUntil(work);
});

// ---- Background Sync ----
// The page's queue (IndexedDB "tyokyky-offline", see offline.js) is sent
// from here when the browser sees the network back, even with no page of
// the site open: the same POST /api/v1/sync with the device id and the
// session's CSRF token the last signed-in page stored. A failed delivery
// rejects, and the browser tries again later.
function idb() {
  return new Promise(function (resolve, reject) {
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
function idbDo(d, store, mode, fn) {
  return new Promise(function (resolve, reject) {
    var t = d.transaction(store, mode), out;
    var r = fn(t.objectStore(store));
    if (r) r.onsuccess = function () { out = r.result; };
    t.oncomplete = function () { resolve(out); };
    t.onerror = t.onabort = function () { reject(t.error); };
  });
}
function sendQueue() {
  return idb().then(function (d) {
    return Promise.all([idbDo(d, "queue", "readonly", function (s) { return s.getAll(); }),
      idbDo(d, "meta", "readonly", function (s) { return s.get("device"); }),
      idbDo(d, "meta", "readonly", function (s) { return s.get("csrf"); })]).then(function (r) {
      var items = r[0].sort(function (x, y) { return x.seq - y.seq; }).slice(0, 500), dev = r[1], token = r[2];
      if (!items.length || !dev || !token) return;
      return fetch("/api/v1/sync", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify({ device: dev, items: items })
      }).then(function (res) {
        if (!res.ok) throw new Error("sync: " + res.status);
        return res.json();
      }).then(function (out) {
        var byKey = {};
        items.forEach(function (it) { byKey[it.key] = it; });
        return Promise.all(out.results.map(function (x) {
          var it = byKey[x.key];
          return idbDo(d, "queue", "readwrite", function (s) { return s["delete"](x.key); }).then(function () {
            if (x.status === "conflict" && it && x.server) {
              return idbDo(d, "conflicts", "readwrite", function (s) { return s.put({ task: it.task, mine: it.text, server: x.server }); });
            }
          });
        }));
      });
    });
  });
}
self.addEventListener("sync", function (event) {
  if (event.tag === "tk-queue") event.waitUntil(sendQueue());
});

// A saved audio or video file answers Range requests from the cache.
function ranged(res, range) {
  return res.blob().then(function (blob) {
    var size = blob.size, type = res.headers.get("Content-Type") || "application/octet-stream";
    var m = /^bytes=(\d*)-(\d*)$/.exec(range || "");
    if (!m || (m[1] === "" && m[2] === "")) {
      return new Response(blob, { status: 200, headers: { "Content-Type": type, "Content-Length": String(size), "Accept-Ranges": "bytes" } });
    }
    var start, end;
    if (m[1] === "") { start = Math.max(0, size - parseInt(m[2], 10)); end = size - 1; }
    else { start = parseInt(m[1], 10); end = m[2] === "" ? size - 1 : Math.min(parseInt(m[2], 10), size - 1); }
    if (start >= size || start > end) return new Response("", { status: 416, headers: { "Content-Range": "bytes */" + size } });
    return new Response(blob.slice(start, end + 1), { status: 206, headers: { "Content-Type": type, "Content-Length": String(end - start + 1),
      "Content-Range": "bytes " + start + "-" + end + "/" + size, "Accept-Ranges": "bytes" } });
  });
}

function savedOnly(url) {
  return savedSlugs().then(function (slugs) {
    return slugs.reduce(function (p, s) {
      return p.then(function (found) {
        return found || caches.open(MODULE + s).then(function (c) { return c.match(url); });
      });
    }, Promise.resolve(undefined));
  });
}

function mediaFile(req) {
  return savedOnly(req.url).then(function (r) { return r ? ranged(r, req.headers.get("Range")) : fetch(req); });
}

// Figures, captions, transcripts, posters: the network, else a copy.
function resource(req) {
  return fetch(req).catch(function () {
    return cached(req.url).then(function (r) { return r || Response.error(); });
  });
}

self.addEventListener("fetch", function (event) {
  var req = event.request;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === "POST" && /^\/(kirjaudu-ulos|tili\/poista|api\/v1\/auth\/logout)$/.test(url.pathname)) {
    // Signing out (or deleting the account): the personal pages go before
    // the answer is shown. Offline nothing happens on the server, so the
    // device keeps them and shows the offline page (it needs a connection).
    event.respondWith(fetch(req).then(function (res) {
      return clearPersonal().then(function () { return res; }, function () { return res; });
    }, offlinePage));
    return;
  }
  if (req.method !== "GET") return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(asset(req));
  } else if (req.mode === "navigate") {
    event.respondWith(page(event, url.pathname));
  } else if (url.pathname.indexOf("/media/") === 0) {
    // Online the browser fetches media itself: files and posters are
    // presigned links on the object store, which this worker's CSP
    // (connect-src 'self') does not let it follow. Offline they come from
    // a saved module.
    if (self.navigator.onLine) return;
    event.respondWith(/^\/media\/[^/]+\/tiedosto$/.test(url.pathname) ? mediaFile(req) : resource(req));
  } else if (url.pathname.indexOf("/kurssi/kuvat/") === 0 || /^\/sanasto\/[^/]+\/kaavio\.svg$/.test(url.pathname)) {
    event.respondWith(resource(req));
  }
});
