package api_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/tyokyky/tyokyky/api"
)

// While starting, the listener answers: /livez 200, /readyz 503 with the
// reason, the rest 503 with Retry-After; after Stop the same listener
// serves whoever takes it over.
func TestStartingAnswersUntilHandedOver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	st := api.ServeStarting(ln, "v-test", "checking the schema")
	if st == nil {
		t.Fatal("a TCP listener was not served")
	}
	get := func(path string) (int, http.Header, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	if code, _, _ := get("/livez"); code != 200 {
		t.Fatalf("/livez = %d", code)
	}
	st.SetReason("schema migration 1 running elsewhere")
	code, _, body := get("/readyz")
	var r struct{ Status, Reason string }
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != 503 || r.Status != "starting" || r.Reason != "schema migration 1 running elsewhere" {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	if code, h, _ := get("/osiot"); code != 503 || h.Get("Retry-After") == "" {
		t.Fatalf("a page while starting = %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	st.Stop()
	st.Stop() // twice is once
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the real server") })}
	go srv.Serve(ln)
	defer srv.Close()
	if code, _, body := get("/readyz"); code != 200 || body != "the real server" {
		t.Fatalf("after the handover /readyz = %d %q", code, body)
	}
}
