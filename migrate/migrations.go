package migrate

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
)

// All is the registry: every migration, in the order they are applied.
// Append only: a released migration is never changed, renumbered or
// removed (databases record it by its ID), and a new one gets the next
// ID. Each says in its comment what it changes and why.
func All() []Migration {
	return []Migration{
		{ID: 1, Name: "job leases become claims", Up: leaseClaims},
		{ID: 2, Name: "organisations become records", Up: organisationRecords},
		{ID: 3, Name: "LTI grade links are kept by line item", Up: gradeLinksByLineItem},
		{ID: 4, Name: "offline answers: device heads, receipts without texts", Up: syncHeads},
		{ID: 5, Name: "accounts are found by address through keys", Up: userEmails},
	}
}

// leaseClaims (1): until this migration, account.Lease kept each job's
// lease (retention, reminders) as one document in the jobs collection,
// {_id: job, until, holder}, and took an expired one over with a
// conditional update, which FerretDB v1 does not make atomic across
// instances. Leases are now claims in the leases collection that rest on
// inserts (database.DB.Lease), and nothing reads jobs any more.
//
// A lease that has not run out is carried over as its job's first claim,
// so that the instance holding it keeps it until it ends; one that has
// run out is dropped (a lease lasts minutes, and a free job is free in
// both shapes). Then the jobs collection is dropped. Rerun after a crash
// anywhere: carrying over is done once per job (a job with claims is left
// alone) and dropping a dropped collection does nothing.
func leaseClaims(ctx context.Context, db *database.DB) error {
	jobs := db.Collection("jobs")
	cur, err := jobs.Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	var old []bson.M
	if err := cur.All(ctx, &old); err != nil {
		return err
	}
	now := time.Now()
	for _, d := range old {
		job, _ := d["_id"].(string)
		holder, _ := d["holder"].(string)
		until, ok := d["until"].(bson.DateTime)
		if job == "" || holder == "" || !ok || !until.Time().After(now) {
			continue // run out, or not a lease: nothing to keep
		}
		if err := db.AdoptLease(ctx, job, holder, until.Time()); err != nil {
			return fmt.Errorf("carrying the lease of %s over: %w", job, err)
		}
	}
	crashpoint.Reach("migrate/1/claims-written")
	if err := jobs.Drop(ctx); err != nil {
		return fmt.Errorf("dropping jobs: %w", err)
	}
	return nil
}
