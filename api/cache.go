package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/media"
)

// The render cache: the pages and API documents of the published course,
// built once per version, language and path and revalidated with an ETag;
// pages for the signed-in are rendered per request (or filled in from a
// skeleton kept here, see pageHandlers.signedInSection).

// renderCache answers from the pages and documents of the current
// published version and media revision; the page handlers hold it.
type renderCache struct {
	// core: the published course, and who asks in which language.
	*core
	// media is the catalog whose revision the pages' players follow (nil:
	// no media library).
	media *media.Catalog
	// current is the cache of the current version and media revision.
	current atomic.Pointer[pageCache]
}

// pageCache holds the rendered pages and API documents of one published
// version; a new version starts an empty cache. Nothing in it depends on
// the request but the language and the path.
type pageCache struct {
	version  int64
	mediaRev int64    // pages show players built from the media catalog
	entries  sync.Map // key → *cacheEntry
}

type cacheEntry struct {
	once sync.Once
	body []byte
	etag string
	err  error
	// page is body with its gzip form, made once.
	page *gzipped

	// For a signed-in skeleton: the body cut at its placeholders, once.
	cutOnce sync.Once
	parts   [][]byte // len(parts) == len(slots)+1
	slots   []string
	// deflated are the parts each compressed on its own (raw deflate
	// ending in a sync flush: byte-aligned, not final), made on the first
	// request that accepts gzip; see writeGzip.
	deflateOnce sync.Once
	deflated    [][]byte
	// completion are the section's completion blocks, not done and done,
	// with the CSRF token's placeholder (see completionFor).
	completionOnce sync.Once
	completion     [2]string
}

// storedBlock writes s as deflate stored blocks, none final: each a
// header of three bits (0, 00) padded to a byte, LEN and its complement,
// then at most 65,535 bytes as they are.
func storedBlock(w io.Writer, s string) {
	for len(s) > 0 {
		n := min(len(s), 0xffff)
		w.Write([]byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)})
		io.WriteString(w, s[:n])
		s = s[n:]
	}
}

// gzipHeader is a gzip member's header: deflate, no name, no time, an
// unknown system (RFC 1952).
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// writeGzip writes the skeleton filled with values as one gzip stream
// without compressing the skeleton again: its parts were deflated once,
// each ending byte-aligned (a sync flush); the values go between them as
// stored blocks; a final empty block, the CRC-32 of the whole and its
// length end it. Deflate allows blocks of any kind in a row, so the
// stream is what a single compressor could have written (RFC 1951
// 3.2.3-3.2.4). The values are small (a token, a name, the learner's
// state and answers), so leaving them uncompressed costs a few bytes,
// while compressing the page per request cost most of its throughput.
func (e *cacheEntry) writeGzip(w io.Writer, values map[string]string) {
	e.cut()
	e.deflateOnce.Do(func() {
		for _, part := range e.parts {
			var b bytes.Buffer
			if len(part) < 64 {
				storedBlock(&b, string(part)) // smaller than code tables
			} else {
				fw, _ := flate.NewWriter(&b, flate.BestCompression)
				fw.Write(part) // a bytes.Buffer does not fail
				fw.Flush()     // sync flush: byte-aligned, not the final block
			}
			e.deflated = append(e.deflated, b.Bytes())
		}
	})
	crc := crc32.NewIEEE()
	size := 0
	w.Write(gzipHeader)
	for i, part := range e.deflated {
		w.Write(part)
		crc.Write(e.parts[i])
		size += len(e.parts[i])
		if i == len(e.slots) {
			break
		}
		v := values[e.slots[i]]
		storedBlock(w, v)
		io.WriteString(crc, v)
		size += len(v)
	}
	var tail [10]byte
	tail[0], tail[1] = 0x03, 0x00 // a final, empty block with fixed codes
	binary.LittleEndian.PutUint32(tail[2:], crc.Sum32())
	binary.LittleEndian.PutUint32(tail[6:], uint32(size))
	w.Write(tail[:])
}

// slotNonce makes the signed-in skeleton's placeholders unguessable: it
// is drawn from crypto/rand when the process starts and never leaves it,
// so no course text, link or name can spell a placeholder and have it
// filled with a viewer's CSRF token or name.
var slotNonce = func() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}()

var slotRE = regexp.MustCompile(`@@tk-` + slotNonce + `-[a-z0-9]+@@`)

// cut splits the skeleton at its placeholders.
func (e *cacheEntry) cut() {
	e.cutOnce.Do(func() {
		last := 0
		for _, m := range slotRE.FindAllIndex(e.body, -1) {
			e.parts = append(e.parts, e.body[last:m[0]])
			e.slots = append(e.slots, string(e.body[m[0]:m[1]]))
			last = m[1]
		}
		e.parts = append(e.parts, e.body[last:])
	})
}

// cached answers from the cache of the current version, building the entry
// once per key. Responses carry an ETag and are revalidated by browsers.
func (h *renderCache) cached(c *fiber.Ctx, key, contentType string, build func(pub *course.Published) ([]byte, error)) error {
	e, err := h.cachedEntry(key, build)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderVary, "Accept-Language, Cookie")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, e.etag)
	if c.Get(fiber.HeaderIfNoneMatch) == e.etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, contentType)
	e.page.send(c) // never modified once built
	return nil
}

// gzipped is a body kept with its gzip form, made on the first request
// that accepts it: a page served from a cache is compressed once, not on
// every request (the compress middleware leaves alone a body that has an
// encoding already). Measured on the dashboard with wrk: compressing per
// request cut the throughput of the cached page by about nine tenths.
type gzipped struct {
	raw  []byte
	once sync.Once
	gz   []byte
}

// minGzip is the size below which a body is sent as it is.
const minGzip = 512

func (g *gzipped) send(c *fiber.Ctx) {
	c.Vary(fiber.HeaderAcceptEncoding)
	if len(g.raw) >= minGzip && c.Request().Header.HasAcceptEncoding("gzip") {
		g.once.Do(func() {
			var b bytes.Buffer
			w, _ := gzip.NewWriterLevel(&b, gzip.DefaultCompression)
			w.Write(g.raw) // a bytes.Buffer does not fail
			w.Close()
			g.gz = b.Bytes()
		})
		c.Set(fiber.HeaderContentEncoding, "gzip")
		c.Response().SetBodyRaw(g.gz)
		return
	}
	c.Response().SetBodyRaw(g.raw)
}

// cachedEntry builds an entry of the current version's cache once.
func (h *renderCache) cachedEntry(key string, build func(pub *course.Published) ([]byte, error)) (*cacheEntry, error) {
	pub := h.published()
	if pub == nil {
		return nil, fiber.ErrServiceUnavailable
	}
	mediaRev := h.mediaRev()
	cc := h.current.Load()
	if cc == nil || cc.version != pub.Version || cc.mediaRev != mediaRev {
		fresh := &pageCache{version: pub.Version, mediaRev: mediaRev}
		if h.current.CompareAndSwap(cc, fresh) {
			cc = fresh
		} else {
			cc = h.current.Load()
		}
	}
	v, ok := cc.entries.Load(key)
	if !ok { // a new entry only on a miss: this is every cached request's path
		v, _ = cc.entries.LoadOrStore(key, &cacheEntry{})
	}
	e := v.(*cacheEntry)
	e.once.Do(func() {
		e.body, e.err = build(pub)
		e.page = &gzipped{raw: e.body}
		e.etag = `"` + strconv.FormatInt(pub.Version, 36) + "." + strconv.FormatInt(mediaRev, 36) + "-" + strconv.FormatUint(fnv(key), 36) + `"`
	})
	if e.err != nil {
		cc.entries.Delete(key) // retry next time
		return nil, e.err
	}
	return e, nil
}

// mediaRev is the media catalog's revision (0 without a library).
func (h *renderCache) mediaRev() int64 {
	if h.media == nil {
		return 0
	}
	return h.media.Snapshot().Rev
}

// fnv is FNV-1a, to make cache keys into short ETag parts.
func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// req is one page request: its language and, when signed in, who asks.
type req struct {
	// core renders the page in the site layout (core.renderPage).
	core   *core
	ctx    context.Context
	Lang   string
	Viewer *viewer // nil for anonymous requests (cached pages)
	CSRF   string
}

// render renders a page for the request.
func (r *req) render(name, path string, p page) ([]byte, error) {
	p.Viewer, p.CSRF = r.Viewer, r.CSRF
	return r.core.renderPage(name, r.Lang, path, p)
}

// htmlPage serves an HTML page in the chosen language: from the cache for
// anonymous visitors, rendered for the signed-in (their header, progress
// and answers are theirs alone, and never cached).
func (h *renderCache) htmlPage(c *fiber.Ctx, build func(pub *course.Published, r *req) ([]byte, error)) error {
	lang := h.lang(c)
	if h.hasSessionCredential(c) {
		if v := h.viewerOf(c); v.signedIn() {
			pub := h.published()
			if pub == nil {
				return fiber.ErrServiceUnavailable
			}
			body, err := build(pub, &req{core: h.core, ctx: c.UserContext(), Lang: lang, Viewer: v, CSRF: v.Session.CSRF})
			if err != nil {
				return err
			}
			return sendPrivate(c, body)
		}
	}
	path := c.Path()
	return h.cached(c, lang+" "+path, fiber.MIMETextHTMLCharsetUTF8, func(pub *course.Published) ([]byte, error) {
		return build(pub, &req{core: h.core, ctx: context.Background(), Lang: lang})
	})
}

// sendPrivate answers a page that belongs to one person: never cached.
func sendPrivate(c *fiber.Ctx, body []byte) error {
	sendPrivateHeaders(c)
	c.Response().SetBodyRaw(body)
	return nil
}

// sendPrivateHeaders are sendPrivate's headers.
func sendPrivateHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
}
