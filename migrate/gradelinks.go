package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
)

// gradeLinksByLineItem (3): an LTI grade link (lti_grade_links) was kept
// by registration|user|resource, so a resource placed in two courses of
// one platform kept only the line item launched last, and the other
// gradebook stopped getting scores. Its _id now ends with a short hash of
// the line item (the first 8 bytes of its SHA-256, in hex), as
// lti.GradeLinkKey makes it. Each old document is inserted under its new
// _id and then deleted. Rerun after a crash anywhere: an insert that finds
// the new _id taken (written before the crash) goes on to the delete, and
// documents with four parts are left alone.
func gradeLinksByLineItem(ctx context.Context, db *database.DB) error {
	links := db.Collection("lti_grade_links")
	cur, err := links.Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	var old []bson.D
	if err := cur.All(ctx, &old); err != nil {
		return err
	}
	for _, d := range old {
		var id, lineItem string
		for _, e := range d {
			switch e.Key {
			case "_id":
				id, _ = e.Value.(string)
			case "lineitem":
				lineItem, _ = e.Value.(string)
			}
		}
		if strings.Count(id, "|") != 2 {
			continue // the new shape already
		}
		sum := sha256.Sum256([]byte(lineItem))
		moved := make(bson.D, 0, len(d))
		for _, e := range d {
			if e.Key == "_id" {
				e.Value = id + "|" + hex.EncodeToString(sum[:8])
			}
			moved = append(moved, e)
		}
		if _, err := links.InsertOne(ctx, moved); err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("grade link %s: %w", id, err)
		}
		crashpoint.Reach("migrate/3/inserted")
		if _, err := links.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
			return fmt.Errorf("grade link %s: %w", id, err)
		}
	}
	return nil
}
