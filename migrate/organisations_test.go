package migrate

import (
	"context"
	"maps"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/org"
)

// The migration's own copy of the organisations is the list accounts
// chose from.
func TestSeededOrganisationsAreTheOldList(t *testing.T) {
	var names []string
	for _, s := range seeded {
		names = append(names, s.fi)
		if !org.ValidCode(s.code) || s.sv == "" {
			t.Errorf("seed %+v", s)
		}
	}
	if !slices.Equal(names, account.Organisations) {
		t.Fatalf("seeded %q\nthe old list %q", names, account.Organisations)
	}
}

// organisationsDB is a database as the code before migration 2 wrote it:
// accounts registered by the account store naming their organisation,
// and only migration 1 recorded.
func organisationsDB(t *testing.T) (*database.DB, *account.Store, map[string]string) {
	t.Helper()
	ctx := t.Context()
	db := env.Database()
	if _, err := Run(ctx, db, Options{Migrations: All()[:1], Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if err := account.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := account.NewStore(db)
	ids := map[string]string{}
	for i, r := range []account.Registration{
		{Email: "a@example.fi", Name: "Anna Aalto", Organisation: "Pirkanmaan hyvinvointialue"},
		{Email: "b@example.fi", Name: "Bertil Berg", Organisation: "Pirkanmaan hyvinvointialue"},
		{Email: "c@example.fi", Name: "Cecilia Cajander", Organisation: "HUS-yhtymä"},
		{Email: "d@example.fi", Name: "Daniel Dahl", Organisation: account.OtherOrganisation, OrganisationOther: "Yksityinen Oy"},
	} {
		r.Password = "pitkä salasana joka kelpaa " + string(rune('a'+i))
		u, errs := s.Register(ctx, r)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		ids[u.Email] = u.ID
	}
	return db, s, ids
}

// Existing accounts are linked to the seeded records by the name they
// stored, keep that name (the reports group by it, so each organisation's
// report counts the same learners), and the directory reads the seeded
// records. A crash after the organisations are written resumes to the
// same end.
func TestOrganisationsBecomeRecords(t *testing.T) {
	for _, crashAt := range []string{"", "migrate/2/organisations-written", "migrate/2/before-record"} {
		t.Run("crash at "+crashAt, func(t *testing.T) {
			ctx := t.Context()
			db, s, ids := organisationsDB(t)
			before := reportCounts(t, s)
			if crashAt != "" {
				crashpoint.Set(func(step string) {
					if step == crashAt {
						panic(crash{})
					}
				})
				func() {
					defer func() {
						if r := recover(); r != nil && r != (crash{}) {
							panic(r)
						}
					}()
					Run(ctx, db, Options{Logger: quiet})
					t.Fatal("the crash point was not reached")
				}()
				crashpoint.Set(nil)
			}
			done, err := Run(ctx, db, Options{Logger: quiet})
			if err != nil || len(done) == 0 || done[0].ID != 2 {
				t.Fatalf("applied %+v (%v)", done, err)
			}
			want := map[string]string{"a@example.fi": "pirkanmaa", "b@example.fi": "pirkanmaa", "c@example.fi": "hus", "d@example.fi": ""}
			for email, code := range want {
				u, err := s.User(ctx, ids[email])
				if err != nil {
					t.Fatal(err)
				}
				if u.OrgID != code {
					t.Errorf("%s: org_id %q, want %q", email, u.OrgID, code)
				}
			}
			if after := reportCounts(t, s); !maps.Equal(before, after) {
				t.Fatalf("learners per organisation before %v, after %v", before, after)
			}
			dir := org.NewDirectory(db)
			list, err := dir.List(ctx)
			if err != nil || len(list) != 23 {
				t.Fatalf("%d organisations (%v)", len(list), err)
			}
			p, err := dir.ByLegacy(ctx, "Pirkanmaan hyvinvointialue")
			if err != nil || p.ID != "pirkanmaa" || p.NameSV != "Birkalands välfärdsområde" || !p.Active || p.Domains == nil {
				t.Fatalf("pirkanmaa: %+v %v", p, err)
			}
			// An administrator's later change survives a rerun of the step.
			if err := dir.Update(ctx, "hus", "HUS", "HUS", false); err != nil {
				t.Fatal(err)
			}
			if err := organisationRecords(ctx, db); err != nil {
				t.Fatal(err)
			}
			if h, _ := dir.Get(ctx, "hus"); h.NameFI != "HUS" || h.Active {
				t.Fatalf("a rerun overwrote an edited organisation: %+v", h)
			}
			if n, _ := db.Collection(Collection).CountDocuments(ctx, bson.D{{Key: "_id", Value: 2}}); n != 1 {
				t.Fatalf("migration 2 recorded %d times", n)
			}
		})
	}
}

func reportCounts(t *testing.T, s *account.Store) map[string]int {
	t.Helper()
	rows, err := s.LearnerRows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Organisation]++
	}
	return out
}
