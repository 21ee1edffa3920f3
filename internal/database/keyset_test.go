package database

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Paging through a collection by keyset, in every order the lists use
// (a string field with ties and missing values, ascending; a time field
// with missing values, descending; the tie-breaker alone), visits every
// row once, in the order one sorted read gives, whatever the page size;
// a filter narrows the pages; a forged or broken cursor is refused.
func TestKeysetPagesVisitEveryRowOnce(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "db"), Database: "tk"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	coll := db.Collection("rows")
	base := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	type row struct {
		ID   string     `bson:"_id"`
		Name *string    `bson:"name,omitempty"`
		At   *time.Time `bson:"at,omitempty"`
		Odd  bool       `bson:"odd"`
	}
	for i := range 47 {
		r := row{ID: fmt.Sprintf("r%02d", (i*17)%47), Odd: i%2 == 1}
		if i%7 != 0 {
			name := []string{"Aino", "Bertta", "Cecilia", "Aino"}[i%4] // ties
			r.Name = &name
		}
		if i%5 != 0 {
			at := base.Add(time.Duration(i%9) * time.Hour) // ties
			r.At = &at
		}
		if _, err := coll.InsertOne(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		ks     Keyset
		filter bson.D
		value  func(row) any
	}{
		{Keyset{Field: "name", Tie: "_id"}, bson.D{}, func(r row) any {
			if r.Name == nil {
				return nil
			}
			return *r.Name
		}},
		{Keyset{Field: "at", Desc: true, Tie: "_id"}, bson.D{}, func(r row) any { return r.At }},
		{Keyset{Field: "at", Desc: true, Tie: "_id"}, bson.D{{Key: "odd", Value: true}}, func(r row) any { return r.At }},
		{Keyset{Tie: "_id"}, bson.D{}, func(r row) any { return nil }},
	} {
		cur, err := coll.Find(ctx, c.filter, c.ks.Options(1000))
		if err != nil {
			t.Fatal(err)
		}
		var all []row
		if err := cur.All(ctx, &all); err != nil {
			t.Fatal(err)
		}
		ids := func(rows []row) []string {
			var out []string
			for _, r := range rows {
				out = append(out, r.ID)
			}
			return out
		}
		want := ids(all)
		for _, size := range []int{1, 4, 10, 46, 47, 100} {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > 60 {
					t.Fatalf("%+v size %d: the pages do not end", c.ks, size)
				}
				f, err := c.ks.Filter(c.filter, after)
				if err != nil {
					t.Fatal(err)
				}
				cur, err := coll.Find(ctx, f, c.ks.Options(size))
				if err != nil {
					t.Fatal(err)
				}
				var rows []row
				if err := cur.All(ctx, &rows); err != nil {
					t.Fatal(err)
				}
				page, next := Page(rows, size, func(r row) string { return CursorOf(c.value(r), r.ID) })
				if len(page) > size {
					t.Fatalf("a page of %d rows for size %d", len(page), size)
				}
				got = append(got, ids(page)...)
				if next == "" {
					break
				}
				after = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%+v filter %v size %d:\n got %v\nwant %v", c.ks, c.filter, size, got, want)
			}
		}
	}
	ks := Keyset{Field: "name", Tie: "_id"}
	for _, bad := range []string{"!!", base64.RawURLEncoding.EncodeToString([]byte(`{"s":"a","t":"2026-01-01T00:00:00Z","k":"x"}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"s":{"$ne":null},"k":"x"}`)), base64.RawURLEncoding.EncodeToString([]byte(`{"s":"a"}`))} {
		if _, err := ks.Filter(nil, bad); !errors.Is(err, ErrCursor) {
			t.Fatalf("cursor %q = %v", bad, err)
		}
	}
}
