package database

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// outOfDiskSpace is MongoDB's error code for a full disk.
const outOfDiskSpace = 14031

// IsNoSpace reports whether err is a write refused for lack of disk
// space: SQLite's "database or disk is full" as the embedded FerretDB
// passes it on, MongoDB's OutOfDiskSpace, or the system's ENOSPC text.
func IsNoSpace(err error) bool {
	if err == nil {
		return false
	}
	var se mongo.ServerError
	if errors.As(err, &se) && se.HasErrorCode(outOfDiskSpace) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "no space left on device")
}

// probePad is the probe's payload: 128 KiB, more than a saved answer
// and more than the space a write that failed for a full disk leaves
// allocated behind it (SQLite's write-ahead log keeps the frames it had
// written, and the next write reuses them).
var probePad = strings.Repeat("p", 128<<10)

// ProbeWrite makes one write of 128 KiB, to tell whether the store takes
// writes again after they failed for lack of space (reads go on working
// on a full disk, so a ping cannot tell).
func (db *DB) ProbeWrite(ctx context.Context) error {
	// The probe is larger than a saved answer: a tiny update can still fit
	// in pages the store has free when a real write no longer does.
	_, err := db.Collection("health").UpdateOne(ctx, bson.D{{Key: "_id", Value: "write-probe"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: time.Now().UTC()}, {Key: "pad", Value: probePad}}}}, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // two instances upserted at once
		return nil
	}
	return err
}
