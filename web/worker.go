package web

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

//go:embed worker/sw.js
var workerSource []byte

// precached are the static assets every page needs offline (the app
// shell); studio.js is for authors, who work online.
var precached = []string{"app.css", "print.css", "app.js", "offline.js", "favicon.svg", "icon.svg", "icon-192.png", "icon-512.png"}

// ServiceWorker is the body of /sw.js: worker/sw.js after one line that
// names the shell's assets by their fingerprinted addresses and a version
// that changes with any of them, so a new build installs a new worker
// (the browser compares the script's bytes) that fetches only what
// changed.
func ServiceWorker() []byte { return workerBody() }

// workerBody is made once, after init has read the assets.
var workerBody = sync.OnceValue(func() []byte {
	urls := make([]string, 0, len(precached))
	h := sha256.New()
	for _, name := range precached {
		a, ok := byPlain[name]
		if !ok {
			panic(fmt.Sprintf("web: precached asset %q is missing", name))
		}
		urls = append(urls, a.URL())
		h.Write([]byte(a.Fingerprint))
	}
	h.Write(workerSource)
	slices.Sort(urls)
	shell, _ := json.Marshal(struct {
		Version string   `json:"version"`
		Assets  []string `json:"assets"`
	}{hex.EncodeToString(h.Sum(nil))[:12], urls})
	return append([]byte("self.TK_SHELL = "+string(shell)+";\n"), workerSource...)
})
