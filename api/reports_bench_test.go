package api_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/report"
)

// BenchmarkReports100k: the organisation reports over 100,000 synthetic
// learners in 400 units (100 in each of four organisations), 1,000,000
// progress records, 25,000 learners with a submitted attempt and 12,000
// certificates on the embedded store, with the bundled course. The
// population is written past the stores and its summaries made by a
// rebuild (both timed), then the stored summaries are scanned cold once;
// each iteration asks, as an administrator over HTTP, the report page and
// the learners' and modules' CSV of all organisations and of one unit.
// It reports p50 and p99 of the warm requests. REPORT_BENCH_LEARNERS
// scales it down (the other figures in proportion); REPORT_BENCH_ROUNDS
// (50) is how many times each address is asked, whatever b.N: run it
// with -benchtime 1x, so that the population is written once.
func BenchmarkReports100k(b *testing.B) {
	ctx := context.Background()
	n := 100_000
	if s := os.Getenv("REPORT_BENCH_LEARNERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	c, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		b.Fatal(problems.Error())
	}
	r := startOpts(b, course.NewStaticLibrary(&course.Published{Version: 1, Course: c}), nil)
	dir := org.NewDirectory(r.db)
	start := time.Now()
	var units []report.SeedUnit
	orgs := map[string]string{"pirkanmaa": "Pirkanmaan hyvinvointialue", "lappi": "Lapin hyvinvointialue", "hus": "HUS-yhtymä", "keski-suomi": "Keski-Suomen hyvinvointialue"}
	for code, name := range orgs {
		for u := range 100 {
			unit, err := dir.AddUnit(ctx, code, "", fmt.Sprintf("Yksikkö %03d", u+1), "bench")
			if err != nil {
				b.Fatal(err)
			}
			units = append(units, report.SeedUnit{OrgID: code, OrgName: name, UnitID: unit.ID})
		}
	}
	slices.SortFunc(units, func(a, b report.SeedUnit) int { return strings.Compare(a.UnitID, b.UnitID) })
	written, err := report.Seed(ctx, r.db, c, report.Population{Learners: n, Units: units, PerLearner: 10, Attempts: n / 4, Certificates: n * 12 / 100})
	if err != nil {
		b.Fatal(err)
	}
	seeded := time.Since(start)
	start = time.Now()
	counts, err := r.summaries.Rebuild(ctx)
	if err != nil {
		b.Fatal(err)
	}
	rebuilt := time.Since(start)
	start = time.Now()
	all, err := r.summaries.All(ctx)
	if err != nil || len(all) != n {
		b.Fatalf("%d summaries, %v", len(all), err)
	}
	b.Logf("%d learners in %d units: %d documents written in %s; rebuild (%d written) %s; cold scan of %d summaries %s",
		n, len(units), written, seeded.Round(time.Second), counts.Written, rebuilt.Round(time.Millisecond), len(all), time.Since(start).Round(time.Millisecond))
	all = nil
	admin := newClient(b, r.URL)
	admin.register("raportti-penkki@example.fi", "Penkki Ylläpito")
	signInAdmin(b, admin, r.Accounts(), "raportti-penkki@example.fi")
	unit := "organisaatio=" + units[0].OrgID + "&yksikko=" + units[0].UnitID
	paths := []string{"/raportit", "/raportit.csv?raportti=oppijat", "/raportit.csv?raportti=moduulit",
		"/raportit?" + unit, "/raportit.csv?raportti=oppijat&" + unit, "/raportit.csv?raportti=moduulit&" + unit}
	get := func(path string) time.Duration {
		t0 := time.Now()
		resp, body := admin.get(path)
		if resp.StatusCode != 200 || len(body) < 50 {
			b.Fatalf("%s = %d", path, resp.StatusCode)
		}
		return time.Since(t0)
	}
	t0 := time.Now()
	_, body := admin.get("/raportit.csv?raportti=oppijat")
	b.Logf("first report (reads the summaries): %s", time.Since(t0).Round(time.Millisecond))
	if !strings.Contains(body, ","+strconv.Itoa(n)+",") {
		b.Fatalf("the learners' CSV does not count %d learners:\n%s", n, body)
	}
	_, body = admin.get("/raportit.csv?raportti=oppijat&" + unit)
	if want := fmt.Sprintf(",%d,", n/len(units)); !strings.Contains(body, want) {
		b.Fatalf("one unit's CSV does not count %s learners:\n%s", want, body)
	}
	rounds := 50
	if s := os.Getenv("REPORT_BENCH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	times := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N*rounds; i++ {
		for _, p := range paths {
			times[p] = append(times[p], get(p))
		}
	}
	b.StopTimer()
	var every []time.Duration
	for _, p := range paths {
		t := times[p]
		slices.Sort(t)
		every = append(every, t...)
		b.Logf("%-60s p50 %6.1f ms  p99 %6.1f ms", p, ms(t, 0.5), ms(t, 0.99))
	}
	slices.Sort(every)
	b.ReportMetric(ms(every, 0.5), "p50-ms")
	b.ReportMetric(ms(every, 0.99), "p99-ms")
}

// ms is the q-quantile of sorted times, in milliseconds.
func ms(times []time.Duration, q float64) float64 {
	return float64(times[min(len(times)-1, int(q*float64(len(times))))].Microseconds()) / 1000
}
