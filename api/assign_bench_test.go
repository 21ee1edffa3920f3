package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/org"
)

// BenchmarkAssignmentReport20k: an organisation of 20,000 people in 400
// units (4 areas of 99 units) with 5 assignments (each area with its
// sub-units, 5,000 people, and a list of 100 people) on the embedded
// store; each iteration asks an area's assignment page (5,000 people)
// and the list of assignments over HTTP as an administrator, warm (the
// rows are read once a minute). It reports p50 and p99 of the page.
func BenchmarkAssignmentReport20k(b *testing.B) {
	ctx := context.Background()
	r := startOpts(b, fixture(b), nil)
	dir := org.NewDirectory(r.db)
	start := time.Now()
	var units []string
	var areas []string
	for a := range 4 {
		area, err := dir.AddUnit(ctx, "pirkanmaa", "", fmt.Sprintf("Alue %d", a+1), "bench")
		if err != nil {
			b.Fatal(err)
		}
		areas = append(areas, area.ID)
		units = append(units, area.ID)
		for u := range 99 {
			unit, err := dir.AddUnit(ctx, "pirkanmaa", area.ID, fmt.Sprintf("Yksikkö %d.%d", a+1, u+1), "bench")
			if err != nil {
				b.Fatal(err)
			}
			units = append(units, unit.ID)
		}
	}
	sections := [][2]string{{"ensimmainen", "alku"}, {"ensimmainen", "tehtava"}, {"toinen", "jatko"}}
	var users, records []any
	var members []assign.Member
	created := time.Now().Add(-30 * 24 * time.Hour).UTC()
	for i := range 20_000 {
		id := fmt.Sprintf("bench-%06d", i)
		unit := units[i%len(units)]
		users = append(users, bson.D{{Key: "_id", Value: id}, {Key: "email", Value: id + "@example.fi"}, {Key: "name", Value: fmt.Sprintf("Henkilö %05d", i)},
			{Key: "organisation", Value: "Pirkanmaan hyvinvointialue"}, {Key: "org_id", Value: "pirkanmaa"}, {Key: "unit_id", Value: unit},
			{Key: "role", Value: account.RoleLearner}, {Key: "disabled", Value: false}, {Key: "created_at", Value: created}})
		members = append(members, assign.Member{ID: id, Unit: unit})
		for k := range i % 4 {
			s := sections[(i+k)%len(sections)]
			d := bson.D{{Key: "_id", Value: id + "|" + s[0] + "/" + s[1]}, {Key: "user_id", Value: id}, {Key: "module", Value: s[0]}, {Key: "section", Value: s[1]}, {Key: "seconds", Value: 120}}
			if (i+k)%3 != 0 {
				d = append(d, bson.E{Key: "completed_at", Value: created.Add(time.Duration(k) * time.Hour)})
			}
			records = append(records, d)
		}
	}
	for coll, docs := range map[string][]any{"users": users, "progress": records} {
		for i := 0; i < len(docs); i += 1000 {
			if _, err := r.db.Collection(coll).InsertMany(ctx, docs[i:min(i+1000, len(docs))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Written past the stores: their summaries are made as an upgrade
	// makes them.
	if _, err := r.summaries.Rebuild(ctx); err != nil {
		b.Fatal(err)
	}
	store := assign.NewStore(r.db)
	tree, err := dir.Units(ctx, "pirkanmaa")
	if err != nil {
		b.Fatal(err)
	}
	c := fixture(b).Current().Course
	var ids []string
	for i, area := range areas {
		a, errs := store.Create(ctx, assign.Assignment{Org: "pirkanmaa", Kind: assign.KindUnit, Unit: area, Subunits: true, Modules: []string{c.Modules[i%2].Slug},
			Due: time.Now().AddDate(0, 1, 0), CreatedBy: "bench"}, tree, members, c)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		ids = append(ids, a.ID)
	}
	var listed []string
	for _, m := range members[:100] {
		listed = append(listed, m.ID)
	}
	if _, errs := store.Create(ctx, assign.Assignment{Org: "pirkanmaa", Kind: assign.KindPeople, People: listed, Due: time.Now().AddDate(0, 1, 0), CreatedBy: "bench"}, tree, members, c); len(errs) > 0 {
		b.Fatal(errs)
	}
	b.Logf("20,000 people, %d units, %d progress records, 5 assignments written in %s", len(units), len(records), time.Since(start).Round(time.Second))
	admin := newClient(b, r.URL)
	admin.register("penkki-admin@example.fi", "Penkki Ylläpito")
	signInAdmin(b, admin, r.Accounts(), "penkki-admin@example.fi")
	page := "/raportit/tehtavat/" + ids[0]
	get := func(path string) time.Duration {
		t0 := time.Now()
		resp, body := admin.get(path)
		if resp.StatusCode != 200 || len(body) < 1000 {
			b.Fatalf("%s = %d", path, resp.StatusCode)
		}
		return time.Since(t0)
	}
	cold := get(page)
	b.Logf("first (cold) page: %s", cold.Round(time.Millisecond))
	get("/raportit/tehtavat?organisaatio=pirkanmaa")
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		times = append(times, get(page))
		get("/raportit/tehtavat?organisaatio=pirkanmaa")
	}
	b.StopTimer()
	slices.Sort(times)
	p := func(q float64) float64 {
		return float64(times[min(len(times)-1, int(q*float64(len(times))))].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
}
