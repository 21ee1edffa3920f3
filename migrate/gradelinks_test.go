package migrate

import (
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Grade links kept by registration|user|resource get their line item's
// hash in their _id, with everything else as it was; a link of the new
// shape is left alone; a crash between an insert and its delete resumes
// to the same end.
func TestGradeLinksByLineItem(t *testing.T) {
	for _, step := range []string{"", "migrate/3/inserted"} {
		t.Run("crash at "+step, func(t *testing.T) {
			ctx := t.Context()
			db := env.Database()
			links := db.Collection("lti_grade_links")
			old := []any{
				bson.D{{Key: "_id", Value: "reg1|u1|course"}, {Key: "user_id", Value: "u1"}, {Key: "lineitem", Value: "https://lms.example.fi/ags/1/lineitems/7"}, {Key: "posted", Value: "50/100"}},
				bson.D{{Key: "_id", Value: "reg1|u2|exam"}, {Key: "user_id", Value: "u2"}, {Key: "lineitem", Value: "https://lms.example.fi/ags/1/lineitems/8"}},
				bson.D{{Key: "_id", Value: "reg1|u3|course|0011223344556677"}, {Key: "user_id", Value: "u3"}, {Key: "lineitem", Value: "https://lms.example.fi/x"}},
			}
			if _, err := links.InsertMany(ctx, old); err != nil {
				t.Fatal(err)
			}
			if step != "" {
				crashAt(t, step, 2, func() { gradeLinksByLineItem(ctx, db) })
			}
			if err := gradeLinksByLineItem(ctx, db); err != nil {
				t.Fatal(err)
			}
			cur, err := links.Find(ctx, bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			var got []bson.M
			if err := cur.All(ctx, &got); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range got {
				ids = append(ids, d["_id"].(string))
				if d["_id"] == "reg1|u1|course|0a32aa62db4c04a9" && d["posted"] != "50/100" {
					t.Errorf("the moved link lost its fields: %v", d)
				}
			}
			slices.Sort(ids)
			// The hashes are those of lti.GradeLinkKey (the first 8
			// bytes of the line item's SHA-256).
			want := []string{"reg1|u1|course|0a32aa62db4c04a9", "reg1|u2|exam|8b53cc5f16decdb8", "reg1|u3|course|0011223344556677"}
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Fatalf("links %v, want %v", ids, want)
			}
		})
	}
}
