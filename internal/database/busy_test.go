package database

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestALockedStoreIsBusy holds SQLite's write lock from outside FerretDB
// past its busy timeout: the write that waited fails, IsBusy says so, and
// nothing of it was written; once the lock is let go the same write
// succeeds.
func TestALockedStoreIsBusy(t *testing.T) {
	ctx := context.Background()
	db, dir := openEmbedded(t)
	c := db.Collection("things")
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, dir)
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, err := c.UpdateByID(ctx, "a", bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 2}}}})
	if _, rerr := conn.ExecContext(ctx, "ROLLBACK"); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil || !IsBusy(err) {
		t.Fatalf("a write behind a held lock = %v; want an error IsBusy knows", err)
	}
	var got struct{ N int }
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil || got.N != 1 {
		t.Fatalf("after the refused write: %+v, %v", got, err)
	}
	if _, err := c.UpdateByID(ctx, "a", bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 2}}}}); err != nil {
		t.Fatalf("the same write once the lock is free: %v", err)
	}
}

func TestIsBusy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("duplicate key"), false},
		{context.Canceled, false},
		{fmt.Errorf("save: %w", ctx.Err()), false}, // a request's own deadline
		{errors.New("timed out while checking out a connection from connection pool: context deadline exceeded"), true},
		{errors.New("(InternalError) [sqlite.go:110 sqlite.(*collection).UpdateAll] database is locked (5) (SQLITE_BUSY)"), true},
	} {
		if got := IsBusy(tc.err); got != tc.want {
			t.Errorf("IsBusy(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
