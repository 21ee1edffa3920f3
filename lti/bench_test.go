package lti

import (
	"testing"
)

// BenchmarkLaunch is a whole launch, as a platform makes it: the login
// (a flow stored), the platform's answer (its ID token signed, RS256 2048,
// over HTTP from the simulator), and the launch (the state claimed, the
// token verified against the cached key set, the nonce claimed, the
// account found by (issuer, sub)).
func BenchmarkLaunch(b *testing.B) {
	f := setup(b)
	if _, err := f.launch(b, learner, toolURL+"/kurssi"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.launch(b, learner, toolURL+"/kurssi"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "launches/s")
}

// BenchmarkLaunchVerify is the tool's part alone: the launch of a login
// and platform answer made beforehand (outside the timer).
func BenchmarkLaunchVerify(b *testing.B) {
	f := setup(b)
	reqs := make([]LaunchRequest, b.N)
	for i := range reqs {
		r, err := f.start(b, learner, toolURL+"/kurssi")
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = r
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.svc.Launch(b.Context(), reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "launches/s")
}
