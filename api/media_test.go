package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/media"
)

func sampleFile(t testing.TB, kind string, seconds int) []byte {
	t.Helper()
	data, err := testenv.SampleMediaBytes(t.TempDir(), kind, seconds)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// author is an administrator signed in with both factors (authors and
// administrators manage media), and the session's CSRF token.
func author(t *testing.T, r *running) (*browserClient, string) {
	t.Helper()
	b := newClient(t, r.URL)
	email := account.NewID()[:10] + "@example.fi"
	b.register(email, "Anni Author")
	signInAdmin(t, b, r.Accounts(), email)
	return b, b.csrf("/tili")
}

type mediaJSON struct {
	ID          string  `json:"id"`
	Title       string  `json:"title"`
	Kind        string  `json:"kind"`
	ContentType string  `json:"content_type"`
	Size        int64   `json:"size"`
	SHA256      string  `json:"sha256"`
	Duration    float64 `json:"duration"`
	URL         string  `json:"url"`
	Captions    []struct {
		Lang, Label, URL string
		Cues             int
	} `json:"captions"`
	UsedIn []struct {
		URL string `json:"url"`
	} `json:"used_in"`
	Available bool `json:"available"`
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return v
}

func TestMediaAPIUploadCaptionsPlayersAndDelete(t *testing.T) {
	r := start(t)
	a, token := author(t, r)
	video := sampleFile(t, "video", 3)

	// Learners cannot upload; authors need the token.
	learner := newClient(t, r.URL)
	learner.register(account.NewID()[:10]+"@example.fi", "Leo Learner")
	if resp, _ := learner.do("POST", "/api/v1/media?title=x", bytes.NewReader(video), "Content-Type", "video/mp4", "X-CSRF-Token", learner.csrf("/tili")); resp.StatusCode != 404 {
		t.Fatalf("a learner's upload = %d, want 404", resp.StatusCode)
	}
	if resp, _ := a.do("POST", "/api/v1/media?title=x", bytes.NewReader(video), "Content-Type", "video/mp4"); resp.StatusCode != 403 {
		t.Fatalf("an upload without the token = %d, want 403", resp.StatusCode)
	}

	// The file as the body: stored under the id the course uses.
	resp, body := a.do("POST", "/api/v1/media?title=Testivideo&id=m-testivideo", bytes.NewReader(video), "Content-Type", "application/octet-stream", "X-CSRF-Token", token)
	if resp.StatusCode != 201 || resp.Header.Get("Location") != "/api/v1/media/m-testivideo" {
		t.Fatalf("upload = %d %s", resp.StatusCode, body)
	}
	m := decode[mediaJSON](t, body)
	sum := sha256.Sum256(video)
	if m.Kind != "video" || m.ContentType != "video/mp4" || m.SHA256 != hex.EncodeToString(sum[:]) || m.Duration < 2.9 ||
		len(m.UsedIn) != 1 || m.UsedIn[0].URL != "/osiot/ensimmainen/alku" || !strings.Contains(m.URL, "X-Amz-Signature") {
		t.Fatalf("upload answer = %+v", m)
	}
	// Its playable url is a presigned MinIO link that serves ranges.
	resp, err := http.Get(m.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, video) {
		t.Fatal("the presigned link does not serve the upload")
	}

	// Refusals, each with its reason.
	for _, c := range []struct {
		name, ctype string
		body        []byte
		status      int
		detail      string
	}{
		{"text", "video/mp4", []byte("just text, not a video"), 415, "not a supported format"},
		{"taken id", "video/mp4", video, 409, "already exists"},
		{"no title", "video/mp4", video, 422, "title is required"},
		{"empty", "video/mp4", nil, 400, "empty"},
	} {
		q := "?title=" + url.QueryEscape(c.name) + "&id=m-testivideo"
		if c.name == "no title" {
			q = "?title="
		} else if c.name == "text" || c.name == "empty" {
			q = "?title=x"
		}
		resp, body := a.do("POST", "/api/v1/media"+q, bytes.NewReader(c.body), "Content-Type", c.ctype, "X-CSRF-Token", token)
		if resp.StatusCode != c.status || !strings.Contains(body, c.detail) || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, body)
		}
	}

	// Captions: line-numbered errors, then a good file.
	resp, body = a.do("PUT", "/api/v1/media/m-testivideo/captions/fi", strings.NewReader("WEBVTT\n\n00:00.000 -> 00:01.000\nHei\n"), "Content-Type", "text/vtt", "X-CSRF-Token", token)
	if resp.StatusCode != 422 || !strings.Contains(body, "line 3") {
		t.Fatalf("bad captions = %d %s", resp.StatusCode, body)
	}
	vtt := "WEBVTT\n\n00:00.000 --> 00:01.500\n<v Kertoja>Ensimmäinen repliikki.\n\n00:01.500 --> 00:02.900\n<v Anu>Toinen & viimeinen.\n"
	if resp, body := a.do("PUT", "/api/v1/media/m-testivideo/captions/fi", strings.NewReader(vtt), "Content-Type", "text/vtt"); resp.StatusCode != 403 {
		t.Fatalf("captions without the token = %d %s", resp.StatusCode, body)
	}
	resp, body = a.do("PUT", "/api/v1/media/m-testivideo/captions/fi", strings.NewReader(vtt), "Content-Type", "text/vtt", "X-CSRF-Token", token)
	if resp.StatusCode != 200 {
		t.Fatalf("captions = %d %s", resp.StatusCode, body)
	}
	a.do("PUT", "/api/v1/media/m-testivideo/captions/sv", strings.NewReader(strings.ReplaceAll(vtt, "repliikki", "replik")), "Content-Type", "text/vtt", "X-CSRF-Token", token)
	m = decode[mediaJSON](t, func() string { _, b := get(t, r.URL+"/api/v1/media/m-testivideo"); return b }())
	if len(m.Captions) != 2 || m.Captions[0].Lang != "fi" || m.Captions[1].Lang != "sv" || m.Captions[0].Cues != 2 {
		t.Fatalf("captions = %+v", m.Captions)
	}
	resp, track := get(t, r.URL+"/media/m-testivideo/tekstitys/fi.vtt")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/vtt; charset=utf-8" || !strings.Contains(track, "<v Anu>Toinen &amp; viimeinen.") {
		t.Fatalf("track = %d %q", resp.StatusCode, track)
	}
	resp, text := get(t, r.URL+"/media/m-testivideo/litterointi.txt")
	if resp.StatusCode != 200 || !strings.Contains(text, "Kertoja: Ensimmäinen repliikki.") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("transcript = %d %q", resp.StatusCode, text)
	}

	// The section page plays it: source, tracks (Finnish by default) and a
	// transcript whose cues seek.
	_, page := get(t, r.URL+"/osiot/ensimmainen/alku")
	for _, want := range []string{`<video id="player-m-testivideo" controls`, `<source src="/media/m-testivideo/tiedosto" type="video/mp4">`,
		`<track kind="captions" src="/media/m-testivideo/tekstitys/fi.vtt" srclang="fi" label="Suomi" default>`,
		`<track kind="captions" src="/media/m-testivideo/tekstitys/sv.vtt" srclang="sv" label="Svenska">`,
		`data-start="1.500"`, `<span class="cue-voice">Anu:</span> Toinen &amp; viimeinen.`} {
		if !strings.Contains(page, want) {
			t.Errorf("the section page lacks %q", want)
		}
	}
	resp, _ = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(r.URL + "/media/m-testivideo/tiedosto")
	if resp.StatusCode != 302 || !strings.Contains(resp.Header.Get("Location"), "X-Amz-Expires=1800") {
		t.Fatalf("file = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A poster: images only.
	if resp, body := a.do("PUT", "/api/v1/media/m-testivideo/poster", bytes.NewReader(video), "Content-Type", "image/png", "X-CSRF-Token", token); resp.StatusCode != 415 {
		t.Fatalf("a video as the poster = %d %s", resp.StatusCode, body)
	}
	if resp, body := a.do("PUT", "/api/v1/media/m-testivideo/poster", bytes.NewReader(samplePNG(t)), "Content-Type", "image/png", "X-CSRF-Token", token); resp.StatusCode != 200 || !strings.Contains(body, `"poster":"http://localhost/media/m-testivideo/kansikuva"`) {
		t.Fatalf("poster = %d %s", resp.StatusCode, body)
	}
	if _, page := get(t, r.URL+"/osiot/ensimmainen/alku"); !strings.Contains(page, `poster="/media/m-testivideo/kansikuva"`) {
		t.Error("the player has no poster")
	}

	// Used by the course: deleting is refused with the place.
	resp, body = a.do("DELETE", "/api/v1/media/m-testivideo", nil, "X-CSRF-Token", token)
	if resp.StatusCode != 409 || !strings.Contains(body, "/osiot/ensimmainen/alku") {
		t.Fatalf("deleting used media = %d %s", resp.StatusCode, body)
	}
	// An unused item goes, with its files.
	resp, body = a.do("POST", "/api/v1/media?title=Irrallinen", bytes.NewReader(sampleFile(t, "audio", 1)), "Content-Type", "audio/mpeg", "X-CSRF-Token", token)
	loose := decode[mediaJSON](t, body)
	if resp.StatusCode != 201 || loose.Kind != "audio" {
		t.Fatalf("audio upload = %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.do("DELETE", "/api/v1/media/"+loose.ID, nil, "X-CSRF-Token", token); resp.StatusCode != 204 {
		t.Fatalf("delete = %d", resp.StatusCode)
	}
	if resp, _ := get(t, r.URL+"/api/v1/media/"+loose.ID); resp.StatusCode != 404 {
		t.Fatalf("deleted item = %d", resp.StatusCode)
	}
	_, list := get(t, r.URL+"/api/v1/media")
	if l := decode[struct{ Items []mediaJSON }](t, list); len(l.Items) != 1 || l.Items[0].ID != "m-testivideo" {
		t.Fatalf("list = %s", list)
	}
	// Uploads, caption changes and deletions are in the audit log.
	_, logPage := a.get("/yllapito/loki")
	for _, want := range []string{"media.upload", "media.captions", "media.delete"} {
		if !strings.Contains(logPage, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

func TestMediaUploadAsAForm(t *testing.T) {
	r := startOpts(t, fixture(t), func(_ *api.Options, m *media.Options) { m.MaxSize = 200 << 10 })
	a, token := author(t, r)
	form := func(fields map[string]string, file []byte) (io.Reader, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for _, k := range []string{"csrf", "title", "id"} {
			if v, ok := fields[k]; ok {
				w.WriteField(k, v)
			}
		}
		fw, _ := w.CreateFormFile("file", "video.mp4")
		fw.Write(file)
		w.Close()
		return &b, w.FormDataContentType()
	}
	video := sampleFile(t, "video", 1)
	body, ctype := form(map[string]string{"title": "Lomakkeella"}, video)
	if resp, _ := a.do("POST", "/api/v1/media", body, "Content-Type", ctype); resp.StatusCode != 403 {
		t.Fatalf("a form without the token = %d", resp.StatusCode)
	}
	body, ctype = form(map[string]string{"csrf": token, "title": "Lomakkeella", "id": "lomake"}, video)
	resp, out := a.do("POST", "/api/v1/media", body, "Content-Type", ctype, "Accept", "application/json")
	if resp.StatusCode != 201 || decode[mediaJSON](t, out).ID != "lomake" {
		t.Fatalf("form upload = %d %s", resp.StatusCode, out)
	}
	big := append(append([]byte{}, video...), bytes.Repeat([]byte{0}, 300<<10)...)
	body, ctype = form(map[string]string{"csrf": token, "title": "Liian iso"}, big)
	resp, out = a.do("POST", "/api/v1/media", body, "Content-Type", ctype)
	if resp.StatusCode != 413 || !strings.Contains(out, "200 KiB") {
		t.Fatalf("oversize form = %d %s", resp.StatusCode, out)
	}
	resp, out = a.do("POST", "/api/v1/media?title=x", bytes.NewReader(big), "Content-Type", "video/mp4", "X-CSRF-Token", token)
	if resp.StatusCode != 413 {
		t.Fatalf("oversize body = %d %s", resp.StatusCode, out)
	}
	// Other routes refuse large bodies instead of streaming them.
	resp, _ = a.do("PUT", "/api/v1/progress/ensimmainen/alku", bytes.NewReader(bytes.Repeat([]byte("x"), 5<<20)), "Content-Type", "application/json", "X-CSRF-Token", token)
	if resp.StatusCode != 413 {
		t.Fatalf("a 5 MB progress event = %d, want 413", resp.StatusCode)
	}
}

// rangeGet asks for a Range and returns the status, headers and body.
func rangeGet(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestProxyDeliveryAnswersRanges(t *testing.T) {
	r := startOpts(t, fixture(t), func(o *api.Options, _ *media.Options) { o.MediaDelivery = api.DeliverProxy })
	a, token := author(t, r)
	video := sampleFile(t, "video", 4)
	resp, body := a.do("POST", "/api/v1/media?title=Proxy&id=m-testivideo", bytes.NewReader(video), "Content-Type", "video/mp4", "X-CSRF-Token", token)
	if resp.StatusCode != 201 {
		t.Fatalf("upload = %d %s", resp.StatusCode, body)
	}
	m := decode[mediaJSON](t, body)
	if m.URL != "http://localhost/media/m-testivideo/tiedosto" {
		t.Fatalf("proxy url = %s", m.URL)
	}
	u := r.URL + "/media/m-testivideo/tiedosto"
	size := len(video)
	etag := `"` + m.SHA256 + `"`

	resp, got := rangeGet(t, u)
	if resp.StatusCode != 200 || !bytes.Equal(got, video) || resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("ETag") != etag || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("whole file = %d %v", resp.StatusCode, resp.Header)
	}
	// Seeks: several ranges one after another, each exactly right.
	for _, rg := range [][2]int{{0, 0}, {100, 1099}, {size / 2, size/2 + 4095}, {size - 10, size - 1}} {
		resp, got := rangeGet(t, u, "Range", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
		want := fmt.Sprintf("bytes %d-%d/%d", rg[0], rg[1], size)
		if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != want || !bytes.Equal(got, video[rg[0]:rg[1]+1]) {
			t.Fatalf("range %v = %d %s, %d bytes", rg, resp.StatusCode, resp.Header.Get("Content-Range"), len(got))
		}
	}
	resp, got = rangeGet(t, u, "Range", "bytes=-500")
	if resp.StatusCode != 206 || !bytes.Equal(got, video[size-500:]) {
		t.Fatalf("suffix range = %d", resp.StatusCode)
	}
	resp, got = rangeGet(t, u, "Range", fmt.Sprintf("bytes=%d-", size-20))
	if resp.StatusCode != 206 || !bytes.Equal(got, video[size-20:]) {
		t.Fatalf("open range = %d", resp.StatusCode)
	}
	// If-Range: the same version gets the range, another gets it all.
	if resp, got = rangeGet(t, u, "Range", "bytes=0-9", "If-Range", etag); resp.StatusCode != 206 || len(got) != 10 {
		t.Fatalf("If-Range matching = %d", resp.StatusCode)
	}
	if resp, got = rangeGet(t, u, "Range", "bytes=0-9", "If-Range", `"old"`); resp.StatusCode != 200 || len(got) != size {
		t.Fatalf("If-Range stale = %d", resp.StatusCode)
	}
	if resp, _ = rangeGet(t, u, "If-None-Match", etag); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match = %d", resp.StatusCode)
	}
	resp, _ = rangeGet(t, u, "Range", fmt.Sprintf("bytes=%d-", size+5))
	if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
		t.Fatalf("unsatisfiable = %d %s", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	// Two ranges in one request: multipart/byteranges.
	resp, got = rangeGet(t, u, "Range", "bytes=0-4,1000-1009")
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || mt != "multipart/byteranges" {
		t.Fatalf("multi-range = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(got), params["boundary"])
	for _, want := range [][2]int{{0, 4}, {1000, 1009}} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if p.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", want[0], want[1], size) || !bytes.Equal(b, video[want[0]:want[1]+1]) {
			t.Fatalf("part %v: %s %d bytes", want, p.Header.Get("Content-Range"), len(b))
		}
	}
	// HEAD tells the size without a body.
	req, _ := http.NewRequest("HEAD", u, nil)
	req.Header.Set("Range", "bytes=0-99")
	hresp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	hresp.Body.Close()
	if hresp.StatusCode != 206 || hresp.ContentLength != 100 {
		t.Fatalf("HEAD = %d %d", hresp.StatusCode, hresp.ContentLength)
	}
}

// A 500 MB upload streams to MinIO: the server's heap stays far below the
// file's size. A body of unknown length (chunked, as from a pipe) streams
// the same way.
func TestLargeUploadStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("the 500 MB upload is skipped in -short mode")
	}
	r := start(t)
	a, token := author(t, r)
	for _, c := range []struct {
		size    int64
		chunked bool
	}{{64 << 20, true}, {500 << 20, false}} {
		// An MP4 header and then generated bytes, never in memory.
		header := []byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0, 'i', 's', 'o', 'm', 'm', 'p', '4', '1'}
		body := io.MultiReader(bytes.NewReader(header), io.LimitReader(&pattern{}, c.size-int64(len(header))))
		req, _ := http.NewRequest("POST", r.URL+"/api/v1/media?title=Suuri", body)
		if !c.chunked {
			req.ContentLength = c.size
		}
		req.Header.Set("Content-Type", "video/mp4")
		req.Header.Set("X-CSRF-Token", token)
		var peak atomic.Uint64
		stop, sampled := make(chan struct{}), make(chan struct{})
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}()
		began := time.Now()
		resp, err := a.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		elapsed := time.Since(began)
		close(stop)
		<-sampled
		// The bytes are not a playable video: ffprobe refuses the file
		// after it was streamed, stored and hashed.
		if resp.StatusCode != 415 || !strings.Contains(string(out), "could not be read as video") {
			t.Fatalf("%d MB upload = %d %s", c.size>>20, resp.StatusCode, out)
		}
		growth := int64(peak.Load()) - int64(base.HeapInuse)
		t.Logf("%d MB (chunked %v) in %s (%.0f MB/s); heap in use grew by at most %d MB", c.size>>20, c.chunked,
			elapsed.Round(time.Millisecond), float64(c.size)/1e6/elapsed.Seconds(), growth>>20)
		if growth > 96<<20 {
			t.Fatalf("the heap grew by %d MB during a %d MB upload", growth>>20, c.size>>20)
		}
	}
	// Refused after storing: nothing stays.
	if items, _ := r.media.List(context.Background()); len(items) != 0 {
		t.Fatalf("%d items after refused uploads", len(items))
	}
}

// pattern is an endless stream of changing bytes.
type pattern struct{ n byte }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = p.n
		p.n += 7
	}
	return len(b), nil
}

func TestPlayedRangesCompleteAVideoSection(t *testing.T) {
	r := start(t)
	a, token := author(t, r)
	video := sampleFile(t, "video", 10)
	if resp, body := a.do("POST", "/api/v1/media?title=V&id=m-testivideo", bytes.NewReader(video), "Content-Type", "video/mp4", "X-CSRF-Token", token); resp.StatusCode != 201 {
		t.Fatalf("upload = %d %s", resp.StatusCode, body)
	}
	learner := newClient(t, r.URL)
	learner.register(account.NewID()[:10]+"@example.fi", "Liisa Learner")
	lt := learner.csrf("/tili")
	put := func(ev map[string]any) (int, map[string]any) {
		resp, body := learner.putJSON("/api/v1/progress/ensimmainen/alku", lt, ev)
		var out map[string]any
		json.Unmarshal([]byte(body), &out)
		return resp.StatusCode, out
	}
	// A client claim of "watched" is not enough; played ranges are.
	if code, _ := put(map[string]any{"event": "watched", "watched": 1}); code != 400 {
		t.Fatalf("watched claim = %d", code)
	}
	if code, _ := put(map[string]any{"event": "played", "media": "m-testivideo", "position": 5, "ranges": [][2]float64{{0, 50}}}); code != 400 {
		t.Fatalf("a range past the end = %d", code)
	}
	code, rec := put(map[string]any{"event": "played", "media": "m-testivideo", "position": 5, "ranges": [][2]float64{{0, 5}}})
	if code != 200 || rec["completed_at"] != nil {
		t.Fatalf("half played = %d %v", code, rec)
	}
	// The signed-in page tells the player where to resume.
	_, page := learner.get("/osiot/ensimmainen/alku")
	if !strings.Contains(page, `data-media-state="m-testivideo=5.0/0.500"`) {
		t.Fatalf("the page lacks the resume state: %s", regexp.MustCompile(`data-media-state="[^"]*"`).FindString(page))
	}
	code, rec = put(map[string]any{"event": "played", "media": "m-testivideo", "position": 9.6, "ranges": [][2]float64{{5, 9.6}}})
	if code != 200 || rec["completed_at"] == nil {
		t.Fatalf("96 %% played = %d %v", code, rec)
	}
}

func TestPlayersSayWhenTheStoreIsAway(t *testing.T) {
	r := start(t)
	a, token := author(t, r)
	if resp, body := a.do("POST", "/api/v1/media?title=V&id=m-testivideo", bytes.NewReader(sampleFile(t, "video", 1)), "Content-Type", "video/mp4", "X-CSRF-Token", token); resp.StatusCode != 201 {
		t.Fatalf("upload = %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, r.URL+"/media/m-testivideo/tila"); resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	env.MinIO.Stop(10 * time.Second)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.MinIO.Start(context.Background())
		}
	})
	time.Sleep(2100 * time.Millisecond) // the health answer is cached for 2 s
	// Pages still render with their players (from the catalog snapshot).
	if resp, page := get(t, r.URL+"/osiot/ensimmainen/alku"); resp.StatusCode != 200 || !strings.Contains(page, `<video id="player-m-testivideo"`) {
		t.Fatalf("section with MinIO down = %d", resp.StatusCode)
	}
	if resp, body := get(t, r.URL+"/media/m-testivideo/tila"); resp.StatusCode != 503 || !strings.Contains(body, `"available":false`) {
		t.Fatalf("status with MinIO down = %d %s", resp.StatusCode, body)
	}
	if err := env.MinIO.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, _ := get(t, r.URL+"/media/m-testivideo/tila")
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the player status did not recover after MinIO came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func init() {
	// Media writes: an author signed in with both factors, without the
	// token, is refused.
	authorRefused := func(method, path, body string) func(*testing.T, *running) {
		return func(t *testing.T, r *running) {
			a, _ := author(t, r)
			resp, _ := a.do(method, path, strings.NewReader(body), "Content-Type", "application/octet-stream")
			if resp.StatusCode != 403 {
				t.Errorf("an author on %s %s without a CSRF token = %d, want 403", method, path, resp.StatusCode)
			}
		}
	}
	stateChanging["POST /api/v1/media"] = authorRefused("POST", "/api/v1/media?title=x", "\x89PNG\r\n\x1a\n")
	stateChanging["PUT /api/v1/media/:media/captions/:lang"] = authorRefused("PUT", "/api/v1/media/m-testivideo/captions/fi", "WEBVTT\n")
	stateChanging["PUT /api/v1/media/:media/poster"] = authorRefused("PUT", "/api/v1/media/m-testivideo/poster", "\x89PNG\r\n\x1a\n")
	stateChanging["DELETE /api/v1/media/:media"] = authorRefused("DELETE", "/api/v1/media/m-testivideo", "")
	formRefused := func(path string) func(*testing.T, *running) {
		return func(t *testing.T, r *running) {
			a, _ := author(t, r)
			body, ctype := studioForm(map[string]string{"title": "x", "lang": "fi"}, []byte("WEBVTT\n"))
			resp, _ := a.do("POST", path, body, "Content-Type", ctype)
			if resp.StatusCode != 403 {
				t.Errorf("an author's form to %s without a CSRF token = %d, want 403", path, resp.StatusCode)
			}
		}
	}
	stateChanging["POST /studio/media"] = formRefused("/studio/media")
	stateChanging["POST /studio/media/:media/tekstitys"] = formRefused("/studio/media/m-testivideo/tekstitys")
	stateChanging["POST /studio/media/:media/poista"] = func(t *testing.T, r *running) {
		a, _ := author(t, r)
		if resp, _ := a.post("/studio/media/m-testivideo/poista", url.Values{"x": {"1"}}); resp.StatusCode != 403 {
			t.Errorf("deleting from the studio without a CSRF token = %d, want 403", resp.StatusCode)
		}
	}
}

// studioForm is a multipart form as the studio's pages send it: the
// fields first, then the file.
func studioForm(fields map[string]string, file []byte) (io.Reader, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, k := range []string{"csrf", "title", "id", "lang"} {
		if v, ok := fields[k]; ok {
			w.WriteField(k, v)
		}
	}
	fw, _ := w.CreateFormFile("file", "upload.bin")
	fw.Write(file)
	w.Close()
	return &b, w.FormDataContentType()
}

func TestStudioMediaLibrary(t *testing.T) {
	r := start(t)
	learner := newClient(t, r.URL)
	learner.register(account.NewID()[:10]+"@example.fi", "Leo Learner")
	if resp, _ := learner.get("/studio/media"); resp.StatusCode != 404 {
		t.Fatalf("a learner on the media library = %d", resp.StatusCode)
	}
	a, token := author(t, r)
	if resp, page := a.get("/studio/media"); resp.StatusCode != 200 || !strings.Contains(page, "Kirjastossa ei ole vielä tallenteita.") {
		t.Fatalf("empty library = %d", resp.StatusCode)
	}
	// A refused file: the page again, with the reason and the fields kept.
	body, ctype := studioForm(map[string]string{"csrf": token, "title": "Väärä tiedosto", "id": "m-testivideo"}, []byte("pelkkää tekstiä"))
	resp, page := a.do("POST", "/studio/media", body, "Content-Type", ctype)
	if resp.StatusCode != 415 || !strings.Contains(page, "Tiedostomuotoa ei tueta") || !strings.Contains(page, `value="Väärä tiedosto"`) || !strings.Contains(page, `role="alert"`) {
		t.Fatalf("refused upload = %d", resp.StatusCode)
	}
	body, ctype = studioForm(map[string]string{"csrf": token, "title": "Testivideo", "id": "m-testivideo"}, sampleFile(t, "video", 2))
	resp, _ = a.do("POST", "/studio/media", body, "Content-Type", ctype)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/studio/media?lisatty=m-testivideo" {
		t.Fatalf("upload = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = a.get("/studio/media?lisatty=m-testivideo")
	for _, want := range []string{"Tallennettu: m-testivideo", "<code>m-testivideo</code>", `<a href="/osiot/ensimmainen/alku">Alku</a>`, "ei tekstityksiä"} {
		if !strings.Contains(page, want) {
			t.Errorf("the library lacks %q", want)
		}
	}
	if strings.Contains(page, "/studio/media/m-testivideo/poista") {
		t.Error("a used item offers deletion")
	}
	// Captions through the form: line-numbered errors, then stored.
	body, ctype = studioForm(map[string]string{"csrf": token, "lang": "sv"}, []byte("WEBVTT\n\n00:00.000 --> 00:01.000\nHej\n00:01.000 --> 00:02.000\nHej då\n"))
	resp, page = a.do("POST", "/studio/media/m-testivideo/tekstitys", body, "Content-Type", ctype)
	if resp.StatusCode != 422 || !strings.Contains(page, "line 5") {
		t.Fatalf("bad captions = %d", resp.StatusCode)
	}
	body, ctype = studioForm(map[string]string{"csrf": token, "lang": "sv"}, []byte("WEBVTT\n\n00:00.000 --> 00:01.000\nHej\n"))
	if resp, _ = a.do("POST", "/studio/media/m-testivideo/tekstitys", body, "Content-Type", ctype); resp.StatusCode != 303 {
		t.Fatalf("captions = %d", resp.StatusCode)
	}
	if _, page = a.get("/studio/media"); !strings.Contains(page, "sv (1)") {
		t.Fatal("the captions are not listed")
	}
	// An unused item can be deleted from the page.
	body, ctype = studioForm(map[string]string{"csrf": token, "title": "Irrallinen", "id": "irrallinen"}, sampleFile(t, "audio", 1))
	a.do("POST", "/studio/media", body, "Content-Type", ctype)
	if resp, _ = a.post("/studio/media/irrallinen/poista", url.Values{"csrf": {token}}); resp.StatusCode != 303 {
		t.Fatalf("delete = %d", resp.StatusCode)
	}
	if _, page = a.get("/studio/media"); strings.Contains(page, "Irrallinen") {
		t.Fatal("the deleted item is still listed")
	}
	// Deleting a used item through the form is refused with the places.
	if resp, page = a.post("/studio/media/m-testivideo/poista", url.Values{"csrf": {token}}); resp.StatusCode != 409 || !strings.Contains(page, "/osiot/ensimmainen/alku") {
		t.Fatalf("deleting used media = %d", resp.StatusCode)
	}
}

func samplePNG(t *testing.T) []byte {
	t.Helper()
	out := t.TempDir() + "/poster.png"
	if msg, err := exec.Command("ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=0x1d3b53:s=320x180:d=1", "-frames:v", "1", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Stored without ffprobe, an item's duration is unknown: the player's
// reported duration is used, and only then.
func TestPlayedWithUnknownDuration(t *testing.T) {
	r := startOpts(t, fixture(t), func(_ *api.Options, m *media.Options) {
		m.Probe = func(context.Context, string) (*media.ProbeResult, error) { return nil, media.ErrNoProbe }
	})
	a, token := author(t, r)
	if resp, body := a.do("POST", "/api/v1/media?title=V&id=m-testivideo", bytes.NewReader(sampleFile(t, "video", 2)), "Content-Type", "video/mp4", "X-CSRF-Token", token); resp.StatusCode != 201 || strings.Contains(body, `"duration"`) {
		t.Fatalf("upload without ffprobe = %d %s", resp.StatusCode, body)
	}
	learner := newClient(t, r.URL)
	learner.register(account.NewID()[:10]+"@example.fi", "Liisa Learner")
	lt := learner.csrf("/tili")
	if resp, _ := learner.putJSON("/api/v1/progress/ensimmainen/alku", lt, map[string]any{"event": "played", "media": "m-testivideo", "position": 1, "ranges": [][2]float64{{0, 1}}}); resp.StatusCode != 400 {
		t.Fatalf("no duration anywhere = %d", resp.StatusCode)
	}
	resp, body := learner.putJSON("/api/v1/progress/ensimmainen/alku", lt, map[string]any{"event": "played", "media": "m-testivideo", "position": 2, "ranges": [][2]float64{{0, 2}}, "duration": 2})
	if resp.StatusCode != 200 || !strings.Contains(body, `"completed_at"`) {
		t.Fatalf("with the player's duration = %d %s", resp.StatusCode, body)
	}
}

// The media list is public only for what the published course uses, and
// never names who uploaded an item; authors see everything.
func TestMediaListIsPublicOnlyForPublishedItems(t *testing.T) {
	r := start(t)
	a, token := author(t, r)
	video := sampleFile(t, "video", 1)
	for _, id := range []string{"m-testivideo", "m-luonnos"} {
		if resp, body := a.do("POST", "/api/v1/media?title="+id+"&id="+id, bytes.NewReader(video), "Content-Type", "video/mp4", "X-CSRF-Token", token); resp.StatusCode != 201 {
			t.Fatalf("upload %s = %d %s", id, resp.StatusCode, body)
		}
	}
	anon := newClient(t, r.URL)
	learner := newClient(t, r.URL)
	learner.register(account.NewID()[:10]+"@example.fi", "Leo Learner")
	for name, c := range map[string]*browserClient{"anonymous": anon, "learner": learner} {
		resp, body := c.get("/api/v1/media")
		if resp.StatusCode != 200 || !strings.Contains(body, `"m-testivideo"`) || strings.Contains(body, "m-luonnos") || strings.Contains(body, `"uploader"`) {
			t.Errorf("%s list = %d: %s", name, resp.StatusCode, body)
		}
		if resp, _ := c.get("/api/v1/media/m-luonnos"); resp.StatusCode != 404 {
			t.Errorf("%s GET of an unpublished item = %d, want 404", name, resp.StatusCode)
		}
		if resp, body := c.get("/api/v1/media/m-testivideo"); resp.StatusCode != 200 || strings.Contains(body, `"uploader"`) {
			t.Errorf("%s GET of a published item = %d: %s", name, resp.StatusCode, body)
		}
	}
	resp, body := a.get("/api/v1/media")
	if resp.StatusCode != 200 || !strings.Contains(body, "m-luonnos") || !strings.Contains(body, `"uploader"`) {
		t.Fatalf("author's list = %d: %s", resp.StatusCode, body)
	}
}

// An upload that declares more than the limit is refused at once, before
// any of its body is waited for (it waited for the 30-second read timeout).
func TestDeclaredOversizeUploadIsRefusedAtOnce(t *testing.T) {
	r := start(t)
	a, token := author(t, r)
	base, _ := url.Parse(r.URL)
	var cookies []string
	for _, c := range a.http.Jar.Cookies(base) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	for _, ctype := range []string{"video/mp4", "multipart/form-data; boundary=xyz"} {
		conn, err := net.Dial("tcp", base.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /api/v1/media?title=iso HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nX-CSRF-Token: %s\r\nContent-Type: %s\r\nContent-Length: 3000000000\r\n\r\n",
			base.Host, strings.Join(cookies, "; "), token, ctype)
		// Nothing of the body is sent; the answer must come without it,
		// well before the server's read timeout.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no answer without the body: %v", ctype, err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != 413 {
			t.Errorf("%s: declared 3 GB = %d, want 413", ctype, resp.StatusCode)
		}
	}
}
