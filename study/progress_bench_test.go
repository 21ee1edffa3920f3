package study

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

// benchProgress is a progress store on a fresh database and a section of
// the test course.
func benchProgress(b *testing.B) (context.Context, *Progress, *course.Section) {
	c, problems := course.Load(os.DirFS(testenv.CourseFixtureDir(b)))
	if len(problems) > 0 {
		b.Fatal(problems.Error())
	}
	return context.Background(), NewProgress(env.Database()), c.Modules[1].Sections[0]
}

// BenchmarkProgressWrite200 has 200 learners write progress events at the
// same time (heartbeats and completions on their own records) and reports
// the write latency percentiles.
func BenchmarkProgressWrite200(b *testing.B) {
	const learners = 200
	ctx, p, sec := benchProgress(b)
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	next := make(chan int, b.N)
	for i := 0; i < b.N; i++ {
		next <- i
	}
	close(next)
	b.ResetTimer()
	for l := 0; l < learners; l++ {
		wg.Add(1)
		go func(l int) {
			defer wg.Done()
			user := fmt.Sprintf("learner-%d", l)
			for i := range next {
				ev := Event{Kind: "heartbeat", Seconds: 15, Scroll: 0.5}
				if i%10 == 0 {
					ev = Event{Kind: "completed"}
				}
				start := time.Now()
				if _, err := p.Record(ctx, user, sec, ev); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(start)
			}
		}(l)
	}
	wg.Wait()
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkProgressWrite200Paced: 200 learners each send one event a
// second — about 30 times the rate a learner's browser does (a heartbeat
// every 30 s) — for b.N seconds; reports the write latency percentiles.
// Run with -benchtime 10x.
func BenchmarkProgressWrite200Paced(b *testing.B) {
	const learners = 200
	ctx, p, sec := benchProgress(b)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	b.ResetTimer()
	for l := 0; l < learners; l++ {
		wg.Add(1)
		go func(l int) {
			defer wg.Done()
			user := fmt.Sprintf("paced-%d", l)
			// Spread the learners over the second, as real ones are.
			time.Sleep(time.Duration(l) * time.Second / learners)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := p.Record(ctx, user, sec, Event{Kind: "heartbeat", Seconds: 1}); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				<-tick.C
			}
		}(l)
	}
	wg.Wait()
	b.StopTimer()
	reportLatency(b, lat)
}

// reportLatency reports the writes' p50, p99 and rate.
func reportLatency(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "writes/s")
}
