package migrate

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
)

// seededOrganisation is one of the 23 organisations accounts chose from
// a list in Go (account.Organisations) before the directory: its short
// code, its names and the name the accounts stored.
type seededOrganisation struct{ code, fi, sv string }

// seeded is that list as migration 2 writes it. It is this migration's
// own copy: the directory may rename them later, the migration must go on
// writing what it wrote.
var seeded = []seededOrganisation{
	{"etela-karjala", "Etelä-Karjalan hyvinvointialue", "Södra Karelens välfärdsområde"},
	{"etela-pohjanmaa", "Etelä-Pohjanmaan hyvinvointialue", "Södra Österbottens välfärdsområde"},
	{"etela-savo", "Etelä-Savon hyvinvointialue", "Södra Savolax välfärdsområde"},
	{"ita-uusimaa", "Itä-Uudenmaan hyvinvointialue", "Östra Nylands välfärdsområde"},
	{"kainuu", "Kainuun hyvinvointialue", "Kajanalands välfärdsområde"},
	{"kanta-hame", "Kanta-Hämeen hyvinvointialue", "Egentliga Tavastlands välfärdsområde"},
	{"keski-pohjanmaa", "Keski-Pohjanmaan hyvinvointialue", "Mellersta Österbottens välfärdsområde"},
	{"keski-suomi", "Keski-Suomen hyvinvointialue", "Mellersta Finlands välfärdsområde"},
	{"keski-uusimaa", "Keski-Uudenmaan hyvinvointialue", "Mellersta Nylands välfärdsområde"},
	{"kymenlaakso", "Kymenlaakson hyvinvointialue", "Kymmenedalens välfärdsområde"},
	{"lappi", "Lapin hyvinvointialue", "Lapplands välfärdsområde"},
	{"lansi-uusimaa", "Länsi-Uudenmaan hyvinvointialue", "Västra Nylands välfärdsområde"},
	{"pirkanmaa", "Pirkanmaan hyvinvointialue", "Birkalands välfärdsområde"},
	{"pohjanmaa", "Pohjanmaan hyvinvointialue", "Österbottens välfärdsområde"},
	{"pohjois-karjala", "Pohjois-Karjalan hyvinvointialue", "Norra Karelens välfärdsområde"},
	{"pohjois-pohjanmaa", "Pohjois-Pohjanmaan hyvinvointialue", "Norra Österbottens välfärdsområde"},
	{"pohjois-savo", "Pohjois-Savon hyvinvointialue", "Norra Savolax välfärdsområde"},
	{"paijat-hame", "Päijät-Hämeen hyvinvointialue", "Päijänne-Tavastlands välfärdsområde"},
	{"satakunta", "Satakunnan hyvinvointialue", "Satakunta välfärdsområde"},
	{"vantaa-kerava", "Vantaan ja Keravan hyvinvointialue", "Vanda och Kervo välfärdsområde"},
	{"varsinais-suomi", "Varsinais-Suomen hyvinvointialue", "Egentliga Finlands välfärdsområde"},
	{"helsinki", "Helsingin kaupunki", "Helsingfors stad"},
	{"hus", "HUS-yhtymä", "HUS-sammanslutningen"},
}

// organisationRecords (2): organisations become records in the
// organisations collection (package org) instead of names in Go. The 23
// organisations of the old list are written with their short codes as
// _id (a new database gets them on its first start too), each carrying
// the old name as legacy; then every account whose organisation is one of
// those names gets org_id, the code. The organisation field keeps the
// name, so the reports, which group by it, see the same learners before
// and after. Accounts of "muu" (free text) get no org_id.
//
// Rerun after a crash anywhere: an organisation already written is left as
// it is (its insert is refused by _id, and an administrator may have
// changed it since), and only accounts without org_id are linked.
func organisationRecords(ctx context.Context, db *database.DB) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	orgs := db.Collection("organisations")
	for _, s := range seeded {
		_, err := orgs.InsertOne(ctx, bson.D{{Key: "_id", Value: s.code}, {Key: "name_fi", Value: s.fi}, {Key: "name_sv", Value: s.sv},
			{Key: "domains", Value: bson.A{}}, {Key: "active", Value: true}, {Key: "legacy", Value: s.fi}, {Key: "created_at", Value: now}})
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("writing organisation %s: %w", s.code, err)
		}
	}
	crashpoint.Reach("migrate/2/organisations-written")
	users := db.Collection("users")
	for _, s := range seeded {
		_, err := users.UpdateMany(ctx, bson.D{{Key: "organisation", Value: s.fi}, {Key: "org_id", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "org_id", Value: s.code}}}})
		if err != nil {
			return fmt.Errorf("linking the accounts of %s: %w", s.code, err)
		}
	}
	return nil
}
