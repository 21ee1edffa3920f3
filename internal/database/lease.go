package database

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Leases let one instance at a time do a job (a sweep, the schema
// migrations). A lease rests on inserts only, because a conditional update
// is no claim across instances on FerretDB v1 (see Collection):
//
//   - Each lease is a series of claim documents in the leases collection,
//     _id "name#generation". The holder of the highest generation owns the
//     lease until that claim's until.
//   - Taking a free lease (no claim yet, or the highest one has run out or
//     was released) inserts the next generation; renewing it inserts the
//     next generation too, by the holder. Two instances that race insert
//     the same _id, and the unique index lets exactly one of them in.
//   - After winning, the winner looks for a higher generation (a claim
//     inserted from a stale reading, after the generation it reused had
//     been cleaned up, loses there) and then deletes the generations
//     below its own.
//
// Holders must be unique (a random id per process and job); a holder's
// clock decides when its claim has run out, so the instances' clocks are
// assumed to agree within a small part of the lease's duration.
const leasesCollection = "leases"

// leaseClaim is one generation of a lease.
type leaseClaim struct {
	ID     string    `bson:"_id"` // name#gen
	Name   string    `bson:"name"`
	Gen    int64     `bson:"gen"`
	Holder string    `bson:"holder"`
	Until  time.Time `bson:"until"`
	// Released marks a claim inserted to end the holder's lease early.
	Released bool      `bson:"released,omitempty"`
	At       time.Time `bson:"at"`
}

func claimID(name string, gen int64) string { return name + "#" + strconv.FormatInt(gen, 10) }

// Lease takes the lease called name for holder until d from now, or
// renews it when holder holds it already. It reports false, without an
// error, when another holder has it.
func (db *DB) Lease(ctx context.Context, name, holder string, d time.Duration) (bool, error) {
	return db.takeLease(ctx, name, holder, d, false)
}

// Renew extends holder's lease to d from now. It reports false when
// holder does not hold the lease (any more): another holder has taken it
// over, or it was released.
func (db *DB) Renew(ctx context.Context, name, holder string, d time.Duration) (bool, error) {
	return db.takeLease(ctx, name, holder, d, true)
}

// Release ends holder's lease now, so that another holder need not wait
// for it to run out. Releasing a lease holder does not hold does nothing.
func (db *DB) Release(ctx context.Context, name, holder string) error {
	top, err := db.topClaim(ctx, name)
	if err != nil || top == nil || top.Holder != holder || top.Released {
		return err
	}
	now := time.Now().UTC()
	won, err := db.insertClaim(ctx, leaseClaim{Name: name, Gen: top.Gen + 1, Holder: holder, Until: now, Released: true, At: now})
	if won {
		db.forget(ctx, name, top.Gen+1)
	}
	return err
}

// forget deletes the generations of name below gen, which are history. A
// failure leaves them for the next winner to remove.
func (db *DB) forget(ctx context.Context, name string, gen int64) {
	_, _ = db.Collection(leasesCollection).DeleteMany(ctx, bson.D{{Key: "name", Value: name}, {Key: "gen", Value: bson.D{{Key: "$lt", Value: gen}}}})
}

// LeaseHolder tells who holds the lease called name and until when; an
// empty holder means the lease is free.
func (db *DB) LeaseHolder(ctx context.Context, name string) (string, time.Time, error) {
	top, err := db.topClaim(ctx, name)
	if err != nil || top == nil || top.Released || !top.Until.After(time.Now()) {
		return "", time.Time{}, err
	}
	return top.Holder, top.Until, nil
}

// AdoptLease records a lease that was taken outside these claims (by a
// version that kept leases elsewhere) as the first claim of name, so that
// it is respected until it runs out. A name that has claims already is
// left as it is (the claims are newer); adopting twice is adopting once.
func (db *DB) AdoptLease(ctx context.Context, name, holder string, until time.Time) error {
	top, err := db.topClaim(ctx, name)
	if err != nil || top != nil {
		return err
	}
	_, err = db.insertClaim(ctx, leaseClaim{Name: name, Gen: 1, Holder: holder, Until: until.UTC(), At: time.Now().UTC()})
	return err
}

func (db *DB) takeLease(ctx context.Context, name, holder string, d time.Duration, mustHold bool) (bool, error) {
	if name == "" || holder == "" {
		return false, errors.New("database: a lease needs a name and a holder")
	}
	now := time.Now().UTC()
	top, err := db.topClaim(ctx, name)
	if err != nil {
		return false, err
	}
	gen := int64(1)
	if top != nil {
		ours := top.Holder == holder && !top.Released
		if mustHold && !ours {
			return false, nil
		}
		if !ours && !top.Released && top.Until.After(now) {
			return false, nil // another holder has it
		}
		gen = top.Gen + 1
	} else if mustHold {
		return false, nil
	}
	return db.claimGen(ctx, name, holder, gen, now, d)
}

// claimGen inserts generation gen of name for holder and tells whether
// holder won the lease with it.
func (db *DB) claimGen(ctx context.Context, name, holder string, gen int64, now time.Time, d time.Duration) (bool, error) {
	won, err := db.insertClaim(ctx, leaseClaim{Name: name, Gen: gen, Holder: holder, Until: now.Add(d), At: now})
	if err != nil || !won {
		return false, err
	}
	// A generation above ours means ours was read from a stale view and
	// reused a generation that had been cleaned up: the higher one rules.
	var higher leaseClaim
	err = db.Collection(leasesCollection).FindOne(ctx, bson.D{{Key: "name", Value: name}, {Key: "gen", Value: bson.D{{Key: "$gt", Value: gen}}}}).Decode(&higher)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return false, fmt.Errorf("database: lease %s: %w", name, err)
	}
	db.forget(ctx, name, gen)
	return true, nil
}

// insertClaim inserts a claim: true when it went in, false when the
// generation was taken already.
func (db *DB) insertClaim(ctx context.Context, c leaseClaim) (bool, error) {
	c.ID = claimID(c.Name, c.Gen)
	_, err := db.Collection(leasesCollection).InsertOne(ctx, c)
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("database: lease %s: %w", c.Name, err)
	}
	return true, nil
}

// topClaim is the highest generation of name, nil when it has none.
func (db *DB) topClaim(ctx context.Context, name string) (*leaseClaim, error) {
	var c leaseClaim
	err := db.Collection(leasesCollection).FindOne(ctx, bson.D{{Key: "name", Value: name}}, options.FindOne().SetSort(bson.D{{Key: "gen", Value: -1}})).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("database: lease %s: %w", name, err)
	}
	return &c, nil
}
