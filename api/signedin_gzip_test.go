package api_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A signed-in section page compressed by stitching the skeleton's parts,
// deflated once, with the learner's values: it decompresses (checksum and
// length checked by the reader) to exactly the page sent uncompressed,
// with a name that needs escaping and an answer longer than one stored
// block (65,535 bytes).
func TestSignedInSectionPageGzip(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("pakattu@example.fi", `Pia "Pakattu" & Co`)
	task := "ensimmainen.tehtava.tehtava-pohdi-omaa-tyotasi"
	long := strings.Repeat("𝄞", 19990) // 79,960 bytes of UTF-8
	if resp, _ := b.post("/tehtavat/"+task+"/vastaus", url.Values{"csrf": {b.csrf("/omat-opinnot")}, "text": {long}}); resp.StatusCode >= 400 {
		t.Fatalf("the answer = %d", resp.StatusCode)
	}
	get := func(gz bool) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", r.URL+"/osiot/ensimmainen/tehtava", nil)
		u, _ := url.Parse(r.URL)
		for _, ck := range b.http.Jar.Cookies(u) {
			req.AddCookie(ck)
		}
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		} else {
			req.Header.Set("Accept-Encoding", "identity")
		}
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	plainResp, plain := get(false)
	if plainResp.StatusCode != 200 || plainResp.Header.Get("Content-Encoding") != "" || !bytes.Contains(plain, []byte("Pia &#34;Pakattu&#34; &amp; Co")) {
		t.Fatalf("the page uncompressed = %d %q", plainResp.StatusCode, plainResp.Header.Get("Content-Encoding"))
	}
	if !bytes.Contains(plain, []byte(long)) {
		t.Fatal("the page lacks the answer")
	}
	for range 2 { // the parts deflated on the first, reused on the second
		resp, packed := get(true)
		if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(packed))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("the stitched stream does not decompress: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("decompressed %d bytes differ from the %d sent plain", len(got), len(plain))
		}
	}
	// Without the long answer: not much bigger than the whole page
	// compressed at once at the fastest level, as the server did per
	// request before (each part compressed on its own loses the matches
	// across parts and carries its own code tables; this fixture's page
	// is small and cut in nine).
	b = newClient(t, r.URL)
	b.register("pakattu2@example.fi", "Pia Pakattu")
	_, plain = get(false)
	_, packed := get(true)
	var whole bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&whole, gzip.BestSpeed)
	zw.Write(plain)
	zw.Close()
	t.Logf("stitched %d bytes, the whole page compressed at once %d, plain %d", len(packed), whole.Len(), len(plain))
	if len(packed) > whole.Len()*3/2 {
		t.Fatalf("stitched %d bytes, the whole page compressed at once %d", len(packed), whole.Len())
	}
}
