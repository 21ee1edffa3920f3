package xapi

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkOutbox is the outbox's throughput: b.N statements queued
// beforehand (outside the timer), then sent to the test LRS in batches of
// 50 (each try claimed by an insert, one POST a batch validated by the
// LRS, each outcome recorded).
func BenchmarkOutbox(b *testing.B) {
	f := setup(b)
	ctx := b.Context()
	m := f.c.Modules[0]
	evs := make([]Event, b.N)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := range evs {
		evs[i] = Event{Key: "bench|" + strconv.Itoa(i), UserID: "u" + strconv.Itoa(i%100), Verb: Experienced,
			Object: f.svc.activities().Section(m.Slug, m.Sections[0].Slug, m.Sections[0].Title), Result: &Result{Completion: yes(), Duration: "PT1M"}, At: at}
	}
	for start := 0; start < len(evs); start += 500 {
		if _, err := f.svc.enqueue(ctx, "bench", evs[start:min(start+500, len(evs))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		n, err := f.svc.SendOnce(ctx)
		if err != nil || n == 0 {
			b.Fatalf("sent %d of %d: %v", sent, b.N, err)
		}
		sent += n
	}
	b.StopTimer()
	if got := len(f.lrs.Statements()); got != b.N {
		b.Fatalf("the LRS has %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "statements/s")
}
