package api_test

import (
	"net/http"
	"testing"
)

// BenchmarkSignedInSectionPage: a signed-in learner's section page over
// real HTTP (session and progress from the per-instance caches).
func BenchmarkSignedInSectionPage(b *testing.B) {
	r := startOpts(b, fixture(b), nil)
	c := newClient(b, r.URL)
	c.register("bench@example.fi", "Penkki Testi")
	req, _ := http.NewRequest("GET", r.URL+"/osiot/ensimmainen/tehtava", nil)
	u := req.URL
	for _, ck := range c.http.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
}

// BenchmarkDashboard: a signed-in learner's /omat-opinnot over real HTTP.
func BenchmarkDashboard(b *testing.B) {
	r := startOpts(b, fixture(b), nil)
	c := newClient(b, r.URL)
	c.register("bench@example.fi", "Penkki Testi")
	req, _ := http.NewRequest("GET", r.URL+"/omat-opinnot", nil)
	for _, ck := range c.http.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
}
