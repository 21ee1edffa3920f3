package account

import (
	"context"
	"testing"
)

// BenchmarkSignIn: password check (argon2id, m = 19 MiB, t = 2) and a new
// session, from all cores. Sign-ins per second = 1e9 / ns/op.
func BenchmarkSignIn(b *testing.B) {
	ctx := context.Background()
	s := NewStore(env.Database())
	if err := EnsureIndexes(ctx, s.db); err != nil {
		b.Fatal(err)
	}
	if _, errs := s.Register(ctx, reg("penkki@example.fi")); len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u, err := s.Authenticate(ctx, "penkki@example.fi", "pitkä ja oma lause 42")
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.StartSession(ctx, u, false, "bench", "127.0.0.1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signins/s")
}
