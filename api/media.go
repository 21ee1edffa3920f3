package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/media"
)

// Media delivery modes.
const (
	DeliverPresigned = "presign"
	DeliverProxy     = "proxy"
)

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

// mediaView builds the API view; url is presigned in presign mode.
func (s *Server) mediaView(ctx context.Context, it *media.Item) (*apiMedia, error) {
	out := &apiMedia{Item: it, URL: s.opts.BaseURL + mediaFileURL(it.ID), Tracks: []apiTrack{}, UsedIn: []apiLink{}, Available: s.storageUp(ctx)}
	if s.opts.MediaDelivery != DeliverProxy && it.ContentType != "image/svg+xml" {
		u, err := s.media.PresignedURL(ctx, it.Object, s.urlTTL(), "")
		if err != nil {
			return nil, err
		}
		out.URL = u
	}
	if it.Poster != nil {
		out.Poster = s.opts.BaseURL + mediaPosterURL(it.ID)
	}
	for _, c := range it.Captions {
		out.Tracks = append(out.Tracks, apiTrack{Lang: c.Lang, Label: trackLabel(c.Lang), URL: s.opts.BaseURL + mediaTrackURL(it.ID, c.Lang), Cues: len(c.Cues)})
	}
	if len(it.Captions) > 0 {
		out.Transcript = s.opts.BaseURL + mediaTranscriptURL(it.ID)
	}
	if pub := s.published(); pub != nil {
		for _, sec := range pub.Course.MediaUses(it.ID) {
			out.UsedIn = append(out.UsedIn, apiLink{sec.URL(), sec.Title})
		}
	}
	return out, nil
}

func (s *Server) urlTTL() time.Duration {
	if s.opts.MediaURLTTL > 0 {
		return s.opts.MediaURLTTL
	}
	return 30 * time.Minute
}

// storageUp is the object store's health, checked at most every 2 s.
func (s *Server) storageUp(ctx context.Context) bool {
	s.storageMu.Lock()
	defer s.storageMu.Unlock()
	if time.Since(s.storageAt) < 2*time.Second {
		return s.storageOK
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.CheckTimeout)
	defer cancel()
	s.storageOK = s.opts.Storage == nil || s.opts.Storage.Ping(cctx) == nil
	s.storageAt = time.Now()
	return s.storageOK
}

type storageHealth struct {
	storageMu sync.Mutex
	storageAt time.Time
	storageOK bool
}

// apiMediaList lists the media items: to authors and administrators all
// of them with who uploaded each; to everyone else only the items the
// published course uses, without the uploader.
func (s *Server) apiMediaList(c *fiber.Ctx) error {
	items, err := s.media.List(c.UserContext())
	if err != nil {
		return err
	}
	author := s.can(c, account.EditContent)
	out := make([]*apiMedia, 0, len(items))
	for _, it := range items {
		v, err := s.mediaView(c.UserContext(), it)
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
	return c.JSON(fiber.Map{"items": out, "max_size": s.media.MaxSize(), "delivery": s.deliveryMode()})
}

func (s *Server) deliveryMode() string {
	if s.opts.MediaDelivery == DeliverProxy {
		return DeliverProxy
	}
	return DeliverPresigned
}

func (s *Server) mediaItem(c *fiber.Ctx) (*media.Item, error) {
	id := c.Params("media")
	if !media.ValidID(id) {
		return nil, fiber.ErrNotFound
	}
	it, err := s.media.Get(c.UserContext(), id)
	if errors.Is(err, media.ErrNotFound) {
		return nil, fiber.ErrNotFound
	}
	return it, err
}

func (s *Server) apiMediaGet(c *fiber.Ctx) error {
	it, err := s.mediaItem(c)
	if err != nil {
		return err
	}
	v, err := s.mediaView(c.UserContext(), it)
	if err != nil {
		return err
	}
	if !s.can(c, account.EditContent) {
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
func (s *Server) uploadForm(c *fiber.Ctx, boundary string) (map[string]string, io.Reader, error) {
	v := s.viewerOf(c)
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
			if !v.Bearer && !s.validCSRF(v, fields["csrf"]) && !s.validCSRF(v, c.Get("X-CSRF-Token")) {
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
func (s *Server) readUpload(c *fiber.Ctx) (media.Upload, error) {
	v := s.viewerOf(c)
	up := media.Upload{Title: c.Query("title"), ID: c.Query("id"), Uploader: v.User.ID}
	ctype, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ctype == "multipart/form-data" {
		fields, file, err := s.uploadForm(c, params["boundary"])
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
	if !v.Bearer && !s.validCSRF(v, c.Get("X-CSRF-Token")) {
		return up, fiber.NewError(fiber.StatusForbidden, "send the X-CSRF-Token header of your session")
	}
	if c.Request().Header.ContentLength() == 0 {
		return up, fiber.NewError(fiber.StatusBadRequest, "the body is empty: send the file as the request body or as a multipart form")
	}
	if n := int64(c.Request().Header.ContentLength()); n > s.media.MaxSize() {
		return up, media.ErrTooLarge.With(media.FormatSize(s.media.MaxSize()))
	}
	up.Body = uploadBody(c)
	return up, nil
}

// apiMediaUpload stores a new media file and answers its metadata.
func (s *Server) apiMediaUpload(c *fiber.Ctx) error {
	up, err := s.readUpload(c)
	if err != nil {
		return err
	}
	it, err := s.media.Put(c.UserContext(), up)
	if err != nil {
		return err
	}
	s.audit(c, "media.upload", it.ID, it.Title)
	view, err := s.mediaView(c.UserContext(), it)
	if err != nil {
		return err
	}
	c.Location("/api/v1/media/" + it.ID)
	return c.Status(fiber.StatusCreated).JSON(view)
}

func (s *Server) apiMediaCaptions(c *fiber.Ctx) error {
	it, err := s.mediaItem(c)
	if err != nil {
		return err
	}
	lang := c.Params("lang")
	data, err := io.ReadAll(io.LimitReader(uploadBody(c), media.MaxCaptionBytes+1))
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "reading the body failed")
	}
	it, err = s.media.SetCaptions(c.UserContext(), it.ID, lang, data)
	if err != nil {
		return err
	}
	s.audit(c, "media.captions", it.ID, lang)
	view, err := s.mediaView(c.UserContext(), it)
	if err != nil {
		return err
	}
	return c.JSON(view)
}

func (s *Server) apiMediaPoster(c *fiber.Ctx) error {
	it, err := s.mediaItem(c)
	if err != nil {
		return err
	}
	it, err = s.media.SetPoster(c.UserContext(), it.ID, uploadBody(c))
	if err != nil {
		return err
	}
	s.audit(c, "media.poster", it.ID, "")
	view, err := s.mediaView(c.UserContext(), it)
	if err != nil {
		return err
	}
	return c.JSON(view)
}

func (s *Server) mediaPlaces(id string) []string {
	var places []string
	if pub := s.published(); pub != nil {
		for _, sec := range pub.Course.MediaUses(id) {
			places = append(places, sec.URL())
		}
	}
	return places
}

func (s *Server) apiMediaDelete(c *fiber.Ctx) error {
	it, err := s.mediaItem(c)
	if err != nil {
		return err
	}
	if err := s.media.Delete(c.UserContext(), it.ID, s.mediaPlaces(it.ID)); err != nil {
		return err
	}
	s.audit(c, "media.delete", it.ID, it.Title)
	return c.SendStatus(fiber.StatusNoContent)
}

// snapshotItem finds a playable item in the catalog snapshot (no database
// round trip on the hot path).
func (s *Server) snapshotItem(c *fiber.Ctx) (*media.Item, error) {
	id := c.Params("media")
	if !media.ValidID(id) || s.media == nil {
		return nil, fiber.ErrNotFound
	}
	it, ok := s.media.Snapshot().Items[id]
	if !ok {
		return nil, fiber.ErrNotFound
	}
	return it, nil
}

// mediaFile answers with the file: a redirect to a presigned address, or
// the bytes through this server (proxy mode, and SVG images, which need
// this server's sandboxing headers).
func (s *Server) mediaFile(c *fiber.Ctx) error {
	it, err := s.snapshotItem(c)
	if err != nil {
		return err
	}
	return s.deliver(c, it.Object, it.ID+extOf(it.ContentType))
}

func (s *Server) mediaPoster(c *fiber.Ctx) error {
	it, err := s.snapshotItem(c)
	if err != nil {
		return err
	}
	if it.Poster == nil {
		return fiber.ErrNotFound
	}
	return s.deliver(c, *it.Poster, it.ID+"-kansikuva"+extOf(it.Poster.ContentType))
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

func (s *Server) deliver(c *fiber.Ctx, obj media.Object, filename string) error {
	if s.opts.MediaDelivery != DeliverProxy && obj.ContentType != "image/svg+xml" {
		u, err := s.media.PresignedURL(c.UserContext(), obj, s.urlTTL(), filename)
		if err != nil {
			return err
		}
		// The redirect may be reused by the browser while the link lives.
		c.Set(fiber.HeaderCacheControl, "private, max-age="+strconv.Itoa(int(s.urlTTL().Seconds())/2))
		return c.Redirect(u, fiber.StatusFound)
	}
	return s.proxyObject(c, obj, filename)
}

// proxyObject streams an object with full Range support (RFC 9110): 206
// with Content-Range, multipart/byteranges for several ranges, If-Range,
// 416, conditional 304. Nothing is buffered: MinIO's response is copied to
// the client as it arrives.
func (s *Server) proxyObject(c *fiber.Ctx, obj media.Object, filename string) error {
	etag := `"` + obj.SHA256 + `"`
	h := &c.Response().Header
	h.Set(fiber.HeaderETag, etag)
	h.Set(fiber.HeaderAcceptRanges, "bytes")
	h.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	h.Set(fiber.HeaderContentDisposition, `inline; filename="`+filename+`"`)
	if obj.ContentType == "image/svg+xml" {
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; sandbox")
	}
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatch(inm, etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	ranges, err := parseRange(c.Get(fiber.HeaderRange), obj.Size)
	if ir := c.Get(fiber.HeaderIfRange); ir != "" && ir != etag {
		ranges, err = nil, nil // the representation changed: send it whole
	}
	if errors.Is(err, errUnsatisfiable) {
		h.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(obj.Size, 10))
		return fiber.NewError(fiber.StatusRequestedRangeNotSatisfiable, "the range is outside the file")
	}
	head := c.Method() == fiber.MethodHead
	switch {
	case len(ranges) == 0:
		h.SetContentType(obj.ContentType)
		if head {
			h.SetContentLength(int(obj.Size))
			return nil
		}
		return s.streamObject(c, obj.Key, 0, -1, obj.Size)
	case len(ranges) == 1:
		r := ranges[0]
		c.Status(fiber.StatusPartialContent)
		h.SetContentType(obj.ContentType)
		h.Set(fiber.HeaderContentRange, r.contentRange(obj.Size))
		if head {
			h.SetContentLength(int(r.length()))
			return nil
		}
		return s.streamObject(c, obj.Key, r.start, r.end, r.length())
	}
	// Several ranges: one multipart/byteranges body, each part read from
	// the store in turn.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	boundary := mw.Boundary()
	c.Status(fiber.StatusPartialContent)
	h.SetContentType("multipart/byteranges; boundary=" + boundary)
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
			body, err := s.media.Open(ctx, obj.Key, r.start, r.end)
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

func (s *Server) streamObject(c *fiber.Ctx, key string, start, end, length int64) error {
	body, err := s.media.Open(context.WithoutCancel(c.UserContext()), key, start, end)
	if errors.Is(err, media.ErrUnavailable) {
		return err // 503 with Retry-After (storeFault)
	}
	if err != nil {
		s.log.Error("media: opening an object", "key", key, "err", err)
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

// mediaCaptions serves a captions track from this server's origin (a
// <track> must be same-origin or CORS-enabled).
func (s *Server) mediaCaptions(c *fiber.Ctx) error {
	it, err := s.snapshotItem(c)
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
	return s.sendText(c, "text/vtt; charset=utf-8", `"`+cap.SHA256+`"`, media.WriteVTT(cap.Cues))
}

// mediaTranscript serves the captions as plain text for download.
func (s *Server) mediaTranscript(c *fiber.Ctx) error {
	it, err := s.snapshotItem(c)
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
	return s.sendText(c, "text/plain; charset=utf-8", `"t`+cap.SHA256+`"`, []byte(media.Transcript(it.Title, cap.Cues)))
}

func (s *Server) sendText(c *fiber.Ctx, ctype, etag string, body []byte) error {
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	if etagMatch(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, ctype)
	return c.Send(body)
}

// mediaStatus tells the player whether a failed load is the store's fault.
func (s *Server) mediaStatus(c *fiber.Ctx) error {
	if _, err := s.snapshotItem(c); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !s.storageUp(c.UserContext()) {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"available": false})
	}
	return c.JSON(fiber.Map{"available": true})
}

// limitBodies refuses bodies over the in-memory limit everywhere but on
// the upload routes: the server streams large bodies instead of refusing
// them, so that uploads need not fit in memory.
func (s *Server) limitBodies(c *fiber.Ctx) error {
	if s.isUploadRoute(c) {
		// A declared length over the limit is refused at once, before the
		// body is waited for (a client that declares 3 GB and sends
		// nothing must not hold the connection until the read timeout).
		s.oversize.Delete(&c.Request().Header) // the handler runs: no error to answer for it
		if n := int64(c.Request().Header.ContentLength()); s.media != nil && n > s.media.MaxSize()+formAllowance {
			c.Response().SetConnectionClose()
			return media.ErrTooLarge.With(media.FormatSize(s.media.MaxSize()))
		}
		// A refused upload leaves its body unread on the connection: a
		// bounded remainder is drained (lingerBody), then it closes
		// rather than misparse the rest as another request.
		err := c.Next()
		if err != nil {
			if herr := s.handleError(c, err); herr != nil {
				return herr
			}
		}
		if c.Response().StatusCode() >= 400 {
			lingerBody(c)
			c.Response().SetConnectionClose()
		}
		return nil
	}
	if !c.Request().IsBodyStream() {
		return c.Next()
	}
	data, err := io.ReadAll(io.LimitReader(c.Context().RequestBodyStream(), bodyLimit+1))
	if err != nil || len(data) > bodyLimit {
		lingerBody(c)
		c.Response().SetConnectionClose()
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", bodyLimit))
	}
	c.Request().SetBodyRaw(data)
	return c.Next()
}

// lingerBody reads and discards up to lingerLimit more bytes of a refused
// body before the connection closes. Closing a socket with unread data
// makes the kernel send a reset, which can destroy the refusal before the
// client reads it; like a web server's lingering close, a modest
// remainder is drained so the client sees the 413, while a huge one is
// cut off instead of being read to the end.
func lingerBody(c *fiber.Ctx) {
	if !c.Request().IsBodyStream() {
		return
	}
	// Bounded in time too: a client that stops sending is not waited for
	// (the connection closes after this anyway).
	if conn := c.Context().Conn(); conn != nil {
		_ = conn.SetReadDeadline(time.Now().Add(lingerTime))
	}
	io.CopyN(io.Discard, c.Context().RequestBodyStream(), lingerLimit) //nolint:errcheck // best effort
}

// lingerLimit and lingerTime bound what lingerBody discards.
const (
	lingerLimit = 16 << 20
	lingerTime  = 2 * time.Second
)

// refuseDeclaredOversize answers 413 at once to a request whose declared
// Content-Length is over the largest upload. fasthttp reads the first
// bytes of a streamed body before any handler runs, so without this a
// client that declares 3 GB and sends nothing held the connection until
// the read timeout (30 s, then 408). Such a request may read one byte
// (then limitBodies refuses it) and waits at most lingerTime for it;
// when it times out, the 413 is written here.
func (s *Server) refuseDeclaredOversize() {
	if s.media == nil {
		return
	}
	srv := s.app.Server()
	srv.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		// fasthttp resets the request when reading its body fails, so the
		// verdict is kept by the header (one per pooled request context,
		// set or cleared for every request) for the error handler.
		if int64(h.ContentLength()) > s.media.MaxSize()+formAllowance {
			s.oversize.Store(h, struct{}{})
			return fasthttp.RequestConfig{MaxRequestBodySize: 1, ReadTimeout: lingerTime}
		}
		s.oversize.Delete(h)
		return fasthttp.RequestConfig{}
	}
	inner := srv.ErrorHandler
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		if _, over := s.oversize.LoadAndDelete(&ctx.Request.Header); !over {
			inner(ctx, err)
			return
		}
		body, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(http.StatusRequestEntityTooLarge),
			Status: http.StatusRequestEntityTooLarge, Detail: media.ErrTooLarge.With(media.FormatSize(s.media.MaxSize())).Error(), Ext: map[string]any{"code": media.ErrTooLarge.Code}})
		ctx.Response.Reset()
		ctx.SetStatusCode(http.StatusRequestEntityTooLarge)
		ctx.SetContentType("application/problem+json")
		ctx.SetBody(body)
		ctx.SetConnectionClose()
	}
}

// formAllowance is what a multipart upload may carry beyond the file
// itself (boundaries, part headers, the title and id fields).
const formAllowance = 1 << 20

// bodyLimit is the largest body read into memory.
const bodyLimit = 4 << 20

func (s *Server) isUploadRoute(c *fiber.Ctx) bool {
	p := c.Path()
	if !strings.HasPrefix(p, "/api/v1/media") && p != "/studio/media" {
		return false
	}
	m := c.Method()
	return (m == fiber.MethodPost && (p == "/api/v1/media" || p == "/api/v1/media/" || p == "/studio/media")) ||
		(m == fiber.MethodPut && (strings.Contains(p, "/captions/") || strings.HasSuffix(p, "/poster")))
}
