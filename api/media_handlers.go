package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/media"
)

// Media delivery modes.
const (
	DeliverPresigned = "presign"
	DeliverProxy     = "proxy"
)

// mediaHandlers serve the media library: the JSON API (list, get,
// upload, captions, poster, delete) and the files, posters, captions and
// transcripts players load.
type mediaHandlers struct {
	*core
	catalog *media.Catalog
	// siteURL is the public address (links in the API's views).
	siteURL string
	// delivery is presign or proxy, ttl the lifetime of presigned links
	// (0: 30 minutes).
	delivery string
	ttl      time.Duration
	// storage is the object store whose health the views and the player
	// are told, each check bounded by checkTimeout.
	storage      Pinger
	checkTimeout time.Duration
	storageHealth
}

// apiMedia is a media item as the API shows it.
type apiMedia struct {
	*media.Item
	URL        string     `json:"url"`
	Poster     string     `json:"poster,omitempty"`
	Tracks     []apiTrack `json:"captions"`
	Transcript string     `json:"transcript,omitempty"`
	UsedIn     []apiLink  `json:"used_in"`
	Available  bool       `json:"available"`
}

// public is the view for those who are not authors: without the
// uploader's user id (the item itself is shared, so it is copied).
func (v *apiMedia) public() *apiMedia {
	item := *v.Item
	item.Uploader = ""
	out := *v
	out.Item = &item
	return &out
}

type apiTrack struct {
	Lang  string `json:"lang"`
	Label string `json:"label"`
	URL   string `json:"url"`
	Cues  int    `json:"cues"`
}

var langLabels = map[string]string{"fi": "Suomi", "sv": "Svenska", "en": "English"}

func trackLabel(lang string) string {
	if l, ok := langLabels[lang]; ok {
		return l
	}
	return lang
}

func mediaFileURL(id string) string   { return "/media/" + id + "/tiedosto" }
func mediaPosterURL(id string) string { return "/media/" + id + "/kansikuva" }
func mediaTrackURL(id, lang string) string {
	return "/media/" + id + "/tekstitys/" + lang + ".vtt"
}
func mediaTranscriptURL(id string) string { return "/media/" + id + "/litterointi.txt" }

// view builds the API view; url is presigned in presign mode.
func (h *mediaHandlers) view(ctx context.Context, it *media.Item) (*apiMedia, error) {
	out := &apiMedia{Item: it, URL: h.siteURL + mediaFileURL(it.ID), Tracks: []apiTrack{}, UsedIn: []apiLink{}, Available: h.storageUp(ctx)}
	if h.delivery != DeliverProxy && it.ContentType != "image/svg+xml" {
		u, err := h.catalog.PresignedURL(ctx, it.Object, h.urlTTL(), "")
		if err != nil {
			return nil, err
		}
		out.URL = u
	}
	if it.Poster != nil {
		out.Poster = h.siteURL + mediaPosterURL(it.ID)
	}
	for _, c := range it.Captions {
		out.Tracks = append(out.Tracks, apiTrack{Lang: c.Lang, Label: trackLabel(c.Lang), URL: h.siteURL + mediaTrackURL(it.ID, c.Lang), Cues: len(c.Cues)})
	}
	if len(it.Captions) > 0 {
		out.Transcript = h.siteURL + mediaTranscriptURL(it.ID)
	}
	if pub := h.published(); pub != nil {
		for _, sec := range pub.Course.MediaUses(it.ID) {
			out.UsedIn = append(out.UsedIn, apiLink{sec.URL(), sec.Title})
		}
	}
	return out, nil
}

func (h *mediaHandlers) urlTTL() time.Duration {
	if h.ttl > 0 {
		return h.ttl
	}
	return 30 * time.Minute
}

// storageUp is the object store's health, checked at most every 2 s.
func (h *mediaHandlers) storageUp(ctx context.Context) bool {
	h.storageMu.Lock()
	defer h.storageMu.Unlock()
	if time.Since(h.storageAt) < 2*time.Second {
		return h.storageOK
	}
	cctx, cancel := context.WithTimeout(ctx, h.checkTimeout)
	defer cancel()
	h.storageOK = h.storage == nil || h.storage.Ping(cctx) == nil
	h.storageAt = time.Now()
	return h.storageOK
}

type storageHealth struct {
	storageMu sync.Mutex
	storageAt time.Time
	storageOK bool
}

// apiList lists the media items: to authors and administrators all
// of them with who uploaded each; to everyone else only the items the
// published course uses, without the uploader.
func (h *mediaHandlers) apiList(c *fiber.Ctx) error {
	items, err := h.catalog.List(c.UserContext())
	if err != nil {
		return err
	}
	author := h.can(c, account.EditContent)
	out := make([]*apiMedia, 0, len(items))
	for _, it := range items {
		v, err := h.view(c.UserContext(), it)
		if err != nil {
			return err
		}
		if !author {
			if len(v.UsedIn) == 0 {
				continue
			}
			v = v.public()
		}
		out = append(out, v)
	}
	c.Set(fiber.HeaderCacheControl, "no-store") // the links expire
	return c.JSON(fiber.Map{"items": out, "max_size": h.catalog.MaxSize(), "delivery": h.deliveryMode()})
}

func (h *mediaHandlers) deliveryMode() string {
	if h.delivery == DeliverProxy {
		return DeliverProxy
	}
	return DeliverPresigned
}

func (h *mediaHandlers) item(c *fiber.Ctx) (*media.Item, error) {
	id := c.Params("media")
	if !media.ValidID(id) {
		return nil, fiber.ErrNotFound
	}
	it, err := h.catalog.Get(c.UserContext(), id)
	if errors.Is(err, media.ErrNotFound) {
		return nil, fiber.ErrNotFound
	}
	return it, err
}

func (h *mediaHandlers) apiGet(c *fiber.Ctx) error {
	it, err := h.item(c)
	if err != nil {
		return err
	}
	v, err := h.view(c.UserContext(), it)
	if err != nil {
		return err
	}
	if !h.can(c, account.EditContent) {
		if len(v.UsedIn) == 0 {
			return fiber.ErrNotFound // not published: as if it were not there
		}
		v = v.public()
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}

// uploadBody is the request body as a stream: large bodies are never read
// into memory (the server streams bodies over its in-memory limit).
func uploadBody(c *fiber.Ctx) io.Reader {
	if c.Request().IsBodyStream() {
		r := c.Context().RequestBodyStream()
		if conn := c.Context().Conn(); conn != nil {
			return &deadlineReader{r: r, conn: conn}
		}
		return r
	}
	return bytes.NewReader(c.Body())
}

// deadlineReader keeps extending the connection's read deadline while an
// upload makes progress, so a large upload on a slow line is limited by
// idleness, not by the server's read timeout.
type deadlineReader struct {
	r    io.Reader
	conn net.Conn
	last time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(d.last) > time.Second {
		_ = d.conn.SetReadDeadline(now.Add(time.Minute))
		d.last = now
	}
	return d.r.Read(p)
}

// uploadForm reads a streamed multipart form: the small fields that come
// before the file part (at most 1 KiB each), then the file part itself as
// a stream, which the caller reads. The session's token is checked before
// any of the file is read.
func (h *mediaHandlers) uploadForm(c *fiber.Ctx, boundary string) (map[string]string, io.Reader, error) {
	v := h.viewerOf(c)
	mr := multipart.NewReader(uploadBody(c), boundary)
	fields := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, nil, fiber.NewError(fiber.StatusBadRequest, "the form has no file part named file")
		}
		if err != nil {
			return nil, nil, fiber.NewError(fiber.StatusBadRequest, "the multipart form is malformed: "+err.Error())
		}
		name := part.FormName()
		if name == "file" {
			if !v.Bearer && !h.validCSRF(v, fields["csrf"]) && !h.validCSRF(v, c.Get("X-CSRF-Token")) {
				return nil, nil, fiber.NewError(fiber.StatusForbidden, "the form has expired: reload the page and try again")
			}
			return fields, part, nil
		}
		value, err := io.ReadAll(io.LimitReader(part, 1024))
		if err != nil {
			return nil, nil, fiber.NewError(fiber.StatusBadRequest, "the multipart form is malformed")
		}
		fields[name] = string(value)
	}
}

// readUpload turns a request into an upload: the file as the body (title
// and id in the query, the token in X-CSRF-Token) or a multipart form with
// the fields csrf, title and id before the file part.
func (h *mediaHandlers) readUpload(c *fiber.Ctx) (media.Upload, error) {
	v := h.viewerOf(c)
	up := media.Upload{Title: c.Query("title"), ID: c.Query("id"), Uploader: v.User.ID}
	ctype, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ctype == "multipart/form-data" {
		fields, file, err := h.uploadForm(c, params["boundary"])
		if err != nil {
			return up, err
		}
		if t, ok := fields["title"]; ok {
			up.Title = t
		}
		if id, ok := fields["id"]; ok {
			up.ID = strings.TrimSpace(id)
		}
		up.Body = file
		return up, nil
	}
	if !v.Bearer && !h.validCSRF(v, c.Get("X-CSRF-Token")) {
		return up, fiber.NewError(fiber.StatusForbidden, "send the X-CSRF-Token header of your session")
	}
	if c.Request().Header.ContentLength() == 0 {
		return up, fiber.NewError(fiber.StatusBadRequest, "the body is empty: send the file as the request body or as a multipart form")
	}
	if n := int64(c.Request().Header.ContentLength()); n > h.catalog.MaxSize() {
		return up, media.ErrTooLarge.With(media.FormatSize(h.catalog.MaxSize()))
	}
	up.Body = uploadBody(c)
	return up, nil
}

// apiUpload stores a new media file and answers its metadata.
func (h *mediaHandlers) apiUpload(c *fiber.Ctx) error {
	up, err := h.readUpload(c)
	if err != nil {
		return err
	}
	it, err := h.catalog.Put(c.UserContext(), up)
	if err != nil {
		return err
	}
	h.audit(c, "media.upload", it.ID, it.Title)
	view, err := h.view(c.UserContext(), it)
	if err != nil {
		return err
	}
	c.Location("/api/v1/media/" + it.ID)
	return c.Status(fiber.StatusCreated).JSON(view)
}

func (h *mediaHandlers) apiCaptions(c *fiber.Ctx) error {
	it, err := h.item(c)
	if err != nil {
		return err
	}
	lang := c.Params("lang")
	data, err := io.ReadAll(io.LimitReader(uploadBody(c), media.MaxCaptionBytes+1))
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "reading the body failed")
	}
	it, err = h.catalog.SetCaptions(c.UserContext(), it.ID, lang, data)
	if err != nil {
		return err
	}
	h.audit(c, "media.captions", it.ID, lang)
	view, err := h.view(c.UserContext(), it)
	if err != nil {
		return err
	}
	return c.JSON(view)
}

func (h *mediaHandlers) apiPoster(c *fiber.Ctx) error {
	it, err := h.item(c)
	if err != nil {
		return err
	}
	it, err = h.catalog.SetPoster(c.UserContext(), it.ID, uploadBody(c))
	if err != nil {
		return err
	}
	h.audit(c, "media.poster", it.ID, "")
	view, err := h.view(c.UserContext(), it)
	if err != nil {
		return err
	}
	return c.JSON(view)
}

func (h *mediaHandlers) places(id string) []string {
	var places []string
	if pub := h.published(); pub != nil {
		for _, sec := range pub.Course.MediaUses(id) {
			places = append(places, sec.URL())
		}
	}
	return places
}

func (h *mediaHandlers) apiDelete(c *fiber.Ctx) error {
	it, err := h.item(c)
	if err != nil {
		return err
	}
	if err := h.catalog.Delete(c.UserContext(), it.ID, h.places(it.ID)); err != nil {
		return err
	}
	h.audit(c, "media.delete", it.ID, it.Title)
	return c.SendStatus(fiber.StatusNoContent)
}

// snapshotItem finds a playable item in the catalog snapshot (no database
// round trip on the hot path).
func (h *mediaHandlers) snapshotItem(c *fiber.Ctx) (*media.Item, error) {
	id := c.Params("media")
	if !media.ValidID(id) || h.catalog == nil {
		return nil, fiber.ErrNotFound
	}
	it, ok := h.catalog.Snapshot().Items[id]
	if !ok {
		return nil, fiber.ErrNotFound
	}
	return it, nil
}

// file answers with the file: a redirect to a presigned address, or
// the bytes through this server (proxy mode, and SVG images, which need
// this server's sandboxing headers).
func (h *mediaHandlers) file(c *fiber.Ctx) error {
	it, err := h.snapshotItem(c)
	if err != nil {
		return err
	}
	return h.deliver(c, it.Object, it.ID+extOf(it.ContentType))
}

func (h *mediaHandlers) poster(c *fiber.Ctx) error {
	it, err := h.snapshotItem(c)
	if err != nil {
		return err
	}
	if it.Poster == nil {
		return fiber.ErrNotFound
	}
	return h.deliver(c, *it.Poster, it.ID+"-kansikuva"+extOf(it.Poster.ContentType))
}

func extOf(contentType string) string {
	switch strings.SplitN(contentType, ";", 2)[0] {
	case "video/mp4":
		return ".mp4"
	case "video/webm":
		return ".webm"
	case "audio/mpeg":
		return ".mp3"
	case "audio/mp4":
		return ".m4a"
	case "audio/ogg":
		return ".ogg"
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	case "image/svg+xml":
		return ".svg"
	}
	return ""
}

func (h *mediaHandlers) deliver(c *fiber.Ctx, obj media.Object, filename string) error {
	// ?laitteelle=1: the service worker saves the file for offline use;
	// it may fetch only from this origin (the CSP's connect-src), so the
	// file comes through the server like in proxy mode.
	if h.delivery != DeliverProxy && obj.ContentType != "image/svg+xml" && c.Query("laitteelle") == "" {
		u, err := h.catalog.PresignedURL(c.UserContext(), obj, h.urlTTL(), filename)
		if err != nil {
			return err
		}
		// The redirect may be reused by the browser while the link lives.
		c.Set(fiber.HeaderCacheControl, "private, max-age="+strconv.Itoa(int(h.urlTTL().Seconds())/2))
		return c.Redirect(u, fiber.StatusFound)
	}
	return h.proxyObject(c, obj, filename)
}

// proxyObject streams an object with full Range support (RFC 9110): 206
// with Content-Range, multipart/byteranges for several ranges, If-Range,
// 416, conditional 304. Nothing is buffered: MinIO's response is copied to
// the client as it arrives.
func (h *mediaHandlers) proxyObject(c *fiber.Ctx, obj media.Object, filename string) error {
	etag := `"` + obj.SHA256 + `"`
	hdr := &c.Response().Header
	hdr.Set(fiber.HeaderETag, etag)
	hdr.Set(fiber.HeaderAcceptRanges, "bytes")
	hdr.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	hdr.Set(fiber.HeaderContentDisposition, `inline; filename="`+filename+`"`)
	if obj.ContentType == "image/svg+xml" {
		hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; sandbox")
	}
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatch(inm, etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	ranges, err := parseRange(c.Get(fiber.HeaderRange), obj.Size)
	if ir := c.Get(fiber.HeaderIfRange); ir != "" && ir != etag {
		ranges, err = nil, nil // the representation changed: send it whole
	}
	if errors.Is(err, errUnsatisfiable) {
		hdr.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(obj.Size, 10))
		return fiber.NewError(fiber.StatusRequestedRangeNotSatisfiable, "the range is outside the file")
	}
	head := c.Method() == fiber.MethodHead
	switch {
	case len(ranges) == 0:
		hdr.SetContentType(obj.ContentType)
		if head {
			hdr.SetContentLength(int(obj.Size))
			return nil
		}
		return h.streamObject(c, obj.Key, 0, -1, obj.Size)
	case len(ranges) == 1:
		r := ranges[0]
		c.Status(fiber.StatusPartialContent)
		hdr.SetContentType(obj.ContentType)
		hdr.Set(fiber.HeaderContentRange, r.contentRange(obj.Size))
		if head {
			hdr.SetContentLength(int(r.length()))
			return nil
		}
		return h.streamObject(c, obj.Key, r.start, r.end, r.length())
	}
	// Several ranges: one multipart/byteranges body, each part read from
	// the store in turn.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	boundary := mw.Boundary()
	c.Status(fiber.StatusPartialContent)
	hdr.SetContentType("multipart/byteranges; boundary=" + boundary)
	if head {
		return nil
	}
	pr, pw := io.Pipe()
	ctx := c.UserContext()
	go func() {
		mw := multipart.NewWriter(pw)
		_ = mw.SetBoundary(boundary)
		for _, r := range ranges {
			part, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":  {obj.ContentType},
				"Content-Range": {r.contentRange(obj.Size)},
			})
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			body, err := h.catalog.Open(ctx, obj.Key, r.start, r.end)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			_, err = io.Copy(part, body)
			body.Close()
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	c.Context().SetBodyStream(pr, -1)
	return nil
}

func (h *mediaHandlers) streamObject(c *fiber.Ctx, key string, start, end, length int64) error {
	body, err := h.catalog.Open(context.WithoutCancel(c.UserContext()), key, start, end)
	if errors.Is(err, media.ErrUnavailable) {
		return err // 503 with Retry-After (storeFault)
	}
	if err != nil {
		h.log.Error("media: opening an object", "key", key, "err", err)
		c.Set(fiber.HeaderRetryAfter, "30")
		return fiber.NewError(fiber.StatusServiceUnavailable, "the media store does not answer; try again in a moment")
	}
	c.Context().SetBodyStream(body, int(length))
	return nil
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// captions serves a captions track from this server's origin (a
// <track> must be same-origin or CORS-enabled).
func (h *mediaHandlers) captions(c *fiber.Ctx) error {
	it, err := h.snapshotItem(c)
	if err != nil {
		return err
	}
	lang := strings.TrimSuffix(c.Params("track"), ".vtt")
	cap := it.Caption(lang)
	if cap == nil || !strings.HasSuffix(c.Params("track"), ".vtt") {
		return fiber.ErrNotFound
	}
	if c.Query("lataa") != "" {
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+it.ID+"-"+lang+`.vtt"`)
	}
	return h.sendText(c, "text/vtt; charset=utf-8", `"`+cap.SHA256+`"`, media.WriteVTT(cap.Cues))
}

// transcript serves the captions as plain text for download.
func (h *mediaHandlers) transcript(c *fiber.Ctx) error {
	it, err := h.snapshotItem(c)
	if err != nil {
		return err
	}
	lang := c.Query("kieli", "fi")
	cap := it.Caption(lang)
	if cap == nil && len(it.Captions) > 0 {
		cap = &it.Captions[0]
	}
	if cap == nil {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+it.ID+"-"+cap.Lang+`.txt"`)
	return h.sendText(c, "text/plain; charset=utf-8", `"t`+cap.SHA256+`"`, []byte(media.Transcript(it.Title, cap.Cues)))
}

func (h *mediaHandlers) sendText(c *fiber.Ctx, ctype, etag string, body []byte) error {
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	if etagMatch(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, ctype)
	return c.Send(body)
}

// status tells the player whether a failed load is the store's fault.
func (h *mediaHandlers) status(c *fiber.Ctx) error {
	if _, err := h.snapshotItem(c); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !h.storageUp(c.UserContext()) {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"available": false})
	}
	return c.JSON(fiber.Map{"available": true})
}
